"""The polling loop: one message at a time, from receipt to delete, with a clean SIGTERM stop.

With ``JOB_CONCURRENCY`` above 1, that many loops run side by side on their own threads (the
main thread is one of them), each taking one message at a time. What they share is made safe
for it: the memory budget is split between them, each job's log keys belong to its thread,
metrics are added and flushed under a lock, and a stop releases every message still in flight
once the grace period is over.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from algorithm_worker.algorithms import Algorithm
from algorithm_worker.errors import InvalidJobMessage, JobInputError
from algorithm_worker.heartbeat import VisibilityHeartbeat
from algorithm_worker.jobs_table import JobsTable
from algorithm_worker.memory_budget import MemoryBudget
from algorithm_worker.pacs_client import PacsClient
from algorithm_worker.pipeline import JobRunner, failed_result
from algorithm_worker.publisher import ResultPublisher
from algorithm_worker.settings import WorkerSettings
from pipeline_common import aws
from pipeline_common.contracts.jobs import JobMessage, JobResult
from pipeline_common.observability import logger, metrics

_T = TypeVar("_T")


@dataclass
class _Timeline:
    """Durations of the worker's own steps around a job's run (claim, finish, publish...)."""

    durations_ms: dict[str, float] = field(default_factory=dict)
    published_at: float | None = None

    def measure(self, step: str, work: Callable[[], _T]) -> _T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.durations_ms[step] = round((time.perf_counter() - started) * 1000, 3)


class _StopPolling(BaseException):
    """Raised by the signal handler to cut a long poll short (BaseException: botocore's retry
    logic catches Exception and must not swallow it)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one message (for logs and tests)."""

    action: str  # "done", "failed", "skipped", "retry", "poison"
    job_id: str | None = None
    detail: str | None = None


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        algorithm: Algorithm,
        *,
        sqs: Any | None = None,
        runner: JobRunner | None = None,
        table: JobsTable | None = None,
        publisher: ResultPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.sqs = sqs or aws.client("sqs")
        self.runner = runner or JobRunner(
            algorithm=algorithm,
            pacs=PacsClient(
                settings.pacs_api_url,
                timeout_seconds=settings.http_timeout_seconds,
                max_instance_bytes=settings.max_instance_bytes,
            ),
            s3=aws.client("s3"),
            output_bucket=settings.output_bucket,
            max_series_instances=settings.max_series_instances,
            download_concurrency=settings.download_concurrency,
            budget=(
                MemoryBudget(
                    settings.task_memory_mib,
                    settings.memory_reserved_mib,
                    shares=settings.job_concurrency,
                )
                if settings.task_memory_mib is not None
                else None
            ),
            concurrent_jobs=settings.job_concurrency,
        )
        self.table = table or JobsTable(
            aws.client("dynamodb"), settings.jobs_table, settings.job_ttl_days
        )
        self.publisher = publisher or ResultPublisher(aws.client("sns"), settings.results_topic_arn)
        self.stopping = threading.Event()
        # Per polling thread: whether it is in a receive, and when its message arrived.
        self._thread = threading.local()
        # Receipt handle of the message each polling thread is working on, by thread id.
        self._in_flight: dict[int, str] = {}
        self._in_flight_lock = threading.Lock()
        self._metrics_lock = threading.Lock()
        self._abandon_timer: threading.Timer | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        """Poll until SIGTERM/SIGINT; returns the process exit code (0)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        logger.info(
            "worker started",
            extra={
                "algo_id": self.settings.algo_id,
                "job_concurrency": self.settings.job_concurrency,
            },
        )
        # The other loops are daemon threads: one still in a receive when the process ends is
        # cut short, as the main thread's is by the signal.
        for number in range(1, self.settings.job_concurrency):
            threading.Thread(target=self._poll_loop, name=f"poll-{number}", daemon=True).start()
        self._poll_loop()
        # Stopped: the jobs other threads are running finish (or the grace timer releases their
        # messages and ends the process).
        while self._in_flight:
            time.sleep(0.05)
        logger.info("worker stopped", extra={"algo_id": self.settings.algo_id})
        return 0

    def _poll_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except _StopPolling:
                break
            except Exception:  # the loop outlives any one failure; the message comes back
                logger.exception("unexpected error while polling")
                time.sleep(1)

    def _on_signal(self, signum: int, _frame: object) -> None:
        logger.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self.stopping.set()
        if self._in_flight and self._abandon_timer is None:
            # The jobs may finish; those that cannot within the grace period give their
            # messages back.
            self._abandon_timer = threading.Timer(
                self.settings.shutdown_grace_seconds, self._abandon_jobs_in_flight
            )
            self._abandon_timer.daemon = True
            self._abandon_timer.start()
        if getattr(self._thread, "polling", False):  # signals run on the main thread
            raise _StopPolling

    def _abandon_jobs_in_flight(self) -> None:
        with self._in_flight_lock:
            receipts = list(self._in_flight.values())
        for receipt in receipts:
            try:
                self._release(receipt)
                logger.warning("job abandoned at shutdown; its message is visible again")
            except Exception:
                logger.exception("could not release the message at shutdown")
        os._exit(0)

    # -- one message -----------------------------------------------------------------------

    def poll_once(self) -> Outcome | None:
        self._thread.polling = True
        try:
            if self.stopping.is_set():
                return None
            response = self.sqs.receive_message(
                QueueUrl=self.settings.request_queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=self.settings.wait_time_seconds,
                VisibilityTimeout=self.settings.visibility_timeout_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        finally:
            self._thread.polling = False
        messages = response.get("Messages", [])
        if not messages:
            return None
        message = messages[0]
        self._thread.received_at = time.time()
        if self.stopping.is_set():
            # Received as the worker was stopping (another thread's receive): not started.
            self._release(message["ReceiptHandle"])
            return None
        me = threading.get_ident()
        with self._in_flight_lock:
            self._in_flight[me] = message["ReceiptHandle"]
        try:
            outcome = self.handle(message)
        finally:
            with self._in_flight_lock:
                del self._in_flight[me]
                if not self._in_flight and self._abandon_timer is not None:
                    self._abandon_timer.cancel()
                    self._abandon_timer = None
        logger.info(
            "message handled",
            extra={"action": outcome.action, "job_id": outcome.job_id, "detail": outcome.detail},
        )
        return outcome

    def handle(self, message: dict[str, Any]) -> Outcome:
        receipt = message["ReceiptHandle"]
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            job = self._parse(message["Body"])
        except InvalidJobMessage as exc:
            # Not a job: nothing to mark FAILED. Make it visible again at once so the queue's
            # maxReceiveCount moves it to the DLQ quickly instead of blocking its FIFO group.
            self._release(receipt)
            return Outcome("poison", detail=str(exc))
        self._append_job_keys(job_id=job.job_id, algo_id=job.algo_id)
        sent_at = message.get("Attributes", {}).get("SentTimestamp")
        try:
            return self._handle_job(job, receipt, receive_count, int(sent_at) if sent_at else None)
        finally:
            self._remove_job_keys(["job_id", "algo_id"])

    def _append_job_keys(self, **keys: str) -> None:
        """One job at a time: on every log line of the process (its heartbeat thread's too, as
        ever); several: on the lines of the job's own thread only."""
        if self.settings.job_concurrency == 1:
            logger.append_keys(**keys)
        else:
            logger.thread_safe_append_keys(**keys)

    def _remove_job_keys(self, keys: list[str]) -> None:
        if self.settings.job_concurrency == 1:
            logger.remove_keys(keys)
        else:
            logger.thread_safe_remove_keys(keys)

    def _handle_job(
        self, job: JobMessage, receipt: str, receive_count: int, sent_at_ms: int | None = None
    ) -> Outcome:
        timeline = _Timeline()
        # The input is read from the PACS while the claim is written: the read changes nothing,
        # and the job runs (writes anything) only once the claim is won.
        prefetched = self.runner.prefetch(job)
        claim = timeline.measure("claim", lambda: self.table.claim(job, receive_count))
        if not claim.claimed:
            if prefetched is not None:
                prefetched.cancel()  # unused; a read already under way just ends
            # Already DONE/FAILED: nothing is recomputed. A result stored but never confirmed
            # published (its ender died in between: ``publish_pending``) is published now, with
            # the same dedup id; one already published is not sent again, however late this
            # redelivery comes (SNS FIFO deduplicates for 5 minutes only).
            if claim.final is not None and claim.unpublished:
                self.publisher.publish(claim.final)
                self._mark_published(claim.final.job_id)
            self._delete(receipt)
            return Outcome("skipped", job.job_id, f"already {claim.status.value}")

        started = time.perf_counter()
        with VisibilityHeartbeat(
            self.sqs,
            self.settings.request_queue_url,
            receipt,
            visibility_timeout_seconds=self.settings.visibility_timeout_seconds,
            interval_seconds=self.settings.heartbeat_seconds,
            on_beat=lambda: self.table.beat(job.job_id),
        ):
            try:
                result = self.runner.run(job, prefetched)
            except JobInputError as exc:
                result = failed_result(job, str(exc))
            except Exception as exc:
                error = type(exc).__name__
                last = self.settings.max_receive_count
                if last is None or receive_count < last:
                    # Transient (PACS/AWS unavailable): the message is not deleted; it
                    # reappears after its visibility timeout and is tried again.
                    logger.exception("job attempt failed; it will be retried")
                    self._note_failure(job.job_id, error)
                    self._record_metrics("JobsRetried", started)
                    return Outcome("retry", job.job_id, f"{error}: {exc}")
                # The queue's last allowed receive: the job ends here, FAILED and published,
                # rather than in the DLQ still RUNNING. Its request stays in JobsTable.
                logger.exception("job attempt failed on its last allowed receive; job FAILED")
                result = failed_result(
                    job,
                    f"the job could not be completed in {receive_count} attempts "
                    f"(last error: {error})",
                )
                self._record_metrics("JobsGivenUp", started)
        timeline.durations_ms["run"] = round((time.perf_counter() - started) * 1000, 3)
        self._complete(result, receipt, timeline)
        self._record_metrics("JobsDone" if result.reason is None else "JobsFailed", started)
        self._log_timeline(timeline, sent_at_ms, result.timings_ms)
        return Outcome("done" if result.reason is None else "failed", job.job_id, result.reason)

    def _complete(self, result: JobResult, receipt: str, timeline: _Timeline | None = None) -> None:
        timeline = timeline or _Timeline()
        if not timeline.measure("finish", lambda: self.table.finish(result)):
            logger.warning("job was finished by another delivery; publishing its stored result")
            result = self.table.stored(result.job_id).final or result
        timeline.measure("publish", lambda: self.publisher.publish(result))
        timeline.published_at = time.time()
        # Mark, then delete, never side by side: a worker that stops between the two leaves its
        # message, whose redelivery finds the job published; deleted first, only the sweeper
        # would find the mark missing, possibly after SNS's 5-minute dedup window.
        timeline.measure("mark_published", lambda: self._mark_published(result.job_id))
        timeline.measure("delete", lambda: self._delete(receipt))

    # -- helpers ---------------------------------------------------------------------------

    def _log_timeline(
        self, timeline: _Timeline, sent_at_ms: int | None, stages_ms: dict[str, float]
    ) -> None:
        """Where one job's time went, for ``bench/bench_job_latency.py`` (epoch milliseconds
        and durations; ids and timings only, nothing from the job's data)."""
        received = getattr(self._thread, "received_at", None)
        received_at_ms = round(received * 1000, 1) if received else None
        logger.info(
            "job timeline",
            extra={
                "request_sent_at_ms": sent_at_ms,
                "received_at_ms": received_at_ms,
                "published_at_ms": round(timeline.published_at * 1000, 1)
                if timeline.published_at
                else None,
                "durations_ms": timeline.durations_ms,
                "stages_ms": stages_ms,
            },
        )

    @staticmethod
    def _parse(body: str) -> JobMessage:
        try:
            return JobMessage.model_validate_json(body)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
            raise InvalidJobMessage(f"not a valid job message ({fields})") from exc

    def _mark_published(self, job_id: str) -> None:
        try:
            self.table.published(job_id)
        except Exception:  # at worst the sweeper publishes it again (same dedup id)
            logger.warning("could not record the publish", exc_info=True)

    def _note_failure(self, job_id: str, error: str) -> None:
        try:
            self.table.note_failure(job_id, error)
        except Exception:  # the retry does not depend on it
            logger.warning("could not record the failed attempt", exc_info=True)

    def _delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.settings.request_queue_url, ReceiptHandle=receipt)

    def _release(self, receipt: str) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.settings.request_queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
        )

    def _record_metrics(self, name: str, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        # Powertools' metrics are one process-wide set: a job's metrics are added and flushed
        # together, never interleaved with another thread's.
        with self._metrics_lock:
            metrics.add_dimension(name="algo_id", value=self.settings.algo_id)
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="JobDuration", unit=MetricUnit.Milliseconds, value=duration_ms)
            try:
                metrics.flush_metrics()  # EMF to stdout; the awslogs driver turns it into metrics
            except Exception:  # metrics must never fail a job (e.g. no namespace configured)
                logger.warning("metrics not flushed", exc_info=True)
