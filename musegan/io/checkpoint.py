"""Checkpoints: tensors and plain-data config only, written atomically, read with
``torch.load(..., weights_only=True)`` so that no foreign object is ever unpickled."""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import MuseganError
from .files import atomic_write_bytes

FORMAT = "musegan-checkpoint"
VERSION = 1
NAMES = ("best.pt", "checkpoint.pt")  # what a run folder is read from, in this order


def save_checkpoint(path, payload: dict) -> Path:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **payload}, buf)
    return atomic_write_bytes(path, buf.getvalue())


def find_checkpoint(run) -> Path:
    """A run folder (its best.pt, else checkpoint.pt) or a checkpoint file."""
    run = Path(run)
    if run.is_dir():
        for name in NAMES:
            if (run / name).is_file():
                return run / name
        raise MuseganError(f"{run}: no checkpoint in this folder (looked for {', '.join(NAMES)})")
    if not run.exists():
        raise MuseganError(f"{run}: no such run folder or checkpoint file")
    return run


def load_checkpoint(path) -> dict:
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MuseganError(f"{path}: not a readable musegan checkpoint ({first[:160]})") from None
    except OSError as e:
        raise MuseganError(f"{path}: cannot read ({e.strerror or e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise MuseganError(f"{path}: not a musegan checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version") != VERSION:
        raise MuseganError(f"{path}: checkpoint version {ckpt.get('version')} is not supported (expected {VERSION})")
    for key in ("config", "info", "model", "step"):
        if key not in ckpt:
            raise MuseganError(f"{path}: incomplete musegan checkpoint (no {key!r})")
    return ckpt
