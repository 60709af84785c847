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
    """Settings for the chorales: the four voices as four named tracks, sixteenth notes,
    and the NADE head (the notes of a frame jointly: on this corpus it reached a lower
    validation NLL in 400 steps than the independent head in 1500), trained for 800 steps
    so that the first run fits in about ten minutes on two cores."""
    data = DataConfig(resolution=4, tracks="keep", track_names=VOICES, pitch_low=28, pitch_high=91,
                      window_bars=4, transpose=4)
    config = RunConfig(model=model, data=data)
    if hasattr(config.model_config, "head"):
        config.model_config.head = "nade"
    config.train.steps = 800
    config.train.checkpoint_every = 400
    config.train.valid_every = 200
    return config
