"""A content-addressed cache of per-file evaluation results (embeddings, notes, distances).

Keys are content hashes of the audio plus the identity of the model that produced a result, so
re-running an evaluation recomputes only what is new or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (32 hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def key_of(*parts: str | bytes | os.PathLike) -> str:
    """A cache key from several parts (e.g. checkpoint hash, MIDI hash, sampler settings)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else os.fspath(part).encode()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:32]


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in part)


class EvalCache:
    """Arrays and JSON records stored under ``root/<kind>/<key>``; in memory when root is None.

    Thread-safe; files are written atomically (temp file + rename), so an interrupted run
    leaves only complete entries and the next run resumes from them.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else None
        self._memory: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        assert self.root is not None
        return self.root / _safe(kind) / f"{_safe(key)}{suffix}"

    def _write(self, path: Path, write) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_array(self, kind: str, key: str) -> np.ndarray | None:
        if self.root is None:
            with self._lock:
                return self._memory.get((kind, key))
        path = self._path(kind, key, ".npy")
        try:
            return np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError):
            return None

    def put_array(self, kind: str, key: str, value: np.ndarray) -> None:
        value = np.ascontiguousarray(value)
        if self.root is None:
            with self._lock:
                self._memory[(kind, key)] = value
            return
        self._write(self._path(kind, key, ".npy"), lambda f: np.save(f, value, allow_pickle=False))

    def get_json(self, kind: str, key: str) -> dict | None:
        if self.root is None:
            with self._lock:
                return self._memory.get((kind, key))
        try:
            return json.loads(self._path(kind, key, ".json").read_text())
        except (FileNotFoundError, ValueError, OSError):
            return None

    def put_json(self, kind: str, key: str, value: dict) -> None:
        if self.root is None:
            with self._lock:
                self._memory[(kind, key)] = dict(value)
            return
        data = json.dumps(value).encode()
        self._write(self._path(kind, key, ".json"), lambda f: f.write(data))

    def ensure_file(self, kind: str, key: str, suffix: str, make) -> Path:
        """``root/<kind>/<key><suffix>``, created by ``make(tmp_path)`` only when missing.

        For generated audio: ``make`` writes the file (e.g. synthesizes a test song) to the
        temporary path it is given, which is then renamed into place, so an interrupted run
        never leaves a partial file. Needs a cache with a root folder.
        """
        if self.root is None:
            raise ValueError("ensure_file needs an EvalCache with a root folder")
        path = self._path(kind, key, suffix)
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        try:
            make(Path(tmp))
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    def count(self, kind: str) -> int:
        """Number of stored entries of one kind (for tests and progress messages)."""
        if self.root is None:
            with self._lock:
                return sum(1 for k, _ in self._memory if k == kind)
        folder = self.root / _safe(kind)
        if not folder.is_dir():
            return 0
        return sum(1 for p in folder.glob("*") if not p.name.startswith(".tmp-"))
