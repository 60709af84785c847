"""Checkpoints: tensors and plain-data config only, written atomically, read with
``torch.load(..., weights_only=True)`` so that no foreign object is ever unpickled."""
from __future__ import annotations

import io
import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import MuseganError
from .files import atomic_write_bytes

FORMAT = "musegan-checkpoint"
VERSION = 1
NAMES = ("best.pt", "checkpoint.pt")  # what a run folder is read from, in this order
SAFE_MODULES = ("torch", "torch._utils")  # the globals torch.save writes for tensors, storages, dtypes
SAFE_GLOBALS = ("collections.OrderedDict",)


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
        with warnings.catch_warnings():  # torch warns of pickle protocols it does not expect
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise MuseganError(f"{path}: cannot read ({e.strerror or e})") from None
    except Exception as e:  # torch raises many types on a bad file (KeyError on some garbage)
        raise MuseganError(f"{path}: {_why_unloadable(path, e)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise MuseganError(f"{path}: not a musegan checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version") != VERSION:
        raise MuseganError(f"{path}: checkpoint version {ckpt.get('version')} is not supported (expected {VERSION})")
    for key in ("config", "info", "model", "step"):
        if key not in ckpt:
            raise MuseganError(f"{path}: incomplete musegan checkpoint (no {key!r})")
    return ckpt


def _why_unloadable(path: Path, error: Exception) -> str:
    """Why torch's weights-only loader refused ``path``, in our words."""
    foreign = _foreign_globals(path)
    if foreign:
        return (f"refused: this file holds pickled Python objects ({', '.join(foreign[:3])}) that a musegan "
                "checkpoint never contains; nothing in it was run")
    if not zipfile.is_zipfile(path):
        return ("not a readable musegan checkpoint (not a complete zip archive as torch.save writes: "
                "truncated, a plain pickle or another kind of file)")
    if isinstance(error, pickle.UnpicklingError):
        return ("refused: its pickled data is damaged or holds objects that a musegan checkpoint never contains; "
                "nothing in it was run")
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"not a readable musegan checkpoint ({first[:160]})"


def _foreign_globals(path: Path) -> list[str]:
    """The ``module.name`` globals, other than torch's tensor rebuilders, storages and
    dtypes, that the pickle in ``path`` refers to: read from its opcodes, nothing is run."""
    found, strings, memo, top = [], [], {}, None
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z, z.open(next(n for n in z.namelist() if n.endswith("data.pkl"))) as f:
                data = f.read(1 << 26)
        else:  # a plain pickle, or torch's legacy format: pickles back to back, then raw storage bytes
            with open(path, "rb") as f:
                data = f.read(1 << 26)
        f = io.BytesIO(data)
        while f.tell() < len(data):
            for op, arg, _ in pickletools.genops(f):
                if op.name == "GLOBAL":
                    found.append(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:  # module and name: the last two strings
                    found.append(".".join(strings[-2:]))
                if op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                    memo[len(memo) if op.name == "MEMOIZE" else arg] = top
                    continue
                top = memo.get(arg) if "GET" in op.name else arg if "UNICODE" in op.name else None
                if top:
                    strings.append(top)
    except Exception:  # damaged: the globals read before the damage
        pass
    return list(dict.fromkeys(g for g in found if g.rpartition(".")[0] not in SAFE_MODULES and g not in SAFE_GLOBALS))
