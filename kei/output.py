"""What kei writes: strict JSON on stdout, and output paths checked before the work starts.

JSON: no NaN or Infinity anywhere (RFC 8259 has neither; `json.dumps` writes them by default). A
non-finite number becomes null, and the object says why under "null_reasons" (dotted path ->
reason), so a program reading it never meets a bare null it cannot explain.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kei.errors import UsageError

PLOT_SUFFIXES = (".png", ".pdf", ".svg")  # what matplotlib's Agg backend writes without extras


def _finite(value: Any, path: str, reasons: dict[str, str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        reasons[path or "."] = f"not a finite number ({value})"
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), reasons) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", reasons) for i, v in enumerate(value)]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return _finite(value.item(), path, reasons)
    return value


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    """`obj` as strict JSON; non-finite numbers become null with their reason in "null_reasons"."""
    reasons: dict[str, str] = {}
    clean = _finite(obj, "", reasons)
    if reasons and isinstance(clean, dict):
        clean = {**clean, "null_reasons": {**clean.get("null_reasons", {}), **reasons}}
    return json.dumps(clean, indent=indent, allow_nan=False, default=str)


def print_json(obj: Any) -> None:
    print(to_json(obj))


def check_output_path(path: str | Path | None, option: str, suffixes: tuple[str, ...]) -> Path | None:
    """An output file the command will write: its folder must exist and its extension be one the
    writer knows. Checked before the work starts, so a slip costs no run."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise UsageError(option, f"{path} is a folder; give a file name ending in {' or '.join(suffixes)}")
    if path.suffix.lower() not in suffixes:
        raise UsageError(option, f"{path}: unsupported extension {path.suffix or '(none)'!r}; use "
                         f"{' or '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(option, f"{path}: the folder {parent} does not exist")
    return path
