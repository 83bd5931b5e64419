"""Backends: where faces and emotion scores come from, the local models (:mod:`.local`) or
Amazon Rekognition (:mod:`.rekognition`), behind one protocol (:mod:`.protocol`)."""
