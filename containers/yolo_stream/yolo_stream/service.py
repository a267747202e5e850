"""Supervisor: lists the stream's shards periodically, keeps this task's fair share of the shard
leases (KCL-style, see ``_balance``) and one consumer thread per leased shard.

Scaling out: every pass (a third of ``LEASE_SECONDS``) each task writes its heartbeat to the
worker registry in the checkpoint table and counts the live workers (heartbeats not expired, plus
the owners of unexpired leases, for tasks of an older version). A task under its fair share takes
unowned and expired leases; one above it gives leases back at a checkpoint boundary. Going from
one task to two on a 4-shard stream thus ends at 2 + 2 within one lease period; a stopped task
releases its leases and leaves the registry at once, a killed one's expire after
``LEASE_SECONDS``. With more tasks than ``ceil`` allows (4 shards, 3 tasks: 2 + 2 + 0) the spare
task idles, as with the KCL. Delivery stays at-least-once; a replay after a kill is made harmless
by the FIFO deduplication id (``<video>:<frame>``)."""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections import Counter
from typing import Any

from pipeline_common import aws
from pipeline_common.observability import logger
from yolo_stream.checkpoints import CheckpointStore, shard_key
from yolo_stream.detection import Detector
from yolo_stream.errors import short_error
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
        self.balance_error: str | None = None
        self.balance: dict[str, int] = {}
        self._shards: list[dict[str, Any]] | None = None
        # Heartbeats and balancing every third of a lease: a live worker never looks expired.
        self._tick = min(settings.shard_refresh_seconds, settings.lease_seconds / 3)

    def start(self) -> None:
        self._supervisor.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the records in hand, release every lease and leave the worker registry."""
        self._stop.set()
        self._supervisor.join(timeout)
        for consumer in list(self._consumers.values()):
            consumer.join(timeout)
        try:
            self.store.unregister(self.settings.stream_name)
        except Exception:  # the heartbeat expires on its own
            logger.exception("leaving the worker registry failed")

    def healthy(self) -> bool:
        """Model loaded, supervisor alive and the shard list refreshed recently."""
        if self._stop.is_set() or not self._supervisor.is_alive():
            return False
        if self.last_refresh is None:
            return True  # still starting: the ALB's grace period covers the first refresh
        return time.monotonic() - self.last_refresh < 3 * self.settings.shard_refresh_seconds + 30

    def status(self) -> dict[str, Any]:
        # a copy: the supervisor thread adds consumers while the HTTP thread reads
        leased = sorted(s for s, c in list(self._consumers.items()) if c.is_alive())
        return {
            "model": self.detector.model_id,
            "backend": self.detector.backend,
            "backend_setting": self.settings.yolo_backend,
            "stream": self.settings.stream_name,
            "worker": self.store.owner,
            "consumers_alive": len(leased),
            "leased_shards": leased,
            **self.balance,
            "shard_list_error": self.refresh_error,
            "balance_error": self.balance_error,
            **self.stats.snapshot(),
        }

    def _supervise(self) -> None:
        listed_at: float | None = None
        while not self._stop.is_set():
            if (
                listed_at is None
                or time.monotonic() - listed_at >= self.settings.shard_refresh_seconds
            ):
                try:
                    self._shards = self._list_shards()
                    listed_at = self.last_refresh = time.monotonic()
                    self.refresh_error = None
                except Exception as exc:  # keep supervising: a stream may appear or recover later
                    self.refresh_error = short_error(exc)
                    logger.exception("listing shards failed")
            wait = self._tick
            if self._shards is not None:
                try:
                    if self._balance(self._shards):
                        wait = self._tick / 4
                    self.balance_error = None
                except Exception as exc:  # the leases keep their owners until the next pass
                    self.balance_error = short_error(exc)
                    logger.exception("balancing shard leases failed")
            self._stop.wait(wait)

    def _balance(self, shards: list[dict[str, Any]]) -> bool:
        """One pass of the KCL-style balancer: heartbeat, count live workers, then take free or
        expired leases up to the fair share ``ceil(consumable shards / workers)``, or give back
        the leases above it (each at a checkpoint boundary, so nothing is lost or repeated).
        True when this task is still under its share: the next pass comes sooner."""
        stream = self.settings.stream_name
        self.store.heartbeat(stream)
        listed = {s["ShardId"]: s for s in shards}
        for shard_id, consumer in self._consumers.items():
            if consumer.finished:
                self._finished.add(shard_id)
        views = {}
        for shard_id in listed:
            if shard_id in self._finished:
                continue
            view = self.store.view(shard_key(stream, shard_id))
            if view.shard_end:
                self._finished.add(shard_id)
            else:
                views[shard_id] = view
        now = time.time()
        # Consumable: not drained yet, and every parent (both for a merge) already at SHARD_END,
        # so one video's frames stay in order across a split or a merge.
        active = [sid for sid in views if self._parents_done(listed[sid], listed)]
        owners = {v.owner for v in views.values() if v.held(now) and v.owner}
        workers = self.store.live_workers(stream) | owners | {self.store.owner}
        target = math.ceil(len(active) / len(workers)) if active else 0
        running = {sid for sid, c in self._consumers.items() if c.is_alive()}
        # (a consumer still running on a shard already at SHARD_END is leaving: not counted)
        mine = sorted(sid for sid in running if sid in views and not self._consumers[sid].releasing)
        self.balance = {"workers": len(workers), "fair_share": target, "leases": len(mine)}
        if len(mine) > target:
            for shard_id in mine[target:]:
                logger.info(
                    "giving a shard lease back",
                    extra={"shard_id": shard_id, "workers": len(workers), "fair_share": target},
                )
                self._consumers[shard_id].release_lease()
            return False
        free = [
            sid
            for sid in active
            if sid not in running
            and (not views[sid].held(now) or views[sid].owner == self.store.owner)
        ]
        for shard_id in free[: target - len(mine)]:
            self._start_consumer(listed[shard_id])
        # Still short with nothing free: if a peer holds more than its share, it is giving
        # leases back right now, so the next pass comes sooner (else 2 + 2 + 0 is final).
        held = Counter(v.owner for v in views.values() if v.held(now))
        return len(mine) + len(free) < target and max(held.values(), default=0) > target

    def _start_consumer(self, shard: dict[str, Any]) -> None:
        shard_id = shard["ShardId"]
        has_parent = bool(shard.get("ParentShardId") or shard.get("AdjacentParentShardId"))
        consumer = ShardConsumer(
            stream_name=self.settings.stream_name,
            shard_id=shard_id,
            kinesis=self._kinesis,
            store=self.store,
            processor=self.processor,
            stats=self.stats,
            stop=self._stop,
            # A child shard continues its parents' records: from its first record, whatever
            # START_POSITION says about a stream read for the first time.
            start_position="TRIM_HORIZON" if has_parent else self.settings.start_position,
            max_records=self.settings.max_records_per_call,
            poll_interval=self.settings.poll_interval_seconds,
            renew_every=self.settings.lease_seconds / 3,
            max_attempts=self.settings.max_record_attempts,
            decode_ahead=self.settings.decode_ahead_records(),
        )
        self._consumers[shard_id] = consumer
        consumer.start()

    def _parents_done(self, shard: dict[str, Any], listed: dict[str, Any]) -> bool:
        for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")):
            # A parent no longer listed is past retention: nothing of it is left to read.
            if parent and parent in listed and parent not in self._finished:
                return False
        return True

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
