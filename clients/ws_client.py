"""WebSocket client: submit a job and wait for its result to be pushed.

    python -m clients.ws_client --algo processing_1 --study STUDY --series SERIES --image IMAGE
        [--scope image|series] [--out DIR] [--env-file .env.local] [--new-client]

It provisions a push client (or reuses the one cached for this API while its token is valid),
opens the WebSocket with ``?client_id=&token=``, submits the job over REST once connected (so the
push cannot arrive before anyone listens), waits for the result of that job, prints it and
downloads its overlay and result JSON. The connection is kept alive with pings and re-opened with
exponential backoff when it drops; after every reconnect ``GET /jobs/{id}`` is asked, because a
result pushed while the socket was down is not pushed again.

The job id is chosen here, so resubmitting after a lost answer is idempotent on the server.

Exit status: 0 DONE, 1 FAILED, 2 bad usage or configuration, 3 no result before ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlparse

import requests
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from clients.env import DEFAULT_ENV_FILE, Endpoints, EnvFileError, load_endpoints

DEFAULT_CACHE = Path.home() / ".cache" / "image-video-pipeline" / "ws-clients.json"
# A cached token is reused only if it outlives a long wait comfortably.
TOKEN_MARGIN_SECONDS = 15 * 60
FINAL_STATUSES = ("DONE", "FAILED")
EXIT_DONE, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


class UserFacingError(RuntimeError):
    """An error the user must act on (bad request, unknown algorithm, refused connection)."""


# ---- pure parts ------------------------------------------------------------------------------


def websocket_url(base: str, client_id: str, token: str) -> str:
    return f"{base}?{urlencode({'client_id': client_id, 'token': token})}"


def backoff_delays(
    *,
    initial: float = 1.0,
    factor: float = 2.0,
    cap: float = 30.0,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Exponential backoff with jitter: the n-th delay is uniform in [b/10, b] where
    b = min(cap, initial * factor**n), so reconnecting clients do not stampede together."""
    rng = rng or random.Random()  # noqa: S311 (jitter, not security)
    bound = initial
    while True:
        yield rng.uniform(bound / 10, bound)
        bound = min(cap, bound * factor)


def result_for(message: str | bytes, job_id: str) -> dict[str, Any] | None:
    """The pushed result if ``message`` is the result of ``job_id``; None for anything else."""
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("kind") == "job.result" and data.get("job_id") == job_id:
        return data
    return None


def output_file_name(url: str, fallback: str) -> str:
    """A safe local file name from a presigned URL's path (never a path that leaves the folder)."""
    name = Path(urlparse(url).path).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return name or fallback


@dataclass(frozen=True)
class CachedClient:
    client_id: str
    token: str
    token_expires_at: float

    def usable(self, now: float, margin: float = TOKEN_MARGIN_SECONDS) -> bool:
        return self.token_expires_at - margin > now


class ClientCache:
    """Provisioned clients per REST API URL, in one JSON file (only the owner may read it)."""

    def __init__(self, path: Path = DEFAULT_CACHE):
        self.path = path

    def _all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, api_url: str) -> CachedClient | None:
        entry = self._all().get(api_url)
        try:
            return CachedClient(**entry) if entry else None
        except TypeError:
            return None

    def put(self, api_url: str, client: CachedClient) -> None:
        data = self._all()
        data[api_url] = client.__dict__
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=2))


def job_request(args: argparse.Namespace, client_id: str, job_id: str) -> dict[str, Any]:
    pacs: dict[str, Any] = {"study_id": args.study, "series_id": args.series, "scope": args.scope}
    if args.image:
        pacs["image_id"] = args.image
    return {"client_id": client_id, "job_id": job_id, "pacs": pacs}


# ---- the REST side ---------------------------------------------------------------------------


