"""``python -m demo`` (``make demo``): the whole system on this machine, driven with real data.

The demo uses the same code users deploy: the common layer and the PACS API's seeding module
(which live in a Lambda layer and a container image on AWS) are put on the path here.
"""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT / "layers" / "common", _ROOT / "containers" / "pacs_api"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
