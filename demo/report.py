"""How the demo prints: short headed sections, one fact per line."""

from __future__ import annotations

import json
from typing import Any


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 74 - len(title)), flush=True)


def line(label: str, value: Any) -> None:
    print(f"  {label:26} {value}", flush=True)


def block(value: Any) -> None:
    text = json.dumps(value, indent=2, default=str) if not isinstance(value, str) else value
    print("\n".join("    " + row for row in text.splitlines()), flush=True)
