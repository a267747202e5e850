"""Supervisor: lists the stream's shards periodically and keeps one consumer thread per shard."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from pipeline_common import aws
from pipeline_common.observability import logger
from yolo_stream.checkpoints import CheckpointStore, shard_key
from yolo_stream.detection import Detector
from yolo_stream.frame_processor import FrameProcessor
from yolo_stream.service_stats import ServiceStats
from yolo_stream.settings import Settings
from yolo_stream.shard_consumer import ShardConsumer


class YoloStreamService:
    def __init__(self, settings: Settings, detector: Detector) -> None:
        self.settings = settings
        self.detector = detector
        self.stats = ServiceStats()
        self._stop = threading.Event()
        self._kinesis = aws.client("kinesis")
        self._dynamodb = aws.client("dynamodb")
        owner = settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.store = CheckpointStore(
            self._dynamodb, settings.checkpoint_table, owner, settings.lease_seconds
        )
        self.processor = FrameProcessor(
            detector=detector,
            s3=aws.client("s3"),
            sqs=aws.client("sqs"),
            frames_bucket=settings.frames_bucket,
            results_queue_url=settings.results_queue_url,
            jpeg_quality=settings.jpeg_quality,
        )
        self._consumers: dict[str, ShardConsumer] = {}
        self._finished: set[str] = set()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self.last_refresh: float | None = None
        self.refresh_error: str | None = None

    def start(self) -> None:
        self._supervisor.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._supervisor.join(timeout)
        for consumer in list(self._consumers.values()):
            consumer.join(timeout)

    def healthy(self) -> bool:
        """Model loaded, supervisor alive and the shard list refreshed recently."""
        if self._stop.is_set() or not self._supervisor.is_alive():
            return False
        if self.last_refresh is None:
            return True  # still starting: the ALB's grace period covers the first refresh
        return time.monotonic() - self.last_refresh < 3 * self.settings.shard_refresh_seconds + 30

    def status(self) -> dict[str, Any]:
        return {
            "model": self.detector.model_id,
            "backend": self.settings.yolo_backend,
            "stream": self.settings.stream_name,
            "worker": self.store.owner,
            "consumers_alive": sum(c.is_alive() for c in self._consumers.values()),
            "shard_list_error": self.refresh_error,
            **self.stats.snapshot(),
        }

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh_shards()
                self.last_refresh = time.monotonic()
                self.refresh_error = None
            except Exception as exc:  # keep supervising: a stream may appear or recover later
                self.refresh_error = f"{type(exc).__name__}: {exc}"
                logger.exception("listing shards failed")
            self._stop.wait(self.settings.shard_refresh_seconds)

    def _refresh_shards(self) -> None:
        shards = self._list_shards()
        listed = {s["ShardId"] for s in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            consumer = self._consumers.get(shard_id)
            if consumer is not None and consumer.finished:
                self._finished.add(shard_id)
            if shard_id in self._finished or (consumer is not None and consumer.is_alive()):
                continue
            parent = shard.get("ParentShardId")
            if parent and parent in listed and not self._parent_done(parent):
                continue  # a child waits for its parent so one video's frames stay in order
            consumer = ShardConsumer(
                stream_name=self.settings.stream_name,
                shard_id=shard_id,
                kinesis=self._kinesis,
                store=self.store,
                processor=self.processor,
                stats=self.stats,
                stop=self._stop,
                start_position=self.settings.start_position,
                max_records=self.settings.max_records_per_call,
                poll_interval=self.settings.poll_interval_seconds,
                renew_every=self.settings.lease_seconds / 3,
            )
            self._consumers[shard_id] = consumer
            consumer.start()

    def _parent_done(self, parent: str) -> bool:
        if parent in self._finished:
            return True
        item = self._dynamodb.get_item(
            TableName=self.settings.checkpoint_table,
            Key={"shard_key": {"S": shard_key(self.settings.stream_name, parent)}},
        ).get("Item", {})
        return bool(item.get("shard_end", {}).get("BOOL", False))

    def _list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamName": self.settings.stream_name}
        while True:
            page = self._kinesis.list_shards(**kwargs)
            shards.extend(page["Shards"])
            token = page.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}
