"""Measure the models on your own labelled data (``feelinvideo evaluate``), as Py-Feat and
DeepFace publish benchmarks: emotion accuracy on a ``DIR/<emotion>/`` folder
(:mod:`.emotions`) and naming accuracy on a ``DIR/<person>/`` folder (:mod:`.identity`)."""

from .emotions import EmotionEvaluation, evaluate_emotions
from .identity import IdentityEvaluation, evaluate_identity

__all__ = ["EmotionEvaluation", "IdentityEvaluation", "evaluate_emotions", "evaluate_identity"]
