"""Engines run lists of segment tasks (:class:`feelinvideo.runs.task.SegmentTask`): in this
process or in worker processes (:mod:`.processes`), or on a Ray cluster (:mod:`.ray`). Each
has ``run(tasks, on_time=None) -> Iterator[(task, SegmentResult | error)]`` in the order the
tasks finish; a task's FeelinvideoError or ValueError is handed back, not raised.

An engine knows nothing of what a task computes: it builds (once per process) the backend
and gallery the task's specs name, and calls ``task.run(backend, gallery, advance)``.
Engines are made by :class:`feelinvideo.specs.EngineSpec`.
"""
