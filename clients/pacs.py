"""Fill the PACS through STOW-RS: ``python -m clients.pacs import PATH...``.

Files and folders (recursively) are read locally first: what is not DICOM is skipped (named, not
sent); the rest goes to ``POST {PACS_API_URL}/studies`` in batches (``--batch-size`` files, at
most ``--batch-mib``: 8 by default, under API Gateway's 10 MB request limit; a single larger file
still goes alone, and only a route without that limit can take it), never two files with the same
SOP Instance UID in one batch. Before each batch one QIDO-RS search
(``/instances?SOPInstanceUID=...``) says which are already there, so the summary separates:

- ``stored``: new in the PACS;
- ``already present``: the very same instance was there (the PACS accepts it again, unchanged);
- ``failed``: refused, with the PACS's FailureReason (0xC000 not DICOM or UIDs missing, 0x0111 a
  different instance under the same SOP Instance UID, 0xA700 too large, ...);
- ``skipped``: not a DICOM file (or no SOP Instance UID), so not sent.

Where: ``--url``, else ``PACS_API_URL`` in the environment, else in the env file (``.env.local``,
written by ``make up``/``gen_env``). Who: ``--token`` or ``PACS_TOKEN`` (sent as
``Authorization: Bearer``), else the project's Cognito login (``clients.auth``) when the env file
names a user pool. Exit 0 when nothing failed, 1 when something did, 2 on bad arguments or an
unreachable PACS. ``--json`` prints one JSON document instead of the text summary.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from clients.cli import add_common_options, emit, invoke, progress
from clients.env import DEFAULT_ENV_FILE, parse_env

_auth: Any
try:  # the project's login helper; without it only --token / PACS_TOKEN authenticate
    _auth = importlib.import_module("clients.auth")
except ImportError:  # pragma: no cover - depends on what is installed next to this file
    _auth = None

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DICOM_JSON = "application/dicom+json"
SOP_CLASS, SOP_INSTANCE, FAILURE_REASON = "00081150", "00081155", "00081197"
FAILED_SEQUENCE, REFERENCED_SEQUENCE = "00081198", "00081199"
FAILURE_TEXT = {
    0x0110: "processing failure in the PACS",
    0x0111: "a different instance is already stored under this SOP Instance UID",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0xA700: "too large for the PACS (out of resources)",
    0xA900: "does not belong to the study named in the request",
    0xC000: "not understood: not DICOM, or a required UID is missing or malformed",
}
MIB = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size_bytes: int
    sop_instance_uid: str


@dataclass
class FileOutcome:
    path: str
    status: str  # stored | already present | failed | skipped
    sop_instance_uid: str | None = None
    reason: str | None = None


@dataclass
class Summary:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.count("stored"),
            "already_present": self.count("already present"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "files": [asdict(o) for o in self.outcomes],
        }


class PacsImportError(RuntimeError):
    """The import cannot go on (PACS unreachable, authentication refused): exit 2."""


def find_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise PacsImportError(f"{path}: no such file or folder")
    return found


def inspect(path: Path) -> LocalFile | FileOutcome:
    """The file's SOP Instance UID, or why it is skipped."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError):
        return FileOutcome(str(path), "skipped", reason="not a DICOM file")
    uid = str(ds.get("SOPInstanceUID", "") or "").strip()
    if not uid:
        return FileOutcome(str(path), "skipped", reason="no SOP Instance UID")
    return LocalFile(path, path.stat().st_size, uid)


def batches(files: list[LocalFile], *, size: int, max_bytes: int) -> Iterator[list[LocalFile]]:
    batch: list[LocalFile] = []
    uids: set[str] = set()
    total = 0
    for item in files:
        if batch and (
            len(batch) >= size
            or total + item.size_bytes > max_bytes
            or item.sop_instance_uid in uids
        ):
            yield batch
            batch, uids, total = [], set(), 0
        batch.append(item)
        uids.add(item.sop_instance_uid)
        total += item.size_bytes
    if batch:
        yield batch


