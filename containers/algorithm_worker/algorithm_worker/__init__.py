"""Algorithm worker: takes DICOM jobs from one algorithm's FIFO request queue and runs them.

One image, one ECS service per algorithm id (``ALGO_ID``); algorithms are plugins registered in
``algorithm_worker.algorithms.REGISTRY``.
"""
