"""musegan: generate music (MIDI and audio) with GAN, LSTM and convolutional models.

Python API::

    import musegan
    musegan.train(corpus="midi/", out="runs/mine")      # or corpus=None: Bach chorales
    model = musegan.load("runs/mine")
    pm = model.generate(bars=16, seed=0)                 # a pretty_midi.PrettyMIDI
    y, sr = musegan.load("runs/wavs-lstm").generate(seconds=4, seed=0)   # audio runs: a waveform
"""
from .errors import MuseganError
from .generation import AudioModel, MusicModel, load
from .representations.pianoroll import Multitrack, Song, Track
from .training import make_config, train

__version__ = "0.1.0"
__all__ = ["AudioModel", "MuseganError", "MusicModel", "Multitrack", "Song", "Track", "load", "make_config", "train"]
