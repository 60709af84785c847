"""Discrete audio tokens: spectrogram frames <-> codeword ids <-> waveforms.

A codebook is learned by k-means (scikit-learn's ``MiniBatchKMeans``) over normalized
log-mel frames; a frame's token is its nearest codeword (Euclidean). Tokens become
sound in one of two ways (``data.token_decoder``):

* ``grains``: concatenative synthesis (Schwarz 2006). Each codeword keeps the waveforms
  of the few corpus frames nearest to it (its medoid first): ``2 * hop_length`` samples
  centred on each frame, under a periodic Hann window; each frame draws one of them. Token ``t`` is laid at sample
  ``t * hop_length`` (a frame's centre, as in the centred STFT of prepare) and the
  grains are overlap-added: Hann windows at half overlap sum to one, so the grains
  of consecutive frames of one file give that file back.
* ``spectra``: the codeword's log-mel (the centroid) through the mel inverse and
  Griffin-Lim, as the spectrogram models are decoded.
"""
from __future__ import annotations

import numpy as np
import torch


def learn_codebook(frames: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """``(N, D)`` frames -> ``(K, D)`` float32 centroids, ``K = min(size, N)``."""
    from sklearn.cluster import MiniBatchKMeans

    frames = np.asarray(frames, np.float32)
    k = int(min(size, len(frames)))
    km = MiniBatchKMeans(n_clusters=k, batch_size=max(4096, 4 * k), n_init=3, max_iter=100, random_state=seed,
                         reassignment_ratio=0.01)
    km.fit(frames)
    return km.cluster_centers_.astype(np.float32)


def assign(frames, codebook, chunk: int = 8192) -> torch.Tensor:
    """Frames ``(N, D)`` -> the id of each one's nearest codeword ``(N,)`` int64."""
    x = torch.as_tensor(np.asarray(frames, np.float32) if not torch.is_tensor(frames) else frames).float()
    c = torch.as_tensor(codebook).float()
    half_norm = 0.5 * (c * c).sum(1)
    out = [(x[i : i + chunk] @ c.T - half_norm).argmax(1) for i in range(0, len(x), chunk)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


def nearest_frames(frames, codebook, k: int = 1, chunk: int = 8192) -> torch.Tensor:
    """For each codeword, the indices of the ``k`` frames ``(N, D)`` nearest to it, the
    nearest first: ``(K, k)``."""
    x = torch.as_tensor(frames).float()
    c = torch.as_tensor(codebook).float()
    k = min(k, len(x))
    best_d = torch.full((len(c), 0), float("inf"))
    best_i = torch.zeros(len(c), 0, dtype=torch.int64)
    for i in range(0, len(x), chunk):
        d = torch.cdist(c, x[i : i + chunk])  # (K, n)
        v, j = d.topk(min(k, d.shape[1]), dim=1, largest=False)
        best_d, order = torch.cat([best_d, v], 1).sort(1)
        best_i = torch.cat([best_i, j + i], 1).gather(1, order)
        best_d, best_i = best_d[:, :k], best_i[:, :k]
    return best_i


def grain_window(hop_length: int) -> torch.Tensor:
    """The periodic Hann window of ``2 * hop_length`` samples (sums to one at hop ``hop_length``)."""
    return torch.hann_window(2 * hop_length, periodic=True)


def cut_grain(y: np.ndarray, frame: int, hop_length: int) -> np.ndarray:
    """The grain of frame ``frame`` of ``y`` ``(channels, n)``: ``2 * hop_length`` samples
    centred on ``frame * hop_length`` (zeros beyond the ends), Hann-windowed."""
    c, n = y.shape
    out = np.zeros((c, 2 * hop_length), np.float32)
    lo = frame * hop_length - hop_length
    a, b = max(lo, 0), min(lo + 2 * hop_length, n)
    if b > a:
        out[:, a - lo : b - lo] = y[:, a:b]
    return out * grain_window(hop_length).numpy()


def overlap_add(ids, grains, hop_length: int, length: int, seed: int = 0) -> torch.Tensor:
    """Token ids ``(T,)`` -> waveform ``(channels, length)``: a grain of token ``t``
    centred on sample ``t * hop_length``. ``grains`` ``(V, channels, 2 * hop_length)``,
    or ``(V, G, channels, 2 * hop_length)``: G grains per codeword, one drawn for each
    frame (seeded by ``seed``), so that a token held for several frames does not repeat
    one grain every hop (a buzz at ``sr / hop_length`` Hz and its harmonics)."""
    ids = torch.as_tensor(ids).long()
    grains = torch.as_tensor(grains).float()
    if grains.dim() == 4:
        pick = torch.randint(0, grains.shape[1], (len(ids),), generator=torch.Generator().manual_seed(int(seed)))
        g = grains[ids, pick]
    else:
        g = grains[ids]  # (T, C, L)
    T, C, L = g.shape
    if T == 0:
        return torch.zeros(C, length)
    size = (T - 1) * hop_length + L  # grain t starts at sample t * hop here: its centre is t * hop + hop
    y = torch.nn.functional.fold(g.permute(1, 2, 0), output_size=(1, size), kernel_size=(1, L),
                                 stride=(1, hop_length))[:, 0, 0]  # (C, size)
    y = y[:, L // 2 : L // 2 + length]
    return torch.nn.functional.pad(y, (0, length - y.shape[1]))


# -- anti-plagiarism (MaxOrder: Papadopoulos, Roy and Pachet 2014) -----------------------
# An n-gram of token ids is hashed by Horner's rule in uint64 (wrapping):
# h = ((id_0 + 1) * B + id_1 + 1) * B + ... ; a collision only forbids one more candidate.
NGRAM_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it loses no bits modulo 2^64


def ngram_hashes(ids) -> np.ndarray:
    """Token ids ``(..., n)`` -> the hash of each n-gram along the last axis ``(...)`` uint64."""
    ids = np.asarray(ids, np.int64)
    h = np.zeros(ids.shape[:-1], np.uint64)
    with np.errstate(over="ignore"):
        for j in range(ids.shape[-1]):
            h = h * NGRAM_BASE + (ids[..., j] + 1).astype(np.uint64)
    return h


def ngram_table(ids, n: int, skip_held: bool = False) -> np.ndarray:
    """The sorted unique hashes (viewed as int64) of every n-gram of
    the token stream ``ids`` ``(N,)``. ``skip_held``: n-grams of one token held ``n``
    frames are left out (see :class:`CopyGuard`)."""
    ids = np.asarray(ids, np.int64)
    if n < 2 or len(ids) < n:
        return np.zeros(0, np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(ids, n)
    if skip_held:
        windows = windows[(windows != windows[:, :1]).any(1)]
    return np.unique(ngram_hashes(windows).view(np.int64))


class CopyGuard:
    """MaxOrder for sampled tokens: a candidate token is forbidden when it would make the
    last ``n`` tokens an n-gram of the training token stream ``ids`` (the model may then
    not reproduce more than ``n - 1`` consecutive training frames); the sampler draws
    from the other candidates, renormalized, and from all of them when every one is
    forbidden. A call on the frames drawn so far (one-hot, a list of ``(B, V)``) gives the
    forbidden candidates ``(B, V)`` bool, or None before ``n - 1`` frames exist.

    One token held for ``n`` frames is forbidden too, unless ``skip_held``: measured on
    Sonic Pi's samples (benchmarks/audio/README.md, LSTM on tokens, 32 clips of 4 s),
    exempting held n-grams left 5-6 of about 122 generated seconds flagged as copies at
    n = 9 or 22 frames (as many as with no guard: a held codeword is a steady sound, close
    to the steady stretch it came from); forbidding them left none at n = 9. It costs no
    silences: the codeword of digital silence is held in 0.01% of the training stream's
    9-frame n-grams (its quiet tails are other codewords, which the model then varies).

    ``groups`` ``(V,)`` (e.g. :func:`codeword_groups`): tokens are compared by group, so a
    copy with a token swapped for a near one is still a copy. With exact tokens at n = 9,
    the 3 seconds flagged on 32 other clips (seeds 1000-1031) were steady sounds of 5-6
    codewords interleaved (no training stretch of more than 8 tokens, yet as close to a
    steady training sound as a copy); with 128 groups of the 512 codewords no second was
    flagged on either set of 32 clips."""

    def __init__(self, ids, n: int, n_classes: int, skip_held: bool = False, groups=None):
        if n < 2:
            raise ValueError(f"n={n}: a copy guard needs n-grams of at least 2 tokens")
        self.n, self.n_classes = int(n), int(n_classes)
        self.groups = np.arange(self.n_classes) if groups is None else np.asarray(groups, np.int64)
        self.table = ngram_table(self.groups[np.asarray(ids, np.int64)], self.n, skip_held)
        self.next_ids = (self.groups + 1).astype(np.uint64)  # id + 1, as ngram_hashes adds

    def __call__(self, frames: list) -> torch.Tensor | None:
        if len(frames) < self.n - 1 or not len(self.table):
            return None
        last = torch.stack(frames[len(frames) - self.n + 1:], 1).argmax(-1).cpu().numpy()  # (B, n - 1)
        with np.errstate(over="ignore"):
            h = (ngram_hashes(self.groups[last])[:, None] * NGRAM_BASE + self.next_ids).view(np.int64)  # (B, V)
        at = np.searchsorted(self.table, h).clip(max=len(self.table) - 1)
        return torch.from_numpy(self.table[at] == h).to(frames[-1].device)


def codeword_groups(codebook, n_groups: int, seed: int = 0) -> np.ndarray:
    """The codewords ``(V, D)`` in ``n_groups`` groups of near ones (k-means on the
    codewords themselves): the group of each ``(V,)``; every codeword its own group when
    ``n_groups`` >= V."""
    codebook = np.asarray(codebook, np.float32)
    if n_groups >= len(codebook):
        return np.arange(len(codebook))
    from sklearn.cluster import KMeans

    return KMeans(n_groups, n_init=1, random_state=seed).fit_predict(codebook).astype(np.int64)
