"""Dataclass configs, ``--set a.b=value`` overrides, and the plain-dict round trip.

A run's whole configuration is a :class:`RunConfig`: the model family's name, the
data config, the trainer config and the family's own model config (each model file
holds its config dataclass). ``to_dict``/``from_dict`` give plain data for
checkpoints and ``config.json``.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

from .errors import MuseganError


@dataclass
class DataConfig:
    kind: str = "midi"  # midi (symbolic: MIDI, MusicXML, ABC, Humdrum) | audio (WAV, FLAC, OGG) | tokens (audio)
    # symbolic corpora
    resolution: int = 4  # steps per quarter note
    tracks: str = "lpd5"  # lpd5 | merge | keep
    max_tracks: int = 4  # rows kept in mode "keep"
    track_names: tuple = ()  # mode "keep": pick tracks whose names contain these, in this order
    pitch_low: int = 21
    pitch_high: int = 108
    onsets: bool = True  # model note onsets, so that repeated notes stay separate
    window_bars: int = 4  # training window
    steps_per_bar: int = 0  # 0: from the corpus's most common time signature
    transpose: int = 5  # random transposition of up to +-N semitones while training
    key: str = "own"  # own | common: each piece moved within a tritone to C major / A minor's key signature
    #                   for training; generation moves each piece to a key drawn from the corpus's own keys
    valid_percent: float = 10.0
    # audio corpora: log-magnitude spectrograms (see representations/spectrogram.py)
    sample_rate: int = 44100  # every file is resampled to this rate
    channels: int = 1  # 1 mixes down to mono; N keeps N channels (mono files copied, extra channels dropped)
    spectrogram: str = "mel"  # mel | stft (linear frequency)
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    window_frames: int = 128  # training window in spectrogram frames (128 x 512 / 44100 = 1.49 s)
    # audio tokens (kind tokens, see kinds/tokens.py): log-mel frames as k-means codewords
    codebook_size: int = 512  # codewords, learned from the training files at the run's start
    token_decoder: str = "grains"  # grains (overlap-add of the corpus's own grains) | spectra (Griffin-Lim)


@dataclass
class TrainConfig:
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup: int = 100
    grad_clip: float = 1.0
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # bf16 autocast on CUDA
    seed: int = 0
    checkpoint_every: int = 500
    valid_every: int = 250
    valid_batches: int = 20
    samples: int = 2  # samples (MIDI, or WAV for audio) written at each checkpoint
    sample_bars: int = 8
    sample_seconds: float = 3.0  # audio samples
    num_workers: int = 0
    workers: int = 0  # processes for corpus preparation (0: all cores)
    threads: int = 0  # torch CPU threads of each training process (0: half the cores, at least 1)


@dataclass
class RunConfig:
    model: str = "lstm"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model_config: typing.Any = None  # the family's config dataclass

    def __post_init__(self):
        if self.model_config is None:
            from .models import model_config_class

            self.model_config = model_config_class(self.model, self.data.kind)()

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "data": to_plain(self.data),
            "train": to_plain(self.train),
            "model_config": to_plain(self.model_config),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        from .models import model_config_class

        name = d.get("model", "lstm")
        data = from_plain(DataConfig, d.get("data", {}))
        return cls(
            model=name,
            data=data,
            train=from_plain(TrainConfig, d.get("train", {})),
            model_config=from_plain(model_config_class(name, data.kind), d.get("model_config", {})),
        )

    def apply_overrides(self, overrides: list[str]) -> "RunConfig":
        """Apply ``section.key=value`` strings (sections: data, train, model)."""
        for item in overrides or []:
            if "=" not in item:
                raise MuseganError(f"--set {item!r}: expected section.key=value, e.g. train.lr=1e-3")
            key, value = item.split("=", 1)
            section, _, name = key.strip().partition(".")
            target = {"data": self.data, "train": self.train, "model": self.model_config}.get(section)
            if target is None or not name:
                raise MuseganError(f"--set {item!r}: the key must start with data., train. or model.")
            set_field(target, name, value, label=key)
        return self


def to_plain(obj) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def from_plain(cls, d: dict):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise MuseganError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    kwargs = {k: (tuple(v) if hints[k] is tuple else v) for k, v in d.items()}
    return cls(**kwargs)


def set_field(obj, name: str, value: str, label: str | None = None) -> None:
    """Set a dataclass field from its string form, converted by the field's type."""
    label = label or name
    hints = typing.get_type_hints(type(obj))
    if name not in hints or name not in {f.name for f in dataclasses.fields(obj)}:
        known = ", ".join(f.name for f in dataclasses.fields(obj))
        raise MuseganError(f"unknown setting {label!r} (known: {known})")
    setattr(obj, name, parse_value(hints[name], value, label))


def parse_value(typ, value: str, label: str):
    value = value.strip()
    try:
        if typ is bool:
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            return int(value)
        if typ is float:
            return float(value)
        if typ is tuple:
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if typ is str:
            return value
    except ValueError:
        raise MuseganError(f"{label}={value!r}: expected {getattr(typ, '__name__', typ)}") from None
    raise MuseganError(f"{label}: cannot be set from the command line")
