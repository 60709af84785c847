"""Atomic writes: a reader never sees half a file, and a killed writer loses nothing."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_bytes(path, data: bytes) -> Path:
    return atomic_write_chunks(path, [data])


def atomic_write_chunks(path, chunks) -> Path:
    """``atomic_write_bytes`` of the bytes of ``chunks`` (an iterable), never all in memory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            for data in chunks:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path, obj) -> Path:
    """JSON with one top-level key, and one element of a top-level list, per line:
    readable and diffable, and written by the C encoder (``indent=`` is pure Python,
    seconds for a manifest of thousands of files)."""
    return atomic_write_bytes(path, (_json_text(obj) + "\n").encode())


def _json_text(obj) -> str:
    if not isinstance(obj, dict):
        return json.dumps(obj)

    def value(v):
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            return "[\n  " + ",\n  ".join(json.dumps(e) for e in v) + "\n ]"
        return json.dumps(v)

    return "{\n" + ",\n".join(f" {json.dumps(str(k))}: {value(v)}" for k, v in obj.items()) + "\n}"


def atomic_save_npy(path, array: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def write_png(path, rgb: np.ndarray) -> Path:
    """An RGB image ``(height, width, 3)`` uint8 as a PNG file (zlib only: no imaging library)."""
    import struct
    import zlib

    rgb = np.ascontiguousarray(rgb, np.uint8)
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return atomic_write_bytes(path, png)


@contextlib.contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on ``folder`` (a ``.lock`` file in it, created with the
    folder) for the block: a second process that asks waits until the first is done.
    Where the OS has no ``fcntl`` (Windows) the block runs unlocked."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(folder / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_npy(path, mmap: bool = True) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


class CsvLog:
    """Rows appended to a CSV file and flushed at once (a killed run keeps its log).
    Columns: ``fields`` first, then any other keys of the first row. ``until_step``
    (when appending: a resumed run) first drops the rows after that step, and a row
    cut short by a kill, so that every step is logged once."""

    def __init__(self, path, fields=(), append: bool = False, until_step: int | None = None):
        self.path, self.fields, self.writer = Path(path), tuple(fields), None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if append and until_step is not None and self.path.exists():
            _keep_rows_until(self.path, until_step)
        self.file = open(self.path, "a" if append and self.path.exists() else "w", newline="")

    def write(self, row: dict) -> None:
        if self.writer is None:
            columns = list(self.fields) + [k for k in row if k not in self.fields]
            self.writer = csv.DictWriter(self.file, columns, extrasaction="ignore")
            if self.file.tell() == 0:
                self.writer.writeheader()
        self.writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _keep_rows_until(path: Path, step: int) -> None:
    """Rewrite a CSV log (atomically) without its rows after ``step`` or cut short."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    keep = [r for r in body if len(r) == len(header) and r[0].isdigit() and int(r[0]) <= step]
    if len(keep) < len(body):
        buf = io.StringIO()
        csv.writer(buf).writerows([header, *keep])
        atomic_write_bytes(path, buf.getvalue().encode())
