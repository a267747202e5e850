"""The service's environment, read once at start; a malformed value stops the process there."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from yolo_stream.detection import Backend, DetectorConfig, OpenVinoPrecision, Provider
from yolo_stream.detection.model_files import parse_names
from yolo_stream.shard_consumer import DECODE_AHEAD


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    stream_name: str = Field(min_length=1)
    checkpoint_table: str = Field(min_length=1)
    frames_bucket: str = Field(min_length=3)
    results_queue_url: str = Field(min_length=1)

    yolo_model: str = Field(min_length=1)
    yolo_backend: Backend = "auto"
    yolo_provider: Provider = "auto"
    yolo_model_int8: str | None = None  # default: <YOLO_MODEL>.int8.onnx
    yolo_model_openvino_int8: str | None = None  # default: <YOLO_MODEL>.int8.xml
    openvino_precision: OpenVinoPrecision = "auto"  # f32: no bfloat16 even where the CPU has it
    yolo_class_names: str | None = None  # "person,car" or "{0: 'person'}"; else model metadata
    confidence_threshold: float = Field(default=0.25, ge=0, le=1)
    iou_threshold: float = Field(default=0.7, ge=0, le=1)
    max_detections: int = Field(default=300, ge=1, le=3000)
    img_size: int = Field(default=640, ge=32, le=4096)
    letterbox: Literal["rect", "square"] = "rect"
    threads: int = Field(default=1, ge=1, le=64)
    thread_spinning: bool = False  # ONNX Runtime's busy-waiting pool threads (see DetectorConfig)
    jpeg_quality: int = Field(default=85, ge=10, le=100)

    poll_interval_seconds: float = Field(default=1.0, ge=0, le=60)
    max_records_per_call: int = Field(default=100, ge=1, le=10000)
    shard_refresh_seconds: float = Field(default=30.0, gt=0)
    start_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    lease_seconds: float = Field(default=60.0, gt=0)
    # Attempts at one record (errors other than outages, or crashes) before it is published as a
    # frame-level video.failed and the shard moves past it.
    max_record_attempts: int = Field(default=3, ge=1, le=100)
    # Records parsed, fetched and decoded on their own thread ahead of the one in inference
    # (0: on the inference thread, one after the other). Unset: 2 while inference leaves a CPU
    # free (THREADS below the task's CPUs), else 0: with every CPU in inference the decode thread
    # only competes with it (bench/README.md: 2 threads on 2 vCPU, 0.72 of the model-only bound
    # inline against 0.60 ahead).
    decode_ahead: int | None = Field(default=None, ge=0, le=16)
    worker_id: str | None = None  # defaults to host:pid
    port: int = Field(default=8080, ge=0, le=65535)

    @field_validator("img_size")
    @classmethod
    def _stride_multiple(cls, value: int) -> int:
        if value % 32:
            raise ValueError("IMG_SIZE must be a multiple of 32 (the YOLO stride)")
        return value

    def decode_ahead_records(self, cpus: int | None = None) -> int:
        if self.decode_ahead is not None:
            return self.decode_ahead
        cpus = cpus if cpus is not None else len(os.sched_getaffinity(0))
        return DECODE_AHEAD if self.threads < cpus else 0

    def detector_config(self) -> DetectorConfig:
        return DetectorConfig(
            model_path=self.yolo_model,
            backend=self.yolo_backend,
            provider=self.yolo_provider,
            int8_model_path=self.yolo_model_int8,
            openvino_int8_model_path=self.yolo_model_openvino_int8,
            openvino_precision=self.openvino_precision,
            conf_threshold=self.confidence_threshold,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            img_size=self.img_size,
            threads=self.threads,
            thread_spinning=self.thread_spinning,
            rect=self.letterbox == "rect",
            class_names=self.class_names(),
        )

    def class_names(self) -> dict[int, str] | None:
        raw = (self.yolo_class_names or "").strip()
        if not raw:
            return None
        return parse_names(raw) or dict(enumerate(n.strip() for n in raw.split(",")))
