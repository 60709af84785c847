"""Audio corpora: a file -> log-spectrogram frames (what prepare stores), and windows
of those frames as a torch dataset.

A prepared audio file is ``(n_frames, channels * n_bins)`` float16 of ``log(M + eps)``,
``M`` the STFT magnitude or its mel projection (time on the first axis here, so that
files stack back to back in shards, as notes do). The corpus-wide normalization
(one shift and scale, :func:`corpus_stats`) comes from per-file sums kept in the
manifest, so adding files never means reading the old ones again; models see
``(log - shift) / scale`` and generation undoes it with ``from_spectrogram``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import DataConfig
from ..io.audio import read_audio
from ..io.midi import UnreadableFile
from ..representations.spectrogram import to_spectrogram

EPS = 1e-5  # log(M + EPS): the floor of silence


def spectrogram_settings(config: DataConfig) -> dict:
    """The stats dict of ``to_spectrogram`` for raw log magnitudes (shift 0, scale 1)."""
    n_bins = config.n_mels if config.spectrogram == "mel" else config.n_fft // 2 + 1
    return {"kind": config.spectrogram, "sr": int(config.sample_rate), "n_fft": int(config.n_fft),
            "hop_length": int(config.hop_length), "n_mels": int(config.n_mels), "n_bins": int(n_bins),
            "channels": int(config.channels), "eps": EPS, "norm": "meanstd", "shift": 0.0, "scale": 1.0}


def encode_audio_file(path, config: DataConfig):
    """Read one audio file into frames ``(n_frames, channels * n_bins)`` float16 (channel
    major) and its header; raises :class:`UnreadableFile` with the reason."""
    if config.spectrogram not in ("mel", "stft"):
        raise UnreadableFile(f"data.spectrogram={config.spectrogram!r}: expected mel or stft")
    c = max(1, int(config.channels))
    y, sr = read_audio(path, config.sample_rate, mono=c == 1, max_channels=c)
    source_channels = y.shape[0]
    if y.shape[0] < c:  # a mono file in a stereo corpus: the same signal on each channel
        y = y[np.arange(c) % y.shape[0]]
    if not np.any(y):
        raise UnreadableFile("silent: every sample is zero")
    s = spectrogram_settings(config)
    with torch.no_grad():
        log, _ = to_spectrogram(torch.from_numpy(y), sr, s["n_fft"], s["hop_length"], s["n_mels"],
                                kind=s["kind"], eps=EPS, stats=s)  # (c, n_bins, n_frames)
    frames = log.permute(2, 0, 1).reshape(log.shape[-1], -1).numpy()
    header = {
        "n_frames": int(frames.shape[0]),
        "seconds": round(y.shape[1] / sr, 4),
        "source_channels": int(source_channels),
        "sum": float(frames.sum(dtype=np.float64)),
        "sum_sq": float(np.square(frames, dtype=np.float64).sum()),
    }
    return frames.astype(np.float16), header


def corpus_stats(entries: list, settings: dict) -> dict:
    """The normalization of a corpus (mean and standard deviation of its log values over
    every frame and bin), from the per-file sums of ``entries``: ``settings`` with
    ``shift`` and ``scale`` filled in."""
    count = sum(e["n_frames"] for e in entries) * settings["channels"] * settings["n_bins"]
    total = sum(e["sum"] for e in entries)
    mean = total / max(count, 1)
    var = sum(e["sum_sq"] for e in entries) / max(count, 1) - mean * mean
    return {**settings, "shift": float(mean), "scale": float(np.sqrt(var)) if var > 0 else 1.0}


class SpectrogramDataset(torch.utils.data.Dataset):
    """Windows of ``window`` frames ``(window, channels * n_bins)`` float32, normalized by
    ``stats``, cut from the *stream* of the given files played one after another (in
    the given order). A corpus of one-shots (most of Sonic Pi's samples are under a
    second) then teaches a model what follows the end of a sound: the next one, not
    endless silence. A window starts every ``hop`` frames; with ``jitter`` the start
    moves on by a random 0 .. hop - 1 frames drawn from the item's own index (so an
    epoch is reproducible: index ``i`` and ``i + len(self)`` are the same window with
    other draws). The end of the stream is padded with silence to a whole window."""

    def __init__(self, corpus, songs: list[int], window: int, hop: int, stats: dict, jitter: bool = False,
                 seed: int = 0):
        self.corpus, self.songs, self.window, self.hop, self.stats = corpus, list(songs), window, hop, stats
        self.jitter, self.seed = jitter, seed
        self.silence = (np.log(stats["eps"]) - stats["shift"]) / stats["scale"]
        lengths = [corpus.entries[i]["n_frames"] for i in self.songs]
        self.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)  # stream offset of each file
        total = int(self.starts[-1])
        self.items = np.arange(0, max(total - window, 0) + 1, hop) if total else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def window_start(self, index: int) -> int:
        """Where window ``index`` starts in the stream of the files (jittered by up to a
        hop, seeded by the index, when training)."""
        start = int(self.items[index % len(self.items)])
        total = int(self.starts[-1])
        if self.jitter and total > self.window:
            rng = np.random.default_rng([self.seed, int(index)])
            start = min(start + int(rng.integers(0, self.hop)), total - self.window)
        return start

    def __getitem__(self, index: int) -> torch.Tensor:
        start, total = self.window_start(index), int(self.starts[-1])
        out = np.full((self.window, self.width), self.silence, np.float32)
        end = min(start + self.window, total)
        k = int(np.searchsorted(self.starts, start, side="right")) - 1  # the file the window starts in
        while k < len(self.songs) and self.starts[k] < end:
            lo, hi = max(start, self.starts[k]), min(end, self.starts[k + 1])
            rows = self.corpus.rows(self.songs[k])[lo - self.starts[k]:hi - self.starts[k]]
            out[lo - start:hi - start] = (rows.astype(np.float32) - self.stats["shift"]) / self.stats["scale"]
            k += 1
        return torch.from_numpy(out)

    @property
    def width(self) -> int:
        return int(self.stats["channels"] * self.stats["n_bins"])
