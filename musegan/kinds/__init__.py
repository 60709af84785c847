"""Data kinds: one object per representation, which owns what training, generation
and preparation need to know about its data (muspy's one processor per
representation). ``get_kind(config.data.kind)`` gives it; nothing else branches on
the kind.

A new representation is one new file with a :class:`~musegan.kinds.base.DataKind`
subclass, plus its line in ``KINDS``.
"""
from __future__ import annotations

import importlib

from ..errors import MuseganError

KINDS = {  # data.kind -> "module:Class", imported when first asked for
    "midi": "musegan.kinds.pianoroll:PianoRoll",
    "audio": "musegan.kinds.spectrogram:Spectrogram",
    "tokens": "musegan.kinds.tokens:Tokens",  # audio as k-means codebook tokens (--set data.kind=tokens)
}

_loaded: dict = {}


def get_kind(name: str):
    """The :class:`DataKind` object of ``data.kind = name``."""
    if name not in _loaded:
        if name not in KINDS:
            raise MuseganError(f"data.kind={name!r}: expected one of {', '.join(KINDS)}")
        module, cls = KINDS[name].split(":")
        _loaded[name] = getattr(importlib.import_module(module), cls)()
    return _loaded[name]