class JobApi(Protocol):
    def submit(self, algo_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def job(self, job_id: str) -> dict[str, Any]: ...


class RestApi:
    def __init__(self, endpoints: Endpoints, timeout: float = 30.0):
        self.base = endpoints.rest_api_url
        self.timeout = timeout
        self.session = requests.Session()
        if endpoints.rest_api_key:
            self.session.headers["x-api-key"] = endpoints.rest_api_key

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        if response.status_code >= 500:
            response.raise_for_status()  # Retryable: the caller backs off and tries again.
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                detail = f"{error['code']}: {error['message']}"
            except (ValueError, KeyError, TypeError):
                detail = response.text[:300]
            raise UserFacingError(f"{method} {path} -> {response.status_code} {detail}")
        body: dict[str, Any] = response.json()
        return body

    def provision(self) -> dict[str, Any]:
        return self._call("POST", "/clients", json={"delivery": "push"})

    def submit(self, algo_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/process/{algo_id}", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def download(self, url: str, target: Path) -> None:
        # Presigned URLs carry their own authorization: no API key header may be sent with them.
        with requests.get(url, timeout=self.timeout, stream=True) as response:
            response.raise_for_status()
            with target.open("wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)


def client_for(api: RestApi, cache: ClientCache, *, fresh: bool, now: float) -> CachedClient:
    cached = None if fresh else cache.get(api.base)
    if cached and cached.usable(now):
        return cached
    created = api.provision()
    expires = _epoch(created["token_expires_at"])
    client = CachedClient(created["client_id"], created["token"], expires)
    cache.put(api.base, client)
    return client


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# ---- the WebSocket side ----------------------------------------------------------------------


async def wait_for_result(
    *,
    url: str,
    job_id: str,
    algo_id: str,
    body: dict[str, Any],
    api: JobApi,
    delays: Callable[[], Iterator[float]] = backoff_delays,
    ping_interval: float = 20.0,
    keepalive_seconds: float = 300.0,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> dict[str, Any]:
    """Connect, submit once connected, and return the first result for ``job_id``.

    Reconnects with backoff; after each reconnect the job is read over REST in case its result
    was pushed while no socket was open.
    """
    submitted = False
    backoff = delays()
    while True:
        try:
            async with connect(url, ping_interval=ping_interval, open_timeout=15) as socket:
                backoff = delays()  # A connection that opened resets the backoff.
                if not submitted:
                    accepted = await asyncio.to_thread(api.submit, algo_id, body)
                    submitted = True
                    log(f"submitted job {accepted['job_id']} ({accepted['status']})")
                else:
                    log("reconnected; checking the job in case its result was missed")
                    view = await asyncio.to_thread(api.job, job_id)
                    if view.get("status") in FINAL_STATUSES and view.get("result"):
                        return dict(view["result"])
                result = await _receive_until(socket, job_id, keepalive_seconds)
                return result
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise UserFacingError(
                    "the WebSocket refused this client (token expired or revoked); "
                    "run again with --new-client"
                ) from exc
            delay = next(backoff)
            log(f"WebSocket handshake failed ({exc}); retrying in {delay:.1f}s")
        except (
            ConnectionClosed,
            InvalidHandshake,
            OSError,
            TimeoutError,
            requests.RequestException,
        ) as exc:
            delay = next(backoff)
            log(f"connection lost ({exc.__class__.__name__}: {exc}); retrying in {delay:.1f}s")
        await asyncio.sleep(delay)


async def _receive_until(socket: Any, job_id: str, keepalive_seconds: float) -> dict[str, Any]:
    # API Gateway closes sockets idle for 10 minutes; an application message keeps it open (the
    # answer, whatever route handles it, is not a result and is ignored).
    while True:
        try:
            message = await asyncio.wait_for(socket.recv(), timeout=keepalive_seconds)
        except TimeoutError:
            await socket.send(json.dumps({"action": "ping"}))
            continue
        result = result_for(message, job_id)
        if result is not None:
            return result


# ---- the command -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m clients.ws_client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--algo", required=True, help="algorithm id, e.g. processing_1")
    parser.add_argument("--study", required=True, help="PACS study id")
    parser.add_argument("--series", required=True, help="PACS series id")
    parser.add_argument("--image", help="PACS instance id (required with --scope image)")
    parser.add_argument("--scope", choices=("image", "series"), default="image")
    parser.add_argument("--out", type=Path, default=Path("results"), help="download folder")
    parser.add_argument("--env-file", type=Path, default=DEFAULT_ENV_FILE)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="client cache file")
    parser.add_argument("--new-client", action="store_true", help="provision a fresh client")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    parser.add_argument("--no-download", action="store_true")
    args = parser.parse_args(argv)
    if args.scope == "image" and not args.image:
        parser.error("--image is required with --scope image")
    return args


def download_outputs(api: RestApi, result: dict[str, Any], out_dir: Path) -> list[Path]:
    if result.get("status") == "DONE" and not result.get("overlay_url"):
        # Pushed without links (the push function signs none when not configured): ask for them.
        result = api.job(result["job_id"]).get("result") or result
    saved: list[Path] = []
    folder = out_dir / result["job_id"]
    for field, fallback in (("overlay_url", "overlay.png"), ("result_url", "result.json")):
        url = result.get(field)
        if not url:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / output_file_name(url, fallback)
        api.download(url, target)
        saved.append(target)
    return saved


def _last_look(api: RestApi, job_id: str) -> dict[str, Any] | None:
    """Before giving up, ask REST once: the push may have been missed."""
    try:
        view = api.job(job_id)
    except (UserFacingError, requests.RequestException):
        return None
    if view.get("status") in FINAL_STATUSES and view.get("result"):
        return dict(view["result"])
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        endpoints = load_endpoints(args.env_file)
    except EnvFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    api = RestApi(endpoints)
    job_id = uuid.uuid4().hex
    try:
        client = client_for(api, ClientCache(args.cache), fresh=args.new_client, now=time.time())
        result = asyncio.run(
            asyncio.wait_for(
                wait_for_result(
                    url=websocket_url(endpoints.websocket_url, client.client_id, client.token),
                    job_id=job_id,
                    algo_id=args.algo,
                    body=job_request(args, client.client_id, job_id),
                    api=api,
                ),
                timeout=args.timeout,
            )
        )
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except requests.RequestException as exc:
        print(f"error: the REST API at {api.base} failed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TimeoutError:
        missed = _last_look(api, job_id)
        if missed is None:
            print(f"error: no result within {args.timeout:.0f}s", file=sys.stderr)
            return EXIT_TIMEOUT
        result = missed
    print(json.dumps(result, indent=2))
    if not args.no_download:
        for path in download_outputs(api, result, args.out):
            print(f"saved {path}", file=sys.stderr)
    return EXIT_DONE if result.get("status") == "DONE" else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
