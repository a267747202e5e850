"""YOLO stream service: consumes VideoFrameStream, detects objects, writes results (S2.3)."""
