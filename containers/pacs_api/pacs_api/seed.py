"""``python -m pacs_api.seed --bucket NAME``: put real DICOM files shipped by pydicom in the PACS.

Writes S3 directly, through the same ``PacsStore.put_instance`` as STOW-RS (same layout, same
index summaries, never an overwrite): fast for tests and the demo. Everyone else stores through
STOW-RS (``python -m clients.pacs import PATH``). Idempotent: identical objects are left alone.

Demo set (ids are each file's own Study/Series/SOP Instance UIDs):
- ``CT_small.dcm`` (CT 128x128), ``MR_small.dcm`` (MR 64x64), ``liver_1frame.dcm`` (SEG 512x512,
  1 bit), ``examples_overlay.dcm`` (MR 300x484, two VOI windows);
- the seven instances of pydicom's ``dicomdirtests/98892003/MR700`` series (MR 16x16, a real
  multi-instance series whose file order differs from its InstanceNumber order).

``--with-broken`` adds, under study ``broken-samples`` / series ``broken-series`` (plain names,
because ``MR_truncated.dcm`` carries the very UIDs of ``MR_small.dcm``):
``MR_truncated`` (pixel data cut short), ``not-dicom`` (plain text) and ``no-pixel-data``
(``rtplan.dcm``, a valid DICOM RT Plan with no image).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydicom import dcmread
from pydicom.data import get_testdata_file, get_testdata_files

from pacs_api import layout
from pacs_api.dicom_files import parse_dicom
from pacs_api.dicomjson import summarize, unreadable_summary
from pacs_api.errors import NotDicom, PacsError
from pacs_api.store import PacsStore
from pipeline_common import aws

DEMO_FILES = ("CT_small.dcm", "MR_small.dcm", "liver_1frame.dcm", "examples_overlay.dcm")
DEMO_SERIES_GLOB = "dicomdirtests/98892003/MR700/*"
BROKEN_STUDY_ID = "broken-samples"
BROKEN_SERIES_ID = "broken-series"
NOT_DICOM_BODY = b"This object is plain text, not a DICOM file.\n"


@dataclass(frozen=True)
class SeedObject:
    study_id: str
    series_id: str
    instance_id: str
    source: str
    body: bytes

    @property
    def key(self) -> str:
        return layout.instance_key(self.study_id, self.series_id, self.instance_id)


@dataclass(frozen=True)
class SeedOutcome:
    study_id: str
    series_id: str
    instance_id: str
    key: str
    source: str
    size_bytes: int
    status: str  # "uploaded" or "unchanged"


def _testdata_path(name: str) -> Path:
    # get_testdata_file would download files that are not bundled; every file used here is.
    path = get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(f"pydicom does not bundle {name}")
    return Path(path)


def _from_file(path: Path, source: str) -> SeedObject:
    ds = dcmread(path, stop_before_pixels=True)
    return SeedObject(
        study_id=str(ds.StudyInstanceUID),
        series_id=str(ds.SeriesInstanceUID),
        instance_id=str(ds.SOPInstanceUID),
        source=source,
        body=path.read_bytes(),
    )


def demo_files() -> list[tuple[str, Path]]:
    """``(source name, path)`` of the demo set: what ``clients.pacs import`` sends in the demo."""
    files = [(name, _testdata_path(name)) for name in DEMO_FILES]
    for path in sorted(get_testdata_files(DEMO_SERIES_GLOB)):
        files.append(("dicomdirtests/98892003/MR700/" + Path(path).name, Path(path)))
    return files


def demo_objects() -> list[SeedObject]:
    return [_from_file(path, source) for source, path in demo_files()]


def broken_objects() -> list[SeedObject]:
    def broken(instance_id: str, source: str, body: bytes) -> SeedObject:
        return SeedObject(BROKEN_STUDY_ID, BROKEN_SERIES_ID, instance_id, source, body)

    return [
        broken("MR_truncated", "MR_truncated.dcm", _testdata_path("MR_truncated.dcm").read_bytes()),
        broken("not-dicom", "plain text", NOT_DICOM_BODY),
        broken("no-pixel-data", "rtplan.dcm", _testdata_path("rtplan.dcm").read_bytes()),
    ]


def seed_pacs(
    bucket: str, *, with_broken: bool = False, s3: Any | None = None
) -> list[SeedOutcome]:
    store = PacsStore(bucket, s3 or aws.client("s3"))
    objects = demo_objects() + (broken_objects() if with_broken else [])
    return [_put(store, obj) for obj in objects]


def _put(store: PacsStore, obj: SeedObject) -> SeedOutcome:
    try:
        summary = summarize(parse_dicom(obj.body, obj.instance_id), obj.body)
    except NotDicom as exc:
        summary = unreadable_summary(obj.body, exc.message)
    written = store.put_instance(
        obj.study_id,
        obj.series_id,
        obj.instance_id,
        obj.body,
        summary=summary,
        source=obj.source,
        check_first=True,
    )
    return SeedOutcome(
        study_id=obj.study_id,
        series_id=obj.series_id,
        instance_id=obj.instance_id,
        key=obj.key,
        source=obj.source,
        size_bytes=len(obj.body),
        status="uploaded" if written == "stored" else "unchanged",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pacs_api.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--bucket", default=os.environ.get("PACS_BUCKET"), help="PACS bucket name")
    parser.add_argument(
        "--with-broken", action="store_true", help="also add the broken samples (for tests)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("--bucket (or PACS_BUCKET) is required")
    try:
        outcomes = seed_pacs(args.bucket, with_broken=args.with_broken)
    except (ClientError, PacsError) as exc:
        print(f"seed failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps({"bucket": args.bucket, "objects": [asdict(o) for o in outcomes]}, indent=2)
        )
    else:
        for o in outcomes:
            print(f"{o.status:9} s3://{args.bucket}/{o.key}  ({o.source}, {o.size_bytes} bytes)")
        print(f"{len(outcomes)} objects in s3://{args.bucket}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
