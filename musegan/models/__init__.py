"""Model families behind one interface (see ``base.py``). ``FAMILIES`` maps a module
name to its config dataclass and its module class. The names a user picks with
``--model`` are ``PUBLIC``; a data kind may have one of them played by a module of its
own (``kinds.Spectrogram.families``: the GAN on spectrograms is the SpecGAN)."""
from __future__ import annotations

from ..errors import MuseganError
from .coconet import CoconetConfig, CoconetModel
from .conv import ConvConfig, ConvModel
from .gan import GANConfig, GANModel
from .lstm import LSTMConfig, LSTMModel
from .specgan import SpecGANConfig, SpecGANModel

FAMILIES = {
    "lstm": (LSTMConfig, LSTMModel),
    "conv": (ConvConfig, ConvModel),
    "gan": (GANConfig, GANModel),
    "coconet": (CoconetConfig, CoconetModel),
    "specgan": (SpecGANConfig, SpecGANModel),
}
PUBLIC = ("lstm", "conv", "gan", "coconet")


def infill_families() -> list[str]:
    """The public families that condition on the future, and so infill."""
    return [name for name in PUBLIC if FAMILIES[name][1].conditions_on_future]


def model_config_class(name: str, kind: str = "midi"):
    """The config dataclass of family ``name`` on data of ``kind``."""
    from ..kinds import get_kind

    if name not in PUBLIC:
        raise MuseganError(f"unknown model {name!r} (choose from {', '.join(PUBLIC)})")
    return FAMILIES[get_kind(kind).families.get(name, name)][0]


def build_model(name: str, config):
    """The module of family ``name`` for its config (whose class names the module)."""
    for config_cls, model_cls in FAMILIES.values():
        if type(config) is config_cls:
            return model_cls(config)
    raise MuseganError(f"model {name!r}: no family takes a {type(config).__name__}")
