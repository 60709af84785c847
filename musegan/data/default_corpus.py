"""The built-in default corpus: the Bach chorales that the music21 package ships
(public-domain compositions; encodings distributed with music21, BSD-3). Nothing is
downloaded: the files are inside the installed music21 package."""
from __future__ import annotations

from pathlib import Path

from ..config import DataConfig, RunConfig
from ..errors import MuseganError

VOICES = ("soprano", "alto", "tenor", "bass")


def default_corpus_files() -> list[Path]:
    """The chorale scores (.mxl, .krn, .xml) of music21's ``bach`` corpus folder."""
    try:
        from music21 import corpus
    except ImportError:
        raise MuseganError("the default corpus needs music21 (pip install music21)") from None
    files = sorted(Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in (".mxl", ".krn", ".xml"))
    if not files:
        raise MuseganError("music21 is installed without its corpus; pass --corpus DIR")
    return files


def default_corpus_config(model: str = "lstm") -> RunConfig:
    """Settings for the chorales: the four voices as four named tracks (each one
    categorical per step: see models/voices.py), sixteenth notes, in their own keys, and
    2,400 steps of 16 windows, so that the first run (install included) fits in about
    eight minutes on two cores.

    Measured with `musegan evaluate RUN --reference <the chorales> --num 48 --bars 16`
    (a classifier told 192 generated 4-bar segments from 192 real ones): 2,400 steps of 16
    windows in their own keys, 0.70 +- 0.03 (2,000 steps: 0.77 +- 0.07); the same with
    random transposition by up to 4 semitones, 0.79 (keys the corpus does not use, wider
    leaps), and 2,000 steps of 32 windows so, 0.80; the earlier default (NADE head over
    whole frames, 800 steps of 32), 0.97.
    """
    data = DataConfig(resolution=4, tracks="keep", track_names=VOICES, pitch_low=28, pitch_high=91,
                      window_bars=4, transpose=0)
    config = RunConfig(model=model, data=data)
    if hasattr(config.model_config, "head"):
        config.model_config.head = "nade"  # for tracks that are not voices; the chorales have none
    config.train.steps = 2400
    config.train.batch_size = 16
    config.train.checkpoint_every = 1200
    config.train.valid_every = 400
    return config
