"""Model families behind one interface (see ``base.py``). ``FAMILIES`` maps a name to
its config dataclass and its module class."""
from __future__ import annotations

from ..errors import MuseganError
from .conv import ConvConfig, ConvModel
from .gan import GANConfig, GANModel
from .lstm import LSTMConfig, LSTMModel

FAMILIES = {
    "lstm": (LSTMConfig, LSTMModel),
    "conv": (ConvConfig, ConvModel),
    "gan": (GANConfig, GANModel),
}


def _family(name: str):
    if name not in FAMILIES:
        raise MuseganError(f"unknown model {name!r} (choose from {', '.join(FAMILIES)})")
    return FAMILIES[name]


def model_config_class(name: str):
    return _family(name)[0]


def build_model(name: str, config):
    return _family(name)[1](config)
