"""Galleries: who is enrolled, and matching faces to their names.

:mod:`.interface` is the interface (:class:`Gallery`, :class:`Photo`, :class:`Matches`),
:mod:`.sqlite` the local file of dlib embeddings, :mod:`.collection` an Amazon Rekognition
face collection, :mod:`.enroll` enrolment from a folder of photos, and :mod:`.open` the
factory (:func:`open_gallery`) above its implementations.
"""

from .interface import GALLERY_ENV, Enrolled, Gallery, Matches, Photo, default_gallery_path
from .open import open_gallery

__all__ = [
    "GALLERY_ENV",
    "Enrolled",
    "Gallery",
    "Matches",
    "Photo",
    "default_gallery_path",
    "open_gallery",
]
