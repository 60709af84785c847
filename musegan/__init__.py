"""musegan: generate music (MIDI and audio) with GAN, LSTM and convolutional models.

Python API::

    import musegan
    musegan.train(corpus="midi/", out="runs/mine")      # or corpus=None: Bach chorales
    model = musegan.load("runs/mine")
    pm = model.generate(bars=16, seed=0)                 # a pretty_midi.PrettyMIDI
    y, sr = musegan.load("runs/wavs-lstm").generate(seconds=4, seed=0)   # audio runs: a waveform
"""
import importlib

__version__ = "0.1.0"
__all__ = ["AudioModel", "MuseganError", "MusicModel", "Multitrack", "Song", "Track", "load", "make_config", "train"]

# Public names are imported on first use: ``musegan --help`` must not wait for torch.
_HOMES = {"MuseganError": ".errors", "AudioModel": ".generation", "MusicModel": ".generation", "load": ".generation",
          "Multitrack": ".representations.pianoroll", "Song": ".representations.pianoroll",
          "Track": ".representations.pianoroll", "make_config": ".training", "train": ".training"}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'musegan' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value  # once only
    return value


def __dir__():
    return sorted([*globals(), *__all__])
