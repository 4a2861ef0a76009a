"""The study file: JSON Lines, a header, then one row per point, appended and flushed as it completes.

    {"kei_study": 1, "kind": "montecarlo", "spec": {...}, "inputs": {file: sha256}, "kei": "0.1.0"}
    {"i": 0, "question": "verdict", "set": [["catalog.bodies.*.cost_usd", "*=", 0.93]], "result": {...}}
    ...

A study killed midway leaves every completed row on disk (a half-written last line is dropped when
the file is opened again). `kei study resume FILE` runs the study again from its header; points
already in the file are not solved twice. When the study completes, the file is rewritten (atomically)
with its rows in point order, so an interrupted and resumed study leaves the same file as one that
ran through.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from kei.errors import ConfigError, UsageError

FORMAT = 1


def _line(obj: dict) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"


class StudyFile:
    """Rows by point key; written to `path` as they come (None: kept in memory only)."""

    def __init__(self, path: Path | None, header: dict, rows: dict[str, dict] | None = None):
        self.path = path
        self.header = header
        self.rows = rows or {}
        self.created = False   # by this run (not an existing file opened to resume)
        self._out = None

    @classmethod
    def create(cls, path: str | Path | None, header: dict) -> "StudyFile":
        store = cls(Path(path) if path is not None else None, header)
        store.created = True
        if store.path is not None:
            if store.path.exists():
                raise UsageError("--out", f"{store.path} exists: continue it with `kei study resume {store.path}` "
                                 "or choose another file")
            store._out = store.path.open("x", encoding="utf-8")
            store._out.write(_line(header))
            store._out.flush()
        return store

    @classmethod
    def open(cls, path: str | Path) -> "StudyFile":
        path = Path(path)
        if not path.is_file():
            raise UsageError("FILE", f"{path}: no such study file")
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        complete = raw.endswith(b"\n")
        if not complete:  # killed in the middle of a row: that row was never finished
            lines, raw = lines[:-1], raw[: raw.rfind(b"\n") + 1]
        lines = [ln for ln in lines if ln.strip()]
        if not lines:
            raise ConfigError(str(path), None, "empty: not a kei study file")
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError as err:
            raise ConfigError(str(path), "line 1", f"not a kei study file: {err}") from err
        if not isinstance(header, dict) or header.get("kei_study") != FORMAT:
            raise ConfigError(str(path), "line 1", f"not a kei study file of format {FORMAT}")
        rows = {}
        for n, line in enumerate(lines[1:], start=2):
            try:
                row = json.loads(line)
                key = json.dumps([row["question"], row["set"]])
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ConfigError(str(path), f"line {n}", f"not a study row: {err}") from err
            rows[key] = row
        store = cls(path, header, rows)
        if not complete:
            path.write_bytes(raw)
        store._out = path.open("a", encoding="utf-8")
        return store

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def append(self, key: str, row: dict) -> None:
        self.rows[key] = row
        if self._out is not None:
            self._out.write(_line(row))
            self._out.flush()

    def finish(self, keys: list[str]) -> None:
        """Rewrite the file as the header and the rows of `keys`, in point order."""
        self.close()
        if self.path is None:
            return
        rows = sorted((self.rows[k] for k in keys), key=lambda r: r["i"])
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.write(_line(self.header))
            for row in rows:
                out.write(_line(row))
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
