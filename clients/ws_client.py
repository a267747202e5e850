"""WebSocket client: submit a job and wait for its result to be pushed.

    python -m clients.ws_client --algo processing_1 --study STUDY --series SERIES --image IMAGE
        [--scope image|series] [--out DIR] [--env-file .env.local] [--new-client]
        [--delete-client] [--user NAME] [--password ...]

It logs in (``clients.auth``: ``--user``/``--password``, ``PIPELINE_USERNAME``/``PIPELINE_PASSWORD``
or the env file's ``DEMO_USERNAME``/``DEMO_PASSWORD``) and sends the ID token on every REST call.
It reuses the push client cached for this API and user (``POST /clients`` when there is none, or
when the cached one answers 404: deleted, expired or another user's), asks for a fresh one-time
ticket (``POST /clients/{id}/tickets``, valid 60 s) before every connection and opens
``<WebsocketUrl>?ticket=<ticket>``. It submits the job over REST once connected (so the push
cannot arrive before anyone listens), waits for the result of that job, prints it and downloads
its overlay and result JSON. The connection is kept alive and re-opened with exponential backoff
when it drops; after every reconnect ``GET /jobs/{id}`` is asked, because a result pushed while
the socket was down is not pushed again. ``--delete-client`` deletes the client at the end
(``DELETE /clients/{id}``), so it no longer counts against the per-user cap.

The job id is chosen here, so resubmitting after a lost answer is idempotent on the server.

Exit status: 0 DONE, 1 FAILED, 2 bad usage, configuration or login, 3 no result within
``--timeout``.
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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlparse

import requests
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from clients.auth import (
    PROJECT,
    LoginError,
    TokenSource,
    add_login_arguments,
    login_from_args,
    token_source,
)
from clients.cli import emit, invoke, module_parser, progress, say
from clients.env import DEFAULT_ENV_FILE, Endpoints, EnvFileError, load_env

DEFAULT_CACHE = Path.home() / ".cache" / PROJECT / "ws-clients.json"
FINAL_STATUSES = ("DONE", "FAILED")
EXIT_DONE, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3
# Each attempt uses a fresh ticket, so a refusal is not a stale credential: after this many in a
# row the client (or the login) is the problem, not the network.
MAX_REFUSED_HANDSHAKES = 3


class UserFacingError(RuntimeError):
    """An error the user must act on (bad request, unknown algorithm, refused connection)."""


class NotFound(UserFacingError):
    """404: absent, expired, or someone else's (the API does not say which, on purpose)."""


class RateLimited(UserFacingError):
    """429: a per-user limit; the message says which."""


# ---- pure parts ------------------------------------------------------------------------------


def websocket_url(base: str, ticket: str) -> str:
    return f"{base}?{urlencode({'ticket': ticket})}"


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


