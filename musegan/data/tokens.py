"""Audio tokens from a prepared audio corpus (``kinds/tokens.py``): the codebook and
grains learned from its training files, windows of token ids as one-hot frames, and
the player that turns sampled tokens into waveforms.

The corpus is the audio kind's own prepared log-mel frames (same files, same cache):
a run of ``data.kind=tokens`` learns its codebook when it starts (k-means over the
normalized frames of the training files: seconds for Sonic Pi's 34,000 frames) and
keeps it, with one grain per codeword, in the run's ``info`` as tensors (every
checkpoint holds them; nothing else is needed to generate).
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import MuseganError, warn
from ..generation import AudioModel, spectrogram_to_audio
from ..representations.tokens import (CopyGuard, assign, codeword_groups, cut_grain, learn_codebook, nearest_frames,
                                     overlap_add)
from .audio import SpectrogramDataset

MAX_FRAMES = 200_000  # k-means on at most this many frames (evenly spaced over the training files)
DECODERS = ("grains", "spectra")
GRAINS = 4  # grains kept per codeword (its nearest frames): a held token draws among them instead of buzzing
# the copy guard of generation (representations/tokens.py CopyGuard): no stretch of
# MAX_COPY_SECONDS of the training tokens, compared by groups of near codewords (COPY_GROUPS
# groups by k-means of the codebook), is drawn; chosen on Sonic Pi's samples as the gentlest
# guard that left no generated second flagged as a copy (benchmarks/audio/README.md)
MAX_COPY_SECONDS = 0.1
COPY_GROUPS = 128


def check_decoder(decoder: str) -> None:
    if decoder not in DECODERS:
        raise MuseganError(f"data.token_decoder={decoder!r}: expected {' or '.join(DECODERS)}")


def normalized_frames(corpus, songs: list, stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """The normalized frames of ``songs`` back to back ``(N, D)`` float32, and per frame
    its ``(song, frame)``: ``(N, 2)``."""
    rows, where = [], []
    for i in songs:
        r = np.asarray(corpus.rows(i), np.float32)
        rows.append((r - stats["shift"]) / stats["scale"])
        where.append(np.stack([np.full(len(r), i), np.arange(len(r))], 1))
    if not rows:
        raise MuseganError("data.kind=tokens: no training file to learn a codebook from")
    return np.concatenate(rows), np.concatenate(where)


def learn_tokens(corpus, songs: list, stats: dict, size: int, seed: int = 0) -> dict:
    """The codebook ``(K, D)`` of the training files ``songs`` and per codeword the
    grains of its ``GRAINS`` nearest frames ``(K, GRAINS, channels, 2 * hop)`` float16
    (None when the source files are gone: then only the ``spectra`` decoder is there),
    as tensors; ``medoids``: per codeword the (file, frame) of those frames;
    ``train_ids``: the token stream of the training files (what the training windows
    cut, and what :class:`~musegan.representations.tokens.CopyGuard` keeps generation
    from copying)."""
    if size < 2:
        raise MuseganError(f"data.codebook_size={size}: expected at least 2")
    frames, where = normalized_frames(corpus, songs, stats)
    pick = np.linspace(0, len(frames) - 1, min(len(frames), MAX_FRAMES)).astype(np.int64)
    sample = frames[pick]
    codebook = learn_codebook(sample, size, seed)
    medoids = where[pick][nearest_frames(sample, codebook, GRAINS).numpy()]  # (K, G, 2): file, frame
    ids = assign(frames, codebook)
    counts = np.bincount(ids.numpy(), minlength=len(codebook))
    return {"codebook": torch.from_numpy(codebook), "grains": medoid_grains(corpus, medoids, stats),
            "medoids": medoids.tolist(), "codewords_used": int((counts > 0).sum()),
            "train_ids": ids.to(torch.int16 if len(codebook) <= 32768 else torch.int32)}


def medoid_grains(corpus, medoids: np.ndarray, stats: dict):
    """The grains ``(K, G, channels, 2 * hop)`` float16 of frames ``medoids`` ``(K, G,
    2)`` (file, frame), cut from the source files read again as prepare read them; None
    (with a warning) when one cannot be read."""
    from ..io.audio import read_audio
    from ..io.midi import UnreadableFile

    hop, c, sr = int(stats["hop_length"]), int(stats["channels"]), int(stats["sr"])
    grains = np.zeros((*medoids.shape[:2], c, 2 * hop), np.float32)
    for song in np.unique(medoids[..., 0]):
        path = corpus.entries[int(song)]["path"]
        try:
            y, _ = read_audio(path, sr, mono=c == 1, max_channels=c)
        except UnreadableFile as e:
            warn(f"data.kind=tokens: cannot read {path} again for its grains ({e}); tokens will be decoded "
                 f"by Griffin-Lim (data.token_decoder=spectra)")
            return None
        y = y[np.arange(c) % y.shape[0]]
        for k, g in zip(*np.nonzero(medoids[..., 0] == song)):
            grains[k, g] = cut_grain(y, int(medoids[k, g, 1]), hop)
    return torch.from_numpy(grains).half()


class TokenDataset(SpectrogramDataset):
    """:class:`SpectrogramDataset`'s windows (the stream of the files, jitter, padding)
    of token ids, as one-hot frames ``(window, K)`` float32; padding is the token of
    silence. ``ids``: the token ids of ``songs`` when already known (another dataset's
    ``ids`` over the same songs and codebook), else read and assigned here."""

    def __init__(self, corpus, songs, window, hop, stats, codebook, jitter=False, seed=0, ids=None):
        super().__init__(corpus, songs, window, hop, stats, jitter, seed)
        self.codebook = torch.as_tensor(codebook).float()
        if ids is None:
            ids = (assign(normalized_frames(corpus, self.songs, stats)[0], self.codebook) if self.songs
                   else torch.zeros(0, dtype=torch.int64))
        self.ids = ids
        self.silent_id = int(assign(np.full((1, self.codebook.shape[1]), self.silence, np.float32), self.codebook)[0])

    def window_ids(self, index: int) -> torch.Tensor:
        start, total = self.window_start(index), int(self.starts[-1])
        out = torch.full((self.window,), self.silent_id, dtype=torch.int64)
        part = self.ids[start : start + self.window]
        out[: len(part)] = part
        return out

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.window_ids(index), len(self.codebook)).float()

    @property
    def width(self) -> int:
        return len(self.codebook)


def unigram_baseline(train_frames: torch.Tensor, valid_frames: torch.Tensor) -> float:
    """NLL per frame of the validation tokens under the training tokens' frequencies
    (add-one smoothed): one-hot frames ``(N, K)``."""
    counts = train_frames.float().sum(0) + 1
    logp = torch.log(counts / counts.sum())
    return float(-(valid_frames.float() @ logp).mean())


class TokenAudioModel(AudioModel):
    """A trained model of audio tokens, with its codebook and grains (``info``):
    ``generate(seconds=...)`` -> ``(y, sr)`` as :class:`AudioModel`; ``decoder``
    (``grains`` or ``spectra``, from ``data.token_decoder``), ``max_copy_seconds`` (0: no
    copy guard) and ``copy_groups`` (0: tokens compared as they are) may be changed."""

    def __init__(self, model, config, info: dict):
        super().__init__(model, config, info)
        self.codebook = torch.as_tensor(info["codebook"]).float()
        self.grains = info.get("grains")
        self.decoder = config.data.token_decoder
        check_decoder(self.decoder)
        self.max_copy_seconds, self.copy_groups = MAX_COPY_SECONDS, COPY_GROUPS
        self._guard, self._guard_key = None, None

    def forbid(self) -> CopyGuard | None:
        """The copy guard of ``max_copy_seconds``: no stretch of ``copy_frames`` tokens of
        the training stream, compared by ``copy_groups`` groups of near codewords, is
        drawn (None when ``max_copy_seconds`` is 0)."""
        n = self.copy_frames
        if n is None:
            return None
        if self.copy_groups < 0:
            raise MuseganError(f"copy_groups={self.copy_groups}: expected 0 (each codeword alone) or more")
        if "train_ids" not in self.info:
            if self._guard is None:
                warn("this token run predates the copy guard (its checkpoint keeps no training token stream): "
                     "its samples may copy training audio; train it again to guard them")
                self._guard = False
            return None
        key = (n, self.copy_groups)
        if not self._guard or self._guard_key != key:
            groups = codeword_groups(self.codebook.numpy(), self.copy_groups) if self.copy_groups else None
            self._guard, self._guard_key = CopyGuard(self.info["train_ids"], n, len(self.codebook), groups=groups), key
        return self._guard

    @property
    def copy_frames(self) -> int | None:
        """``max_copy_seconds`` in frames: the length of the shortest forbidden stretch."""
        if self.max_copy_seconds < 0:
            raise MuseganError(f"max_copy_seconds={self.max_copy_seconds}: expected 0 (off) or more")
        if self.max_copy_seconds == 0:
            return None
        return max(2, int(round(self.max_copy_seconds * self.sr / self.stats["hop_length"])))

    def generate_tokens(self, seconds: float = 4.0, seed: int = 0, temperature: float | None = None,
                        top_p: float = 1.0) -> torch.Tensor:
        """Sample the token ids ``(n_frames,)`` of ``seconds`` of audio."""
        return self.generate_frames(seconds, seed, temperature, top_p).argmax(-1)

    def spectrogram(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids ``(T,)`` -> their codewords as a normalized spectrogram ``(channels, n_bins, T)``."""
        return self.codebook[ids].reshape(len(ids), self.stats["channels"], self.stats["n_bins"]).permute(1, 2, 0)

    def generate_spectrogram(self, seconds: float = 4.0, seed: int = 0, temperature: float | None = None,
                             top_p: float = 1.0) -> torch.Tensor:
        return self.spectrogram(self.generate_tokens(seconds, seed, temperature, top_p))

    def decode(self, ids: torch.Tensor, length: int, n_iter: int = 32, seed: int = 0) -> torch.Tensor:
        """Token ids -> waveform ``(channels, length)``, peak-limited to 0.99."""
        check_decoder(self.decoder)
        if self.decoder != "grains" or self.grains is None:  # peak-limited there
            return spectrogram_to_audio(self.spectrogram(ids), self.stats, n_iter, seed, length=length)
        y = overlap_add(ids, self.grains, int(self.stats["hop_length"]), length, seed)
        peak = float(y.abs().max()) if y.numel() else 0.0
        return y * (0.99 / peak) if peak > 0.99 else y

    def generate(self, seconds: float = 4.0, seed: int = 0, temperature: float | None = None, n_iter: int = 32,
                 top_p: float = 1.0):
        """Sample audio; returns ``(y, sr)`` (see :class:`AudioModel`); decoded by the
        grains or, with ``decoder = "spectra"``, by Griffin-Lim with ``n_iter`` iterations."""
        ids = self.generate_tokens(seconds, seed, temperature, top_p)
        y = self.decode(ids, int(round(seconds * self.sr)), n_iter, seed).numpy()
        return (y[0] if y.shape[0] == 1 else y), self.sr
