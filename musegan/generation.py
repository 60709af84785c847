"""Checkpoint -> samples -> MIDI. The Python API for composition scripts::

    import musegan
    model = musegan.load("runs/mine")
    pm = model.generate(bars=16, seed=0, temperature=1.0, primer="intro.mid")
    pm.write("song.mid")
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .data.dataset import frame_spec
from .errors import MuseganError
from .io.checkpoint import find_checkpoint, load_checkpoint
from .io.midi import read_primer, to_pretty_midi, write_pretty_midi
from .models import build_model
from .representations.pianoroll import END, START, TRACK, PITCH, Song, Track, frames_to_notes, map_tracks, notes_to_frames


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise MuseganError(f"--device {device!r}: expected auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MuseganError(f"--device {device}: CUDA is not available on this machine")
    return torch.device(device)


class MusicModel:
    """A trained model with what it needs to speak MIDI: its data encoding, its track
    set, bar length and tempo."""

    def __init__(self, model, config: RunConfig, info: dict):
        self.model, self.config, self.info = model.eval(), config, info
        self.tracks = [Track.from_dict(t) for t in info["tracks"]]
        self.spec = frame_spec(config.data, len(self.tracks))

    @classmethod
    def from_checkpoint(cls, ckpt: dict, device="cpu", path="checkpoint") -> "MusicModel":
        config = RunConfig.from_dict(ckpt["config"])
        model = build_model(config.model, config.model_config)
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise MuseganError(f"{path}: weights do not fit the model in its config ({str(e).splitlines()[0]})") from None
        return cls(model.to(resolve_device(device)), config, ckpt["info"])

    @property
    def steps_per_bar(self) -> int:
        return int(self.info["steps_per_bar"])

    def primer_frames(self, primer) -> tuple[Song, np.ndarray]:
        """Read a primer (path or PrettyMIDI), map its tracks as in training, and pad it
        to whole bars. Returns the mapped song and its frames ``(T, F)``."""
        d = self.config.data
        song = read_primer(primer, d.resolution)
        notes, _ = map_tracks(song.notes, song.tracks, d.tracks, d.max_tracks, d.track_names)
        length = -(-max(song.n_steps, 1) // self.steps_per_bar) * self.steps_per_bar
        song = Song(notes, self.tracks, d.resolution, song.tempos, song.time_signatures, length)
        return song, notes_to_frames(notes, self.spec, 0, length)

    def generate_song(self, bars: int = 16, seed: int = 0, temperature: float = 1.0, primer=None) -> Song:
        """Sample ``bars`` bars (after the primer, if any) as a :class:`Song`."""
        if bars < 1:
            raise MuseganError(f"bars={bars}: expected at least 1")
        if temperature < 0:
            raise MuseganError(f"temperature={temperature}: expected >= 0")
        primer_song, primer_frames = self.primer_frames(primer) if primer is not None else (None, None)
        device = next(self.model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(seed))
        frames = self.model.generate(
            1, bars * self.steps_per_bar,
            primer=None if primer_frames is None else torch.from_numpy(primer_frames),
            temperature=temperature, generator=gen,
        )[0].numpy()
        notes = frames_to_notes(frames, self.spec, velocity=80)
        num, den = self.info["time_signature"]
        tempos, time_signatures = [(0, float(self.info["tempo"]))], [(0, int(num), int(den))]
        if primer_song is not None:
            notes = _join_primer(primer_song.notes, notes, primer_song.n_steps)
            tempos, time_signatures = primer_song.tempos, primer_song.time_signatures
        return Song(notes, self.tracks, self.config.data.resolution, tempos, time_signatures, len(frames))

    def generate(self, bars: int = 16, seed: int = 0, temperature: float = 1.0, primer=None):
        """Sample music; returns a ``pretty_midi.PrettyMIDI`` (one named track per row
        of the model, its program, drums on channel 10)."""
        return to_pretty_midi(self.generate_song(bars, seed, temperature, primer))


def load(run, device: str = "cpu") -> MusicModel:
    """Load a trained model from a run folder or a checkpoint file."""
    path = find_checkpoint(run)
    return MusicModel.from_checkpoint(load_checkpoint(path), device, path)


def generate_files(run, out, num: int = 1, bars: int = 16, seed: int = 0, temperature: float = 1.0,
                   primer=None, device: str = "cpu") -> list[Path]:
    """Write ``num`` MIDI files (or WAV files, rendered at 44.1 kHz, when ``out`` ends in
    .wav); file ``i`` uses seed ``seed + i`` (``out`` itself when ``num`` is 1, else
    ``out`` with ``-i`` before the suffix)."""
    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi", ".wav"):
        raise MuseganError(f"--out {out}: expected a .mid or .wav file")
    if num < 1:
        raise MuseganError(f"--num {num}: expected at least 1")
    model = load(run, device)
    paths = [out] if num == 1 else [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(num)]
    synth = "auto"  # warns once if FluidSynth is missing, then the same synthesizer for every file
    for i, path in enumerate(paths):
        pm = model.generate(bars, seed + i, temperature, primer)
        if path.suffix.lower() == ".wav":
            from .io.audio import write_wav
            from .render import SAMPLE_RATE, fluidsynth_available, render_midi

            write_wav(path, render_midi(pm, SAMPLE_RATE, synth=synth), SAMPLE_RATE)
            synth = "fluidsynth" if fluidsynth_available() else "numpy"
        else:
            write_pretty_midi(path, pm)
    return paths


def _join_primer(primer_notes: np.ndarray, notes: np.ndarray, length: int) -> np.ndarray:
    """The primer's own notes (velocities kept), then the generated notes from its end;
    a generated note that holds a primer note over the join lengthens it. On tracks the
    primer leaves silent, the generated notes within it are kept too (accompaniment: a
    model that fills them, the GAN; a sequence model leaves them silent)."""
    primer_notes = np.array(primer_notes, copy=True)
    held = notes[(notes[:, START] < length) & (notes[:, END] > length)]
    ends = {(int(k), int(p)): int(e) for k, p, _, e, _ in held}
    for row in primer_notes:
        key = (int(row[TRACK]), int(row[PITCH]))
        if row[END] == length and key in ends:
            row[END] = ends[key]
    silent = ~np.isin(notes[:, TRACK], primer_notes[:, TRACK])
    return np.concatenate([primer_notes, notes[(notes[:, START] >= length) | silent]])