class StowClient:
    def __init__(
        self, base_url: str, token: Callable[[], str | None], http: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http or httpx.Client(timeout=120)

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        token = self.token()
        return {**extra, **({"Authorization": f"Bearer {token}"} if token else {})}

    def present(self, uids: list[str]) -> set[str]:
        response = self._send(
            "GET",
            "/instances",
            params={"SOPInstanceUID": ",".join(uids), "includefield": "00080018"},
            headers={"Accept": DICOM_JSON},
        )
        return {
            str(value)
            for result in response.json()
            for value in result.get("00080018", {}).get("Value", [])
        }

    def store(self, files: list[LocalFile]) -> dict[str, Any]:
        boundary = f"import-{uuid.uuid4().hex}"
        body = (
            b"".join(
                f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                + f.path.read_bytes()
                + b"\r\n"
                for f in files
            )
            + f"--{boundary}--\r\n".encode()
        )
        content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
        response = self._send(
            "POST",
            "/studies",
            content=body,
            headers={"Content-Type": content_type, "Accept": DICOM_JSON},
            ok=(200, 202, 409),
        )
        return dict(response.json())

    def _send(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        headers = self._headers(kwargs.pop("headers", {}))
        try:
            response = self.http.request(method, self.base_url + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise PacsImportError(f"the PACS at {self.base_url} is unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise PacsImportError(
                f"the PACS refused the credentials ({response.status_code}): log in again or "
                "pass a fresh --token"
            )
        if response.status_code not in ok:
            raise PacsImportError(
                f"{method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response


def _items(response: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return list(response.get(tag, {}).get("Value", []))


def _first(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]


def import_batch(client: StowClient, batch: list[LocalFile]) -> list[FileOutcome]:
    present = client.present([f.sop_instance_uid for f in batch])
    response = client.store(batch)
    referenced = {str(_first(i, SOP_INSTANCE)) for i in _items(response, REFERENCED_SEQUENCE)}
    failed: dict[str | None, int] = {}
    unnamed: list[int] = []
    for item in _items(response, FAILED_SEQUENCE):
        uid, reason = _first(item, SOP_INSTANCE), int(_first(item, FAILURE_REASON) or 0x0110)
        if uid:
            failed[str(uid)] = reason
        else:
            unnamed.append(reason)
    outcomes = []
    for f in batch:
        uid = f.sop_instance_uid
        if uid in referenced:
            status = "already present" if uid in present else "stored"
            outcomes.append(FileOutcome(str(f.path), status, uid))
            continue
        code = failed.get(uid, unnamed.pop(0) if unnamed else 0x0110)
        text = FAILURE_TEXT.get(code, "refused")
        outcomes.append(FileOutcome(str(f.path), "failed", uid, f"0x{code:04X} {text}"))
    return outcomes


# files done, files in all, bytes done, bytes in all
Progress = Callable[[int, int, int, int], None]


def run_import(
    paths: list[Path],
    client: StowClient,
    *,
    batch_size: int,
    batch_bytes: int,
    progress: Progress = lambda files, total_files, sent, total_bytes: None,
) -> Summary:
    summary = Summary()
    local: list[LocalFile] = []
    for path in find_files(paths):
        found = inspect(path)
        if isinstance(found, FileOutcome):
            summary.outcomes.append(found)
        else:
            local.append(found)
    total_bytes = sum(f.size_bytes for f in local)
    done = sent = 0
    progress(done, len(local), sent, total_bytes)
    for batch in batches(local, size=batch_size, max_bytes=batch_bytes):
        summary.outcomes.extend(import_batch(client, batch))
        done += len(batch)
        sent += sum(f.size_bytes for f in batch)
        progress(done, len(local), sent, total_bytes)
    return summary


def progress_bar(args: argparse.Namespace) -> tuple[Progress, Callable[[], None]]:
    """A bar in bytes with the file count beside it; and how to close it."""
    bar = progress(args, total=None, desc="importing", unit="B", unit_scale=True)

    def show(files: int, total_files: int, sent: int, total_bytes: int) -> None:
        bar.total = total_bytes
        bar.n = sent
        bar.set_postfix_str(f"{files}/{total_files} files")

    return show, bar.close


def _token_source(args: argparse.Namespace, env_values: dict[str, str]) -> Callable[[], str | None]:
    token = args.token or os.environ.get("PACS_TOKEN")
    if token:
        return lambda: token
    if _auth is not None and env_values.get("USER_POOL_ID"):
        login = _auth.login_from_args(args, env_values)
        return login.id_token
    return lambda: None


def _print_summary(summary: Summary, out: TextIO) -> None:
    for outcome in summary.outcomes:
        if outcome.status in ("failed", "skipped"):
            print(f"{outcome.status:8} {outcome.path}: {outcome.reason}", file=out)
    print(
        f"stored {summary.count('stored')}, already present {summary.count('already present')}, "
        f"failed {summary.count('failed')}, skipped {summary.count('skipped')} (not DICOM)",
        file=out,
    )


def add_import_arguments(importer: argparse.ArgumentParser) -> None:
    importer.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    importer.add_argument("--url", help="PACS API base URL (default: PACS_API_URL)")
    importer.add_argument("--token", help="bearer token (default: PACS_TOKEN, else log in)")
    importer.add_argument("--batch-size", type=int, default=20, help="files per request")
    # API Gateway HTTP APIs take at most 10 MB per request: a batch stays under it.
    importer.add_argument("--batch-mib", type=int, default=8, help="MiB per request at most")
    if _auth is not None:
        _auth.add_login_arguments(importer)
    importer.set_defaults(check=_check)


def _check(args: argparse.Namespace) -> str | None:
    if args.batch_size < 1 or args.batch_mib < 1:
        return "--batch-size and --batch-mib must be at least 1"
    return None


def run_import_command(args: argparse.Namespace) -> int:
    """`pipeline pacs import` and `python -m clients.pacs import`."""
    env_values = parse_env(args.env_file.read_text()) if args.env_file.is_file() else {}
    url = args.url or os.environ.get("PACS_API_URL") or env_values.get("PACS_API_URL")
    if not url:
        print("error: no PACS URL: pass --url or set PACS_API_URL", file=sys.stderr)
        return EXIT_USAGE
    show, close = progress_bar(args)
    try:
        client = StowClient(url, _token_source(args, env_values))
        summary = run_import(
            args.paths,
            client,
            batch_size=args.batch_size,
            batch_bytes=args.batch_mib * MIB,
            progress=show,
        )
    except PacsImportError as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a login error from clients.auth, say: one line, no traceback
        if _auth is not None and isinstance(exc, _auth.LoginError):
            print(f"login failed: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise
    finally:
        close()
    if args.json:
        emit(args, summary.as_dict())
    elif not args.quiet:
        _print_summary(summary, sys.stdout)
    return EXIT_FAILED if summary.count("failed") else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.pacs", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="store DICOM files and folders via STOW-RS")
    add_import_arguments(importer)
    add_common_options(importer, env_file=DEFAULT_ENV_FILE)
    return invoke(parser, run_import_command, argv)


if __name__ == "__main__":
    sys.exit(main())
