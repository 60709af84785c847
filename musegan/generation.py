"""Checkpoint -> samples -> MIDI or audio. The Python API for composition scripts::

    import musegan
    model = musegan.load("runs/mine")
    pm = model.generate(bars=16, seed=0, temperature=1.0, primer="intro.mid")
    pm.write("song.mid")

    sound = musegan.load("runs/wavs-lstm")        # a model trained on a folder of WAV files
    y, sr = sound.generate(seconds=4, seed=0)     # float32 waveform, 44100
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .data.dataset import frame_spec
from .errors import MuseganError
from .io.audio import write_wav
from .io.checkpoint import find_checkpoint, load_checkpoint
from .io.midi import read_primer, to_pretty_midi, write_pretty_midi
from .models import build_model
from .representations.pianoroll import END, START, TRACK, PITCH, Song, Track, frames_to_notes, map_tracks, notes_to_frames
from .representations.spectrogram import from_spectrogram, griffin_lim, mel_to_linear


def check_sampling(temperature: float, top_p: float) -> None:
    if temperature < 0:
        raise MuseganError(f"temperature={temperature}: expected >= 0")
    if not 0 < top_p <= 1:
        raise MuseganError(f"top_p={top_p}: expected more than 0 and at most 1")


@contextlib.contextmanager
def one_thread(device: torch.device):
    """Frame-by-frame sampling on one CPU thread: its small products gain nothing from a
    second one, which only spins against whatever else the machine runs."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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

    def generate_song(self, bars: int = 16, seed: int = 0, temperature: float = 1.0, primer=None,
                      top_p: float = 1.0) -> Song:
        """Sample ``bars`` bars (after the primer, if any) as a :class:`Song`.
        ``temperature`` divides the logits (0: the likeliest choice); ``top_p`` < 1 keeps
        only the nucleus of each choice (each voice's categorical, each note bit). Without
        a primer, the first step is not silent unless the corpus's pieces start so."""
        if bars < 1:
            raise MuseganError(f"bars={bars}: expected at least 1")
        check_sampling(temperature, top_p)
        primer_song, primer_frames = self.primer_frames(primer) if primer is not None else (None, None)
        device = next(self.model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(seed))
        with one_thread(device):
            frames = self.model.generate(
                1, bars * self.steps_per_bar,
                primer=None if primer_frames is None else torch.from_numpy(primer_frames),
                temperature=temperature, generator=gen, top_p=top_p,
                sounding_start=self.info.get("silent_start", 1.0) < 0.5,
            )[0].numpy()
        notes = frames_to_notes(frames, self.spec, velocity=80)
        num, den = self.info["time_signature"]
        tempos, time_signatures = [(0, float(self.info["tempo"]))], [(0, int(num), int(den))]
        if primer_song is not None:
            notes = _join_primer(primer_song.notes, notes, primer_song.n_steps)
            tempos, time_signatures = primer_song.tempos, primer_song.time_signatures
        return Song(notes, self.tracks, self.config.data.resolution, tempos, time_signatures, len(frames))

    def generate(self, bars: int = 16, seed: int = 0, temperature: float = 1.0, primer=None, top_p: float = 1.0):
        """Sample music; returns a ``pretty_midi.PrettyMIDI`` (one named track per row
        of the model, its program, drums on channel 10). See ``generate_song``."""
        return to_pretty_midi(self.generate_song(bars, seed, temperature, primer, top_p))

    def write_files(self, paths: list, seed: int = 0, temperature: float = 1.0, bars: int | None = None,
                    seconds: float | None = None, primer=None, run="", top_p: float = 1.0) -> None:
        """File ``i`` of ``paths`` (.mid, or .wav: rendered at 44.1 kHz) from seed ``seed + i``."""
        if seconds is not None:
            raise MuseganError(f"{run} is a symbolic model: give its length with --bars, not --seconds")
        synth = "auto"  # warns once if FluidSynth is missing, then the same synthesizer for every file
        for i, path in enumerate(paths):
            pm = self.generate(16 if bars is None else bars, seed + i, temperature, primer, top_p)
            if path.suffix.lower() == ".wav":
                from .render import SAMPLE_RATE, fluidsynth_available, render_midi

                write_wav(path, render_midi(pm, SAMPLE_RATE, synth=synth), SAMPLE_RATE)
                synth = "fluidsynth" if fluidsynth_available() else "numpy"
            else:
                write_pretty_midi(path, pm)


