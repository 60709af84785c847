"""Audio tokens from a prepared audio corpus (``kinds/tokens.py``): the codebook and
grains learned from its training files, windows of token ids as one-hot frames, and
the player that turns sampled tokens into waveforms.

The corpus is the audio kind's own prepared log-mel frames (same files, same cache):
a run of ``data.kind=tokens`` learns its codebook when it starts (k-means over the
normalized frames of the training files: seconds for Sonic Pi's 34,000 frames) and
keeps it, with one grain per codeword, in the run's ``info`` as tensors (every
checkpoint holds them; nothing else is needed to generate), with the training token
stream (the n-gram copy guard's) and the pooled log-mel frames of every corpus file
(the copy check of whole seconds, ``TokenAudioModel.draw``).
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
# the copy check of generation, at the level of the no-copy goal: each generated second
# whose nearest-neighbour distance to the corpus (the audio metrics' measure, the
# evaluation's copy threshold 0.2) is below MIN_COPY_DISTANCE is drawn again, up to
# COPY_TRIES times (the farthest draw kept when none clears it; see TokenAudioModel.draw)
MIN_COPY_DISTANCE = 0.25
COPY_TRIES = 8
# the n-gram copy guard (representations/tokens.py CopyGuard): no stretch of GUARD_SECONDS
# of the training tokens, compared by groups of near codewords (COPY_GROUPS groups by
# k-means of the codebook), is drawn; chosen on Sonic Pi's samples as the gentlest guard
# that left no second flagged as a copy on 32 clips, it is used on the later half of the
# check's draws of a second, and on every draw only when ``max_copy_seconds`` is set
# (default MAX_COPY_SECONDS, 0: the guard on every draw cost the token LSTM's clips
# C2ST 0.83-0.84 against 0.74-0.77 with the check alone, on 96 clips; benchmarks/audio/README.md)
GUARD_SECONDS = 0.1
COPY_GROUPS = 128
MAX_COPY_SECONDS = 0.0


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


def copy_reference(corpus, sr: int) -> dict:
    """What the copy check of generation compares each generated second with: every file
    of the corpus (training and validation), read as ``musegan evaluate`` reads its
    reference (the channels mixed, at the run's rate ``sr``), as the audio metrics'
    pooled log-mel frames (32 bands) floored 60 dB below the loudest frame:
    ``reference_frames`` ``(N, 32)`` float16 (the files back to back),
    ``reference_lengths`` (frames per file) and ``reference_floor``; ``{}`` (with a
    warning: no check) when a file cannot be read."""
    from ..io.audio import read_audio
    from ..io.midi import UnreadableFile

    waves = []
    for e in corpus.entries:
        try:
            waves.append(read_audio(e["path"], sr)[0])
        except UnreadableFile as err:
            warn(f"data.kind=tokens: cannot read {e['path']} again ({err}); generated seconds will not be "
                 f"checked for copies of the corpus")
            return {}
    return reference_info(waves, sr)


def reference_info(waves: list, sr: int) -> dict:
    """:func:`copy_reference` of waveforms ``(n,)`` or ``(channels, n)`` at ``sr``."""
    from ..metrics import log_mel_frames, loudness_floor, pooled_log_mel

    frames = [log_mel_frames(y, sr) for y in waves]
    floor = loudness_floor(frames)
    pooled = [pooled_log_mel(f, floor=floor) for f in frames]
    return {"reference_frames": torch.from_numpy(np.concatenate(pooled)).half(),
            "reference_lengths": torch.tensor([len(f) for f in pooled]), "reference_floor": floor}


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
    copy guard), ``copy_groups`` (0: tokens compared as they are), ``min_copy_distance``
    (0: no copy check of whole seconds, see :meth:`draw`) and ``copy_tries`` may be
    changed. ``copy_report``: the copy check of the last clip drawn, per second."""

    def __init__(self, model, config, info: dict):
        super().__init__(model, config, info)
        self.codebook = torch.as_tensor(info["codebook"]).float()
        self.grains = info.get("grains")
        self.decoder = config.data.token_decoder
        check_decoder(self.decoder)
        self.max_copy_seconds, self.copy_groups = MAX_COPY_SECONDS, COPY_GROUPS
        self.min_copy_distance, self.copy_tries = MIN_COPY_DISTANCE, COPY_TRIES
        self._guards, self._reference = {}, None  # CopyGuard by (n, groups); the corpus of the copy check
        self.copy_report: list[dict] = []

    def forbid(self) -> CopyGuard | None:
        """The copy guard of ``max_copy_seconds``: no stretch of ``copy_frames`` tokens of
        the training stream, compared by ``copy_groups`` groups of near codewords, is
        drawn (None when ``max_copy_seconds`` is 0)."""
        if self.copy_groups < 0:
            raise MuseganError(f"copy_groups={self.copy_groups}: expected 0 (each codeword alone) or more")
        return self.guard(self.copy_frames, self.copy_groups)

    def guard(self, n: int | None, groups: int) -> CopyGuard | None:
        """The :class:`CopyGuard` of ``n``-grams of ``groups`` groups of near codewords
        (0: codewords compared as they are), kept for the next call; None when ``n`` is."""
        if n is None:
            return None
        if "train_ids" not in self.info:
            if self._guards is not None:
                warn("this token run predates the copy guard (its checkpoint keeps no training token stream): "
                     "its samples may copy training audio; train it again to guard them")
                self._guards = None
            return None
        if (n, groups) not in self._guards:
            of = codeword_groups(self.codebook.numpy(), groups) if groups else None
            self._guards[(n, groups)] = CopyGuard(self.info["train_ids"], n, len(self.codebook), groups=of)
        return self._guards[(n, groups)]

    @property
    def copy_frames(self) -> int | None:
        """``max_copy_seconds`` in frames: the length of the shortest forbidden stretch."""
        return self.frames_of(self.max_copy_seconds)

    def frames_of(self, seconds: float) -> int | None:
        """A copy guard's ``seconds`` in frames (None: 0, no guard)."""
        if seconds < 0:
            raise MuseganError(f"max_copy_seconds={seconds}: expected 0 (off) or more")
        if seconds == 0:
            return None
        return max(2, int(round(seconds * self.sr / self.stats["hop_length"])))

    def reference(self) -> list[np.ndarray] | None:
        """The corpus as the copy check compares with it (:func:`copy_reference`): its
        files' pooled log-mel frames; None when ``min_copy_distance`` is 0 or the run
        predates the check."""
        if self.min_copy_distance < 0 or self.copy_tries < 1:
            raise MuseganError(f"min_copy_distance={self.min_copy_distance}, copy_tries={self.copy_tries}: expected "
                               f"a distance of 0 (off) or more and at least one try")
        if not self.min_copy_distance:
            return None
        if self._reference is None:
            if "reference_frames" not in self.info:
                warn("this token run predates the copy check of whole seconds (its checkpoint keeps no log-mel "
                     "frames of its corpus): its seconds are not checked for copies; train it again to check them")
                self._reference = False
            else:
                frames = self.info["reference_frames"].double().numpy()
                self._reference = np.split(frames, np.cumsum(self.info["reference_lengths"].numpy())[:-1])
        return self._reference or None

    def draw(self, n_frames: int, seconds: float, seed: int, temperature: float, generator, top_p: float,
             primer: torch.Tensor | None = None, forbid=None) -> torch.Tensor:
        """:meth:`AudioModel.draw`, one second at a time (the one-second segments of the
        audio metrics, ``metrics.segment_bounds``), each checked as ``musegan evaluate``
        checks it: decoded, its nearest-neighbour distance to the corpus
        (``metrics.nearest_neighbour_distances``, relative, on the pooled log-mel of
        ``second_frames``); a second closer than ``min_copy_distance`` (the evaluation's
        copy threshold is 0.2) is drawn again from where it started, with ``generator``
        advanced, up to ``copy_tries`` draws, and the farthest draw is kept. The later
        half of the draws have the n-gram guard (at ``GUARD_SECONDS`` and
        ``COPY_GROUPS`` when the run's own is off): a model that recites a stretch of its
        corpus from some context recites it again on every plain draw. A second is
        drawn with the tokens that reach into it (a grain spans a hop either side of its
        frame), so the later ones leave it as checked; only the peak limit of the whole
        clip may scale it afterwards. When no draw clears a second, the clip is drawn
        again from the second before it (the n-th time in a clip, from n seconds before
        it, at most from the first; at most as many times as the clip has seconds): the
        model may be reciting a long corpus sound, and every continuation copy it.
        ``copy_report`` records, per second, its distance (None when not active, i.e.
        not checked) and the draws it took (all its visits). With a ``primer`` or a
        ``forbid`` of the caller's, frames are drawn as :meth:`AudioModel.draw` draws
        them, unchecked."""
        from ..metrics import nearest_neighbour_distances, second_frames, segment_bounds

        reference = self.reference()
        self.copy_report = []
        if reference is None or primer is not None or forbid is not None:
            return super().draw(n_frames, seconds, seed, temperature, generator, top_p, primer, forbid)
        plain = self.forbid()
        strict = plain or self.guard(self.frames_of(GUARD_SECONDS), COPY_GROUPS)
        floor, hop, sr = float(self.info["reference_floor"]), int(self.stats["hop_length"]), self.sr
        length = int(round(seconds * sr))
        frames = torch.zeros(0, len(self.codebook))

        def distance(ids: torch.Tensor, start: int, stop: int) -> float | None:
            ids = torch.cat([ids, ids[-1:].expand(n_frames - len(ids))])  # grain draws as in the whole clip
            y = self.decode(ids, stop, seed=seed).numpy()
            q, on = second_frames(y[..., start:stop], sr, floor)
            return float(nearest_neighbour_distances([q], reference, floor, relative=True)[0]) if on else None

        bounds = segment_bounds(length, sr)
        begins, draws, k, backtracks = [0] * len(bounds), [0] * len(bounds), 0, 0
        while k < len(bounds):
            (start, stop), begins[k] = bounds[k], len(frames)
            end = n_frames if stop == length else min(n_frames, -(-(stop + hop) // hop))
            best = None
            for tries in range(1, self.copy_tries + 1):
                new = super().draw(end - len(frames), seconds, seed, temperature, generator, top_p,
                                   frames if len(frames) else None,
                                   plain if tries <= (self.copy_tries + 1) // 2 else strict)
                d = distance(new.argmax(-1), start, stop)
                if best is None or (d if d is not None else np.inf) > best[0]:
                    best = (np.inf if d is None else d, new, d)
                if d is None or d >= self.min_copy_distance:
                    break
            draws[k] += tries
            if best[0] < self.min_copy_distance and backtracks < len(bounds):
                # no draw cleared it from this context: draw again from further back, one
                # second more each time (from the first second at most)
                backtracks += 1
                k -= min(k, backtracks)
                frames = frames[: begins[k]]
                del self.copy_report[k:]
                continue
            frames = best[1]
            self.copy_report.append({"distance": best[2], "draws": draws[k]})
            k += 1
        if len(frames) < n_frames:  # a last piece shorter than the metrics' shortest segment
            frames = super().draw(n_frames - len(frames), seconds, seed, temperature, generator, top_p, frames)
        return frames

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
