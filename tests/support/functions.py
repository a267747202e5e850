"""Load a Lambda function's handler module the way Lambda does (its CodeUri on ``sys.path``),
without letting one function's ``app`` module shadow another's inside one pytest process."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"


def load_function(name: str, module: str = "app") -> ModuleType:
    """Import ``functions/<name>/<module>.py`` freshly, with ``functions/<name>`` first on sys.path.

    Modules previously imported from another function directory are dropped first, so each
    test sees exactly the code (and the environment, read at import) of the function it loads.
    """
    code_dir = FUNCTIONS / name
    if not code_dir.is_dir():
        raise FileNotFoundError(f"no function folder {code_dir}")
    for mod_name, mod in list(sys.modules.items()):
        origin = getattr(mod, "__file__", None) or ""
        if origin.startswith(str(FUNCTIONS)):
            del sys.modules[mod_name]
    sys.path[:] = [p for p in sys.path if not p.startswith(str(FUNCTIONS))]
    sys.path.insert(0, str(code_dir))
    return importlib.import_module(module)
