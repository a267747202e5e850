"""Frame extractor: decodes one video from S3, samples frames, puts them on VideoFrameStream."""
