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
    """Settings for the chorales: the four voices as four named tracks, sixteenth notes."""
    data = DataConfig(resolution=4, tracks="keep", track_names=VOICES, pitch_low=28, pitch_high=91,
                      window_bars=4, transpose=4)
    return RunConfig(model=model, data=data)
