"""Model families behind one interface (see ``base.py``). ``FAMILIES`` maps a name to
its config dataclass and its module class; ``AUDIO_FAMILIES`` the names whose audio
model is another class (the GAN: SpecGAN on spectrograms, MuseGAN on piano-rolls)."""
from __future__ import annotations

from ..errors import MuseganError
from .conv import ConvConfig, ConvModel
from .gan import GANConfig, GANModel
from .lstm import LSTMConfig, LSTMModel
from .specgan import SpecGANConfig, SpecGANModel

FAMILIES = {
    "lstm": (LSTMConfig, LSTMModel),
    "conv": (ConvConfig, ConvModel),
    "gan": (GANConfig, GANModel),
}


AUDIO_FAMILIES = {"gan": (SpecGANConfig, SpecGANModel)}


def _family(name: str, kind: str = "midi"):
    if name not in FAMILIES:
        raise MuseganError(f"unknown model {name!r} (choose from {', '.join(FAMILIES)})")
    if kind == "audio" and name in AUDIO_FAMILIES:
        return AUDIO_FAMILIES[name]
    return FAMILIES[name]


def model_config_class(name: str, kind: str = "midi"):
    return _family(name, kind)[0]


def build_model(name: str, config):
    """The module of family ``name`` for its config (whose class says midi or audio)."""
    audio = name in AUDIO_FAMILIES and isinstance(config, AUDIO_FAMILIES[name][0])
    return _family(name, "audio" if audio else "midi")[1](config)
