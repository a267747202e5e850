"""The grayscale container task: one S3 image in, one grayscale image out, one metrics message.

Stages (each timed and reported): download -> decode -> convert (native kernel) -> encode ->
upload, then the ``ImageProcessingResult`` message on ``ImageProcessingQueue``.
"""
