"""The polyphonic-music benchmark files (Boulanger-Lewandowski et al. 2012, as
distributed with the TCN code): a MATLAB .mat file with keys ``traindata``,
``validdata`` and ``testdata``, each a ``(1, N)`` cell of ``(T, 88)`` 0/1 piano rolls
(column ``k`` is MIDI pitch ``k + 21``)."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..errors import MuseganError

SPLITS = ("traindata", "validdata", "testdata")


def read_polyphonic_mat(path) -> dict[str, list[np.ndarray]]:
    """``{"traindata": [roll (T, F) uint8, ...], "validdata": ..., "testdata": ...}``;
    a one-line :class:`MuseganError` for a missing or malformed file."""
    import scipy.io
    from scipy.io.matlab import MatReadError

    path = Path(path)
    if not path.is_file():
        raise MuseganError(f"{path}: no such file")
    try:
        mat = scipy.io.loadmat(str(path))
    except (MatReadError, ValueError, TypeError, IndexError, OSError, EOFError, NotImplementedError,
            zlib.error) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MuseganError(f"{path}: not a readable .mat file ({first[:160]})") from None
    splits, width = {}, None
    for key in SPLITS:
        if key not in mat:
            raise MuseganError(f"{path}: no {key!r} (a benchmark file holds {', '.join(SPLITS)})")
        cell = mat[key]
        if not isinstance(cell, np.ndarray) or cell.dtype != object or cell.size == 0:
            raise MuseganError(f"{path}: {key} is not a non-empty cell array of piano rolls")
        rolls = []
        for i, roll in enumerate(cell.ravel()):
            roll = np.asarray(roll)
            if roll.ndim != 2 or roll.shape[0] == 0 or roll.shape[1] == 0 or roll.dtype == object:
                raise MuseganError(f"{path}: {key}[{i}] has shape {roll.shape}; expected (frames, keys)")
            if width is not None and roll.shape[1] != width:
                raise MuseganError(f"{path}: {key}[{i}] has {roll.shape[1]} columns, the others {width}")
            width = roll.shape[1]
            if not np.isin(roll, (0, 1)).all():
                raise MuseganError(f"{path}: {key}[{i}] holds values other than 0 and 1")
            rolls.append(roll.astype(np.uint8))
        splits[key] = rolls
    return splits
