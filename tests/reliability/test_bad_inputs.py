"""Bad inputs at every entry point, one table (issue 12): images, videos and DICOM files, REST
bodies, ids and query strings, Kinesis records and WebSocket connects. Each gets its clear error
(a 4xx with a reason, or a FAILED/failure message with a reason on the pipeline's queue) and the
input is kept: an uploaded object stays in its bucket, a PACS instance in the PACS, a record in
the stream.

Uploads, jobs and records are sent once for the whole table (``fired``), so their pipelines run
side by side; each row then waits for its own outcome. The table (input, entry point, what
happened) goes to ``test-artifacts/bad-inputs.md`` and to the terminal summary.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from clients.ws_client import websocket_url
from localcloud.cloud import LocalCloud
from tests.reliability.conftest import ARTIFACTS, BAD_INPUTS_KEY
from tests.reliability.helpers import final_job, instance
from tests.support.image_samples import bad_inputs, photo_jpeg
from tests.support.stack import QueueRecorder, RestApi
from tests.support.users import StackUser
from tests.support.video_samples import make_video
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.reliability]
TABLE_FILE = ARTIFACTS / "bad-inputs.md"


@dataclass(frozen=True)
class Row:
    name: str
    entry: str
    description: str


@dataclass
class Context:
    stack: LocalCloud
    rest: RestApi
    user: StackUser
    client_id: str
    fired: dict[str, Any]
    image_results: QueueRecorder
    video_results: QueueRecorder


Check = Callable[[Context], str]  # asserts the outcome; returns what happened, in words
ROWS: list[tuple[Row, Check]] = []
RESULTS: dict[str, tuple[Row, str]] = {}


def row(name: str, entry: str, description: str) -> Callable[[Check], Check]:
    def add(check: Check) -> Check:
        ROWS.append((Row(name, entry, description), check))
        return check

    return add


# ---- REST: bodies, ids, query strings -----------------------------------------------------------


def _refused(response: Any, *statuses: int) -> str:
    assert response.status_code in statuses, (response.status_code, response.text)
    error = response.json().get("error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    message = message or response.json().get("message")
    assert message, response.text
    field = f" ({error['field']})" if isinstance(error, dict) and error.get("field") else ""
    return f"{response.status_code}: {message}{field}"


def _rest_row(
    name: str, entry: str, description: str, method: str, path: str, *statuses: int, **kw: Any
) -> None:
    def check(ctx: Context) -> str:
        url = path.replace("{client}", ctx.client_id)
        body = kw.get("json")
        if isinstance(body, dict) and body.get("client_id") == "{client}":
            kw["json"] = {**body, "client_id": ctx.client_id}
        return _refused(ctx.rest(method, url, user=ctx.user, **kw), *statuses)

    row(name, entry, description)(check)


GOOD_PACS = {"study_id": "s1", "series_id": "se1", "image_id": "i1"}
_rest_row("malformed-json", "REST body", "POST /process: `{not json`", "POST",
          "/process/processing_1", 400, data="{not json",
          headers={"content-type": "application/json"})  # fmt: skip
_rest_row("json-array", "REST body", "POST /process: a JSON array", "POST",
          "/process/processing_1", 400, json=[1, 2])  # fmt: skip
_rest_row("missing-client", "REST body", "POST /process without client_id", "POST",
          "/process/processing_1", 400, json={"pacs": GOOD_PACS})  # fmt: skip
_rest_row("traversal", "REST body", "POST /process: study_id `../../etc`", "POST",
          "/process/processing_1", 400,
          json={"client_id": "{client}",
                "pacs": {**GOOD_PACS, "study_id": "../../etc"}})  # fmt: skip
_rest_row("bad-scope", "REST body", "POST /process: scope `volume`", "POST",
          "/process/processing_1", 400,
          json={"client_id": "{client}", "pacs": {**GOOD_PACS, "scope": "volume"}})  # fmt: skip
_rest_row("bad-job-id", "REST body", "POST /process: job_id `a b/c`", "POST",
          "/process/processing_1", 400,
          json={"client_id": "{client}", "pacs": GOOD_PACS, "job_id": "a b/c"})  # fmt: skip
_rest_row("too-large", "REST body", "POST /process: 40 kB of padding", "POST",
          "/process/processing_1", 413,
          json={"client_id": "{client}", "pacs": GOOD_PACS, "padding": "x" * 40_000})  # fmt: skip
_rest_row("unknown-client", "REST body", "POST /process for a client that does not exist",
          "POST", "/process/processing_1", 400, 404,
          json={"client_id": uuid.uuid4().hex, "pacs": GOOD_PACS})  # fmt: skip
_rest_row("bad-delivery", "REST body", "POST /clients: delivery `pigeon`", "POST", "/clients",
          400, json={"delivery": "pigeon"})  # fmt: skip
_rest_row("upload-kind", "REST body", "POST /uploads: kind `exe`", "POST", "/uploads", 400,
          json={"kind": "exe", "filename": "x.exe"})  # fmt: skip
_rest_row("upload-extension", "REST body", "POST /uploads: image `notes.txt`", "POST",
          "/uploads", 400, json={"kind": "image", "filename": "notes.txt"})  # fmt: skip
_rest_row("upload-content-type", "REST body", "POST /uploads: `x.jpg` as `text/html`", "POST",
          "/uploads", 400,
          json={"kind": "image", "filename": "x.jpg", "content_type": "text/html"})  # fmt: skip
_rest_row("unknown-algorithm", "id", "POST /process/no_such_algorithm", "POST",
          "/process/no_such_algorithm", 404,
          json={"client_id": "{client}", "pacs": GOOD_PACS})  # fmt: skip
_rest_row("malformed-job-id", "id", "GET /jobs/<300 x `z`>", "GET", "/jobs/" + "z" * 300,
          400, 404)  # fmt: skip
_rest_row("unknown-job", "id", "GET /jobs/<unknown id>", "GET", f"/jobs/{uuid.uuid4().hex}",
          404)  # fmt: skip
_rest_row("unknown-client-delete", "id", "DELETE /clients/<unknown id>", "DELETE",
          f"/clients/{uuid.uuid4().hex}", 404)  # fmt: skip
_rest_row("unknown-client-ticket", "id", "POST /clients/<unknown id>/tickets", "POST",
          f"/clients/{uuid.uuid4().hex}/tickets", 404, json={})  # fmt: skip
_rest_row("malformed-video-id", "id", "GET /videos/`bad!id`/frames", "GET",
          "/videos/bad!id/frames", 400, 404)  # fmt: skip
_rest_row("results-no-client", "query string", "GET /results without client_id", "GET",
          "/results", 400)  # fmt: skip
_rest_row("results-wait-text", "query string", "GET /results?wait_seconds=abc", "GET",
          "/results?client_id={client}&wait_seconds=abc", 400)  # fmt: skip
_rest_row("results-wait-large", "query string", "GET /results?wait_seconds=999", "GET",
          "/results?client_id={client}&wait_seconds=999", 400)  # fmt: skip
_rest_row("results-bad-cursor", "query string", "GET /results?after=<not a cursor>", "GET",
          "/results?client_id={client}&after=not-a-cursor", 400)  # fmt: skip
_rest_row("videos-key-traversal", "query string", "GET /videos?key=a/../b", "GET",
          "/videos?key=a/../b", 400)  # fmt: skip
_rest_row("frames-after-text", "query string", "GET /videos/{id}/frames?after=abc", "GET",
          "/videos/v0123456789abcdef0123/frames?after=abc", 400, 404)  # fmt: skip


# ---- S3 uploads: images and videos --------------------------------------------------------------

IMAGE_INPUTS = {b.name: b for b in bad_inputs()}


def _image_row(name: str) -> None:
    bad = IMAGE_INPUTS[name]

    def check(ctx: Context) -> str:
        key = ctx.fired["images"][name]

        def failed() -> list[dict[str, Any]]:
            return [
                m for m in ctx.image_results.drain() if (m.get("input") or {}).get("key") == key
            ]

        [message] = wait_for(failed, timeout=120, what=f"the failure of {key}")
        assert message["status"] == "FAILED", message
        assert bad.reason_contains.lower() in message["reason"].lower(), message["reason"]
        bucket = ctx.stack.outputs["ImageInputBucketName"]
        assert ctx.stack.client("s3").head_object(Bucket=bucket, Key=key)
        return f"FAILED at {message['stage']}: {message['reason']}; input kept"

    row(f"image-{name}", "image (S3 upload)", f"`{bad.key}`: {name.replace('_', ' ')}")(check)


for _name in IMAGE_INPUTS:
    _image_row(_name)


def bad_videos(tmp: Path) -> dict[str, tuple[str, bytes]]:
    real = make_video(tmp / "real.mp4", frames=10, fps=10.0).read_bytes()
    return {
        "zero-bytes": ("empty.mp4", b""),
        "text": ("notes.mp4", b"these are meeting notes, not a video\n" * 20),
        "truncated": ("cut.mp4", real[: len(real) // 8]),
        "jpeg-renamed": ("photo.mp4", photo_jpeg()),
    }


def _video_row(name: str, description: str) -> None:
    def check(ctx: Context) -> str:
        key = ctx.fired["videos"][name]

        def failed() -> list[dict[str, Any]]:
            return [
                m
                for m in ctx.video_results.matching(kind="video.failed")
                if (m.get("source") or {}).get("key") == key
            ]

        [message] = wait_for(failed, timeout=150, what=f"the failure of {key}")
        assert message["level"] == "video", message
        assert message["reason"], message
        bucket = ctx.stack.outputs["VideoInputBucketName"]
        assert ctx.stack.client("s3").head_object(Bucket=bucket, Key=key)
        return f"video.failed (video): {message['reason']}; input kept"

    row(f"video-{name}", "video (S3 upload)", description)(check)


_VIDEO_ROWS = [
    ("zero-bytes", "`empty.mp4`: zero bytes"),
    ("text", "`notes.mp4`: plain text"),
    ("truncated", "`cut.mp4`: the first eighth of a real MP4"),
    ("jpeg-renamed", "`photo.mp4`: a JPEG photo"),
]
for _video in _VIDEO_ROWS:
    _video_row(*_video)


# ---- DICOM files, through jobs ------------------------------------------------------------------


def _dicom_row(name: str, image_id: str, study: str, words: str, description: str) -> None:
    def check(ctx: Context) -> str:
        job = ctx.fired["jobs"][name]
        final = final_job(ctx.rest, ctx.user, job, timeout=90)
        assert final["status"] == "FAILED", final
        assert words in final["reason"].lower(), final["reason"]
        if study == "broken-samples":
            key = f"studies/{study}/series/broken-series/instances/{image_id}.dcm"
            bucket = ctx.stack.outputs["PacsBucketName"]
            assert ctx.stack.client("s3").head_object(Bucket=bucket, Key=key)
        return f"job FAILED: {final['reason']}" + ("; PACS object kept" if study else "")

    row(f"dicom-{name}", "DICOM file (job)", description)(check)


DICOM_JOBS = {
    "unknown-study": ("i", "no-such-study"),
    "not-dicom": ("not-dicom", "broken-samples"),
    "truncated": ("MR_truncated", "broken-samples"),
    "no-pixel-data": ("no-pixel-data", "broken-samples"),
}
_dicom_row("unknown-study", "i", "", "not found", "a study the PACS does not have")
_dicom_row("not-dicom", "not-dicom", "broken-samples", "not a dicom", "plain text as `.dcm`")
_dicom_row("truncated", "MR_truncated", "broken-samples", "truncated", "`MR_truncated.dcm`")
_dicom_row("no-pixel-data", "no-pixel-data", "broken-samples", "pixel",
           "an RT plan (`rtplan.dcm`): no pixel data")  # fmt: skip


# ---- Kinesis records ----------------------------------------------------------------------------


def kinesis_records() -> dict[str, tuple[str, bytes]]:
    """name -> (partition key, data); the video ids are fresh per run."""

    def frame(video: str, **fields: Any) -> bytes:
        record = {"kind": "frame", "video_id": video, "frame_index": 0, "timestamp_ms": 0.0,
                  "width": 64, "height": 64, **fields}  # fmt: skip
        return json.dumps(record).encode()

    tag = uuid.uuid4().hex[:8]
    return {
        "garbage": ("garbage", b"\x00not json\xff"),
        "json-array": ("array", b"[1, 2, 3]"),
        "no-payload": (f"vnopay{tag}", frame(f"vnopay{tag}")),
        "bad-base64": (f"vb64{tag}", frame(f"vb64{tag}", data_b64="***not base64***")),
        "not-jpeg": (
            f"vnojpg{tag}",
            frame(f"vnojpg{tag}", data_b64=base64.b64encode(b"GIF89a").decode()),
        ),
        "missing-object": (
            f"vmiss{tag}",
            frame(f"vmiss{tag}", s3={"bucket": "rel-videoframesbucket", "key": "frames/none.jpg"}),
        ),
        "negative-index": (f"vneg{tag}", frame(f"vneg{tag}", frame_index=-1, data_b64="")),
    }


def _kinesis_row(name: str, description: str) -> None:
    def check(ctx: Context) -> str:
        partition_key, sequence = ctx.fired["records"][name]

        def failed() -> list[dict[str, Any]]:
            return [
                m
                for m in ctx.video_results.matching(kind="video.failed")
                if m["level"] == "frame"
                and (m["video_id"] == partition_key or m.get("sequence_number") == sequence)
            ]

        [message] = wait_for(failed, timeout=150, what=f"the failure of record {name}")
        assert message["reason"], message
        kinesis = ctx.stack.client("kinesis")
        shard = kinesis.list_shards(StreamName=ctx.stack.outputs["VideoFrameStreamName"])
        iterator = kinesis.get_shard_iterator(
            StreamName=ctx.stack.outputs["VideoFrameStreamName"],
            ShardId=shard["Shards"][0]["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=sequence,
        )["ShardIterator"]
        kept = kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"]
        assert kept
        assert kept[0]["SequenceNumber"] == sequence
        return f"video.failed (frame): {message['reason']}; record kept in the stream"

    row(f"kinesis-{name}", "Kinesis record", description)(check)


for _name, _description in {
    "garbage": "bytes that are not JSON",
    "json-array": "a JSON array",
    "no-payload": "a frame with neither `data_b64` nor `s3`",
    "bad-base64": "a frame whose `data_b64` is not base64",
    "not-jpeg": "a frame whose data is a GIF header",
    "missing-object": "a frame whose S3 object does not exist",
    "negative-index": "a frame with `frame_index` -1",
}.items():
    _kinesis_row(_name, _description)


# ---- WebSocket connects -------------------------------------------------------------------------


def _ws_row(name: str, description: str, ticket: Callable[[Context], str | None]) -> None:
    def check(ctx: Context) -> str:
        base = ctx.stack.outputs["WebsocketUrl"]
        value = ticket(ctx)
        url = base if value is None else websocket_url(base, value)
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=30).close()
        status = refused.value.response.status_code
        assert status in (401, 403), status
        return f"{status}: handshake refused"

    row(f"ws-{name}", "WebSocket connect", description)(check)


def _used_ticket(ctx: Context) -> str:
    answer = ctx.rest("POST", f"/clients/{ctx.client_id}/tickets", user=ctx.user, json={})
    ticket = str(answer.json()["ticket"])
    connect(websocket_url(ctx.stack.outputs["WebsocketUrl"], ticket), open_timeout=30).close()
    return ticket


_ws_row("no-ticket", "no `ticket` query parameter", lambda ctx: None)
_ws_row("unknown-ticket", "a ticket never issued", lambda ctx: uuid.uuid4().hex)
_ws_row("used-ticket", "a ticket used once already", _used_ticket)
_ws_row("id-token", "an ID token instead of a ticket", lambda ctx: ctx.user.id_token)
_ws_row("non-ascii-digits", "a ticket whose timestamp has `²` (non-ASCII digits)",
        lambda ctx: f"{uuid.uuid4().hex}.²³⁴.{uuid.uuid4().hex}")  # fmt: skip


# ---- the table ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fired(stack: LocalCloud, rest: RestApi, user: StackUser, pacs: list[Any], tmp_path_factory):
    """Every upload, job and record of the table, sent once, up front."""
    s3 = stack.client("s3")
    run = uuid.uuid4().hex[:8]
    images = {}
    for name, bad in IMAGE_INPUTS.items():
        key = f"bad/{run}/{bad.key}"
        s3.put_object(Bucket=stack.outputs["ImageInputBucketName"], Key=key, Body=bad.data)
        images[name] = key
    videos = {}
    for name, (filename, data) in bad_videos(tmp_path_factory.mktemp("bad-videos")).items():
        key = f"bad/{run}/{filename}"
        s3.put_object(Bucket=stack.outputs["VideoInputBucketName"], Key=key, Body=data)
        videos[name] = key
    client = rest("POST", "/clients", user=user, json={"delivery": "push"}).json()["client_id"]
    jobs = {}
    for name, (image_id, study) in DICOM_JOBS.items():
        ref = (
            {"study_id": study, "series_id": "broken-series", "image_id": image_id}
            if study != "no-such-study"
            else {"study_id": study, "series_id": "s", "image_id": image_id}
        )
        body = {"client_id": client, "pacs": ref}
        answer = rest("POST", "/process/processing_1", user=user, json=body)
        assert answer.status_code == 202, answer.text
        jobs[name] = answer.json()["job_id"]
    kinesis = stack.client("kinesis")
    records = {}
    for name, (partition_key, data) in kinesis_records().items():
        put = kinesis.put_record(
            StreamName=stack.outputs["VideoFrameStreamName"], PartitionKey=partition_key, Data=data
        )
        records[name] = (partition_key, put["SequenceNumber"])
    assert instance(pacs, "CT_small.dcm")  # the PACS is seeded (broken samples included)
    return {"images": images, "videos": videos, "jobs": jobs, "records": records, "client": client}


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    lines = ["| input | entry point | what happened |", "| --- | --- | --- |"]
    for bad_row, _check in ROWS:
        outcome = RESULTS.get(bad_row.name, (bad_row, "NOT CHECKED (failed above)"))[1]
        lines.append(f"| {bad_row.description} | {bad_row.entry} | {outcome.replace('|', '/')} |")
    text = "\n".join(lines) + "\n"
    ARTIFACTS.mkdir(exist_ok=True)
    TABLE_FILE.write_text(f"# Bad inputs (tests/reliability/test_bad_inputs.py)\n\n{text}")
    request.config.stash[BAD_INPUTS_KEY] = text


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("bad", "check"), ROWS, ids=[r.name for r, _ in ROWS])
def test_bad_input_gets_a_clear_error_and_is_kept(
    bad: Row, check: Check, stack, rest, user, fired, table, image_results, video_results
):
    # Given one bad input at one entry point (sent already, for the async ones: ``fired``)
    ctx = Context(stack, rest, user, fired["client"], fired, image_results, video_results)

    # When its outcome arrives / Then it is a clear error and the input is kept
    RESULTS[bad.name] = (bad, check(ctx))


def test_the_table_covers_every_entry_point_with_30_inputs():
    entries = {r.entry for r, _ in ROWS}
    assert len(ROWS) >= 30
    assert {e.split(" (")[0] for e in entries} >= {
        "image", "video", "DICOM file", "REST body", "id", "query string", "Kinesis record",
        "WebSocket connect",
    }  # fmt: skip