class AudioModel:
    """A trained model of spectrogram frames, with what it needs to speak audio: the
    corpus's spectrogram settings and normalization (``info["stats"]``)."""

    def __init__(self, model, config: RunConfig, info: dict):
        self.model, self.config, self.info = model.eval(), config, info
        self.stats = info["stats"]

    @property
    def sr(self) -> int:
        return int(self.stats["sr"])

    def generate_spectrogram(self, seconds: float = 4.0, seed: int = 0, temperature: float = 1.0,
                             top_p: float = 1.0) -> torch.Tensor:
        """Sample ``seconds`` of normalized log-spectrogram: ``(channels, n_bins, n_frames)``
        (``top_p`` < 1: a Gaussian head's noise clipped to its central ``top_p``)."""
        if not seconds > 0:
            raise MuseganError(f"seconds={seconds}: expected more than 0")
        check_sampling(temperature, top_p)
        n_frames = 1 + -(-int(round(seconds * self.sr)) // self.stats["hop_length"])  # an STFT of that many samples
        device = next(self.model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(seed))
        with one_thread(device):
            frames = self.model.generate(1, n_frames, temperature=temperature, generator=gen,
                                         top_p=top_p)[0]  # (T, C * bins)
        return frames.reshape(n_frames, self.stats["channels"], self.stats["n_bins"]).permute(1, 2, 0)

    def generate(self, seconds: float = 4.0, seed: int = 0, temperature: float = 1.0, n_iter: int = 32,
                 top_p: float = 1.0):
        """Sample audio; returns ``(y, sr)``: ``y`` float32 ``(n,)`` (mono) or
        ``(channels, n)``, at ``sr`` = 44100 by default. The spectrogram is decoded by
        fast Griffin-Lim with ``n_iter`` iterations (after a least-squares mel inverse)."""
        S = self.generate_spectrogram(seconds, seed, temperature, top_p)
        y = spectrogram_to_audio(S, self.stats, n_iter, seed, length=int(round(seconds * self.sr))).numpy()
        return (y[0] if y.shape[0] == 1 else y), self.sr

    def write_files(self, paths: list, seed: int = 0, temperature: float = 1.0, bars: int | None = None,
                    seconds: float | None = None, primer=None, run="", top_p: float = 1.0) -> None:
        """WAV file ``i`` of ``paths`` from seed ``seed + i``, ``seconds`` long (default 4)."""
        if any(p.suffix.lower() != ".wav" for p in paths):
            raise MuseganError(f"--out {paths[0]}: {run} is an audio model; expected a .wav file")
        if bars is not None or primer is not None:
            raise MuseganError(f"{run} is an audio model: give its length with --seconds (no --bars, no --primer)")
        for i, path in enumerate(paths):
            write_wav(path, *self.generate(4.0 if seconds is None else seconds, seed + i, temperature, top_p=top_p))


def spectrogram_to_audio(S: torch.Tensor, stats: dict, n_iter: int = 32, seed: int = 0,
                         length: int | None = None) -> torch.Tensor:
    """Normalized log-spectrogram ``(..., n_bins, frames)`` -> waveform ``(..., length)``
    (default ``(frames - 1) * hop_length``), peak-limited to 0.99."""
    mag = from_spectrogram(S, stats)
    if stats["kind"] == "mel":
        mag = mel_to_linear(mag, stats["sr"], stats["n_fft"])
    y = griffin_lim(mag, n_iter, n_fft=stats["n_fft"], hop_length=stats["hop_length"], length=length, seed=seed)
    peak = float(y.abs().max()) if y.numel() else 0.0
    return y * (0.99 / peak) if peak > 0.99 else y


def make_player(model, config: RunConfig, info: dict) -> MusicModel | AudioModel:
    """The model with its decoder (its data kind's player): :class:`AudioModel` for audio
    runs, :class:`MusicModel` for symbolic ones."""
    from .kinds import get_kind

    return get_kind(config.data.kind).player(model, config, info)


def load(run, device: str = "cpu") -> MusicModel | AudioModel:
    """Load a trained model from a run folder or a checkpoint file: a :class:`MusicModel`
    (``generate(bars=...)`` gives MIDI) or, for audio runs, an :class:`AudioModel`
    (``generate(seconds=...)`` gives ``(y, sr)``)."""
    path = find_checkpoint(run)
    ckpt = load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    model = build_model(config.model, config.model_config)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise MuseganError(f"{path}: weights do not fit the model in its config ({str(e).splitlines()[0]})") from None
    return make_player(model.to(resolve_device(device)), config, ckpt["info"])


def generate_files(run, out, num: int = 1, bars: int | None = None, seed: int = 0, temperature: float = 1.0,
                   primer=None, device: str = "cpu", seconds: float | None = None, top_p: float = 1.0) -> list[Path]:
    """Write ``num`` MIDI files (or WAV files, rendered at 44.1 kHz, when ``out`` ends in
    .wav) of ``bars`` bars (default 16); from an audio run, WAV files of ``seconds``
    seconds (default 4). File ``i`` uses seed ``seed + i`` (``out`` itself when ``num``
    is 1, else ``out`` with ``-i`` before the suffix)."""
    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi", ".wav"):
        raise MuseganError(f"--out {out}: expected a .mid or .wav file")
    if num < 1:
        raise MuseganError(f"--num {num}: expected at least 1")
    model = load(run, device)
    paths = [out] if num == 1 else [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(num)]
    model.write_files(paths, seed, temperature, bars=bars, seconds=seconds, primer=primer, run=run, top_p=top_p)
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