def error_detail(response: requests.Response) -> str:
    """The API's own words: ``{"error": {code, message}}`` from functions, ``{"message": ..}``
    from the gateway (401 Unauthorized, 403 Forbidden)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return f"{error.get('code', 'error')}: {error['message']}"
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return response.text[:300]


@dataclass(frozen=True)
class CachedClient:
    client_id: str


class ClientCache:
    """Provisioned push clients per REST API and user, in one JSON file only the owner may read.

    Only the client id is kept: it grants nothing by itself (tickets need the user's login)."""

    def __init__(self, path: Path = DEFAULT_CACHE):
        self.path = path

    @staticmethod
    def key(api_url: str, username: str) -> str:
        return f"{api_url} {username}"

    def _all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> CachedClient | None:
        entry = self._all().get(key)
        try:
            return CachedClient(**entry) if isinstance(entry, dict) else None
        except TypeError:
            return None

    def put(self, key: str, client: CachedClient) -> None:
        data = self._all()
        data[key] = client.__dict__
        self._write(data)

    def drop(self, key: str) -> None:
        data = self._all()
        if data.pop(key, None) is not None:
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
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
    """The job API as the logged-in user: ``Authorization: <IdToken>`` on every call."""

    def __init__(self, endpoints: Endpoints, auth: TokenSource | str, timeout: float = 30.0):
        self.base = endpoints.rest_api_url
        self.auth = token_source(auth)
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        if response.status_code == 401:
            # The token may have expired on the way or been revoked: renew it once.
            self.auth.invalidate()
            response = self._send(method, path, **kwargs)
        if response.status_code >= 500:
            response.raise_for_status()  # Retryable: the caller backs off and tries again.
        if response.status_code >= 400:
            detail = f"{method} {path} -> {response.status_code} {error_detail(response)}"
            if response.status_code == 401:
                raise UserFacingError(f"{detail}: the API refused the login; log in again")
            if response.status_code == 404:
                raise NotFound(detail)
            if response.status_code == 429:
                raise RateLimited(detail)
            raise UserFacingError(detail)
        if response.status_code == 204 or not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": self.auth.id_token()}
        return self.session.request(
            method, self.base + path, headers=headers, timeout=self.timeout, **kwargs
        )

    def provision(self, delivery: str = "push") -> dict[str, Any]:
        return self._call("POST", "/clients", json={"delivery": delivery})

    def ticket(self, client_id: str) -> dict[str, Any]:
        """A one-time WebSocket ticket; ``NotFound`` when the client is gone (or not ours)."""
        return self._call("POST", f"/clients/{client_id}/tickets", json={})

    def delete_client(self, client_id: str) -> bool:
        """Delete a client (its queue, its live sockets); False when it was already gone."""
        try:
            self._call("DELETE", f"/clients/{client_id}")
        except NotFound:
            return False
        return True

    def submit(self, algo_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/process/{algo_id}", json=body)

    def create_upload(self, kind: str, filename: str, content_type: str) -> dict[str, Any]:
        """A presigned POST for one file under the caller's own prefix (``POST /uploads``)."""
        body = {"kind": kind, "filename": filename, "content_type": content_type}
        return self._call("POST", "/uploads", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def results_page(
        self, client_id: str, after: str = "", *, limit: int = 100, wait_seconds: int = 0
    ) -> dict[str, Any]:
        """One page of a poll client's finished jobs after the cursor ``after`` (``GET
        /results``): ``results``, ``next_cursor``, ``more``. Reading deletes nothing, so a
        request whose answer was lost is simply sent again with the same cursor."""
        params: dict[str, Any] = {"client_id": client_id, "limit": limit}
        if after:
            params["after"] = after
        if wait_seconds:
            params["wait_seconds"] = wait_seconds
        return self._call("GET", "/results", params=params)

    def download(self, url: str, target: Path) -> None:
        # Presigned URLs carry their own authorization: the ID token is never sent with them.
        with requests.get(url, timeout=self.timeout, stream=True) as response:
            response.raise_for_status()
            with target.open("wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)


class ResultsPage(Protocol):
    def results_page(
        self, client_id: str, after: str = "", *, limit: int = 100, wait_seconds: int = 0
    ) -> dict[str, Any]: ...


class ResultFeed:
    """A poll client's results, each once, in completion order: every ``poll`` continues from
    the cursor the last answer gave (``next_cursor``). The cursor moves only when an answer
    arrives, so a failed request is retried from the same place and loses nothing. Keep
    ``cursor`` (e.g. on disk) to resume after a restart."""

    def __init__(self, api: ResultsPage, client_id: str, cursor: str = ""):
        self.api = api
        self.client_id = client_id
        self.cursor = cursor

    def poll(self, *, wait_seconds: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The results finished since the last poll (``[]`` if none within ``wait_seconds``);
        follows ``more`` at once, so a backlog comes back in one call."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.api.results_page(
                self.client_id, self.cursor, limit=limit, wait_seconds=wait_seconds
            )
            found += page["results"]
            self.cursor = str(page["next_cursor"])
            if not page.get("more"):
                return found
            wait_seconds = 0


class PushClient:
    """The push client this run listens as: a fresh one-time ticket for every connection."""

    def __init__(self, api: RestApi, client_id: str, first_ticket: str | None = None):
        self.api = api
        self.client_id = client_id
        self._ticket = first_ticket

    def next_ticket(self) -> str:
        ticket, self._ticket = self._ticket, None
        if ticket:
            return ticket
        try:
            return str(self.api.ticket(self.client_id)["ticket"])
        except NotFound as exc:
            raise UserFacingError(
                f"client {self.client_id} was deleted or has expired: run again "
                "(a new client is provisioned)"
            ) from exc

    def connect_url(self, websocket_base: str) -> Callable[[], str]:
        return lambda: websocket_url(websocket_base, self.next_ticket())


def client_for(api: RestApi, cache: ClientCache, key: str, *, fresh: bool) -> PushClient:
    """The cached client if the API still knows it as ours (minting its first ticket proves
    it), else a new one (``POST /clients`` answers a first ticket too)."""
    cached = None if fresh else cache.get(key)
    if cached:
        try:
            ticket = api.ticket(cached.client_id)
            return PushClient(api, cached.client_id, str(ticket["ticket"]))
        except NotFound:
            cache.drop(key)
    created = api.provision()
    cache.put(key, CachedClient(created["client_id"]))
    return PushClient(api, created["client_id"], created.get("ticket"))


# ---- the WebSocket side ----------------------------------------------------------------------


async def wait_for_result(
    *,
    connect_url: Callable[[], str],
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

    ``connect_url`` is called for every connection (it mints a fresh one-time ticket: a ticket
    is consumed by the handshake, so a reconnect cannot reuse it). Reconnects with backoff;
    after each reconnect the job is read over REST in case its result was pushed while no
    socket was open.
    """
    submitted = False
    refused = 0
    backoff = delays()
    while True:
        try:
            url = await asyncio.to_thread(connect_url)
            async with connect(url, ping_interval=ping_interval, open_timeout=15) as socket:
                backoff = delays()  # A connection that opened resets the backoff.
                refused = 0
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
            status = exc.response.status_code
            if status in (401, 403):
                refused += 1
                if refused >= MAX_REFUSED_HANDSHAKES:
                    raise UserFacingError(
                        f"the WebSocket refused {refused} fresh tickets in a row (HTTP {status}): "
                        "the client may have been deleted; run again with --new-client"
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", required=True, help="algorithm id, e.g. processing_1")
    parser.add_argument("--study", required=True, help="PACS study id")
    parser.add_argument("--series", required=True, help="PACS series id")
    parser.add_argument("--image", help="PACS instance id (required with --scope image)")
    parser.add_argument("--scope", choices=("image", "series"), default="image")
    _add_result_arguments(parser)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="client cache file")
    parser.add_argument("--new-client", action="store_true", help="provision a fresh client")
    parser.add_argument("--delete-client", action="store_true", help="delete the client when done")
    add_login_arguments(parser)
    parser.set_defaults(check=_check)


def add_wait_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_id", metavar="JOB_ID")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between looks")
    _add_result_arguments(parser)
    add_login_arguments(parser)


def _add_result_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("results"), help="download folder")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    parser.add_argument("--no-download", action="store_true")


def _check(args: argparse.Namespace) -> str | None:
    if args.scope == "image" and not args.image:
        return "--image is required with --scope image"
    return None


def _parser() -> argparse.ArgumentParser:
    description = __doc__.split("\n")[0]
    return module_parser(
        "python -m clients.ws_client", description, add_arguments, env_file=DEFAULT_ENV_FILE
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    problem = _check(args)
    if problem:
        parser.error(problem)
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
    except (UserFacingError, LoginError, requests.RequestException):
        return None
    if view.get("status") in FINAL_STATUSES and view.get("result"):
        return dict(view["result"])
    return None


def _error(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    return invoke(_parser(), run, argv)


def _connect(args: argparse.Namespace) -> tuple[Endpoints, RestApi, Any]:
    values = load_env(args.env_file)
    endpoints = Endpoints.from_values(values, source=str(args.env_file))
    login = login_from_args(args, values)
    return endpoints, RestApi(endpoints, login), login


def run(args: argparse.Namespace) -> int:
    """Submit a job and wait for its result over the WebSocket (`pipeline jobs submit`)."""
    try:
        endpoints, api, login = _connect(args)
    except (EnvFileError, LoginError) as exc:
        return _error(exc)
    cache = ClientCache(args.cache)
    cache_key = ClientCache.key(api.base, login.username)
    job_id = uuid.uuid4().hex
    client: PushClient | None = None
    bar = progress(args, total=args.timeout, desc=f"job {job_id[:8]}", unit="s", **_CLOCK)
    try:
        client = client_for(api, cache, cache_key, fresh=args.new_client)
        result = asyncio.run(
            _with_clock(
                wait_for_result(
                    connect_url=client.connect_url(endpoints.websocket_url),
                    job_id=job_id,
                    algo_id=args.algo,
                    body=job_request(args, client.client_id, job_id),
                    api=api,
                    log=_log(args, bar),
                ),
                bar,
                timeout=args.timeout,
            )
        )
    except (UserFacingError, LoginError) as exc:
        return _error(exc)
    except requests.RequestException as exc:
        return _error(f"the REST API at {api.base} failed: {exc}")
    except TimeoutError:
        missed = _last_look(api, job_id)
        if missed is None:
            print(f"error: no result within {args.timeout:.0f}s", file=sys.stderr)
            return EXIT_TIMEOUT
        result = missed
    finally:
        bar.close()
        if args.delete_client and client is not None:
            _delete(api, cache, cache_key, client.client_id)
    return _finish(args, api, result)


def run_wait(args: argparse.Namespace) -> int:
    """Wait for a job already submitted, by asking REST (`pipeline jobs wait JOB_ID`)."""
    try:
        _, api, _ = _connect(args)
    except (EnvFileError, LoginError) as exc:
        return _error(exc)
    bar = progress(args, total=args.timeout, desc=f"job {args.job_id[:8]}", unit="s", **_CLOCK)
    started = time.monotonic()
    try:
        while True:
            view = api.job(args.job_id)
            if view.get("status") in FINAL_STATUSES and view.get("result"):
                result = dict(view["result"])
                break
            if time.monotonic() - started > args.timeout:
                print(f"error: no result within {args.timeout:.0f}s", file=sys.stderr)
                return EXIT_TIMEOUT
            time.sleep(args.poll)
            bar.n = min(args.timeout, time.monotonic() - started)
            bar.set_postfix_str(str(view.get("status", "")))
    except (UserFacingError, LoginError) as exc:
        return _error(exc)
    except requests.RequestException as exc:
        return _error(f"the REST API at {api.base} failed: {exc}")
    finally:
        bar.close()
    return _finish(args, api, result)


# A clock, not a count: elapsed seconds against the timeout.
_CLOCK: dict[str, Any] = {"bar_format": "{desc}: {bar:20} {n:.0f}/{total:.0f}s{postfix}"}


async def _with_clock(work: Awaitable[dict[str, Any]], bar: Any, *, timeout: float) -> Any:
    started = time.monotonic()

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.5)
            bar.n = min(timeout, time.monotonic() - started)
            bar.refresh()

    ticker = asyncio.create_task(tick())
    try:
        return await asyncio.wait_for(work, timeout=timeout)
    finally:
        ticker.cancel()


def _log(args: argparse.Namespace, bar: Any) -> Callable[[str], None]:
    if args.quiet:
        return lambda line: None
    return lambda line: bar.write(line, file=sys.stderr)


def _finish(args: argparse.Namespace, api: RestApi, result: dict[str, Any]) -> int:
    saved = [] if args.no_download else download_outputs(api, result, args.out)
    if args.json:
        emit(args, {**result, "saved": [str(path) for path in saved]})
    else:
        emit(args, result)
        for path in saved:
            say(args, f"saved {path}")
    return EXIT_DONE if result.get("status") == "DONE" else EXIT_FAILED


def _delete(api: RestApi, cache: ClientCache, cache_key: str, client_id: str) -> None:
    cache.drop(cache_key)
    try:
        gone = api.delete_client(client_id)
    except (UserFacingError, LoginError, requests.RequestException) as exc:
        print(f"warning: client {client_id} not deleted: {exc}", file=sys.stderr)
        return
    said = f"deleted client {client_id}" if gone else f"client {client_id} was already gone"
    print(said, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
