"""Metrics: pure functions of arrays (no files, no models)."""
from __future__ import annotations

import math

import numpy as np
import torch

from .representations.pianoroll import END, START, to_notes


def bernoulli_nll(p: torch.Tensor, x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """NLL in nats per frame of frames ``x (..., F)`` under independent Bernoullis
    ``p (F,)`` or ``(..., F)``: the sum over features of the log-loss, ``(...)``."""
    p = p.double().clamp(eps, 1 - eps)
    x = x.double()
    return -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1)


def frequency_baseline_nll(train: torch.Tensor, valid: torch.Tensor, eps: float = 1e-7) -> float:
    """The "note 1-gram" baseline: NLL per frame of ``valid (N, F)`` when every feature
    is an independent Bernoulli with its frequency in ``train (M, F)``."""
    p = train.double().mean(0)
    return float(bernoulli_nll(p, valid, eps).mean())


def gaussian_baseline_nll(train: torch.Tensor, valid: torch.Tensor) -> float:
    """The baseline of continuous frames: NLL per frame (nats, a density) of ``valid
    (N, F)`` when every feature is an independent Gaussian with its mean and standard
    deviation in ``train (M, F)``."""
    mean, std = train.double().mean(0), train.double().std(0).clamp_min(1e-3)
    z = (valid.double() - mean) / std
    return float((0.5 * z * z + std.log() + 0.5 * math.log(2 * math.pi)).sum(-1).mean())


# ------------------------------------------------------------------ audio metrics

def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature vectors ``a (N,
    D)`` and ``b (M, D)``: ``|mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2))``.
    On log-mel frames this is a Frechet distance on log-mel statistics, not FAD (which
    embeds audio with a pretrained network first)."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(ca @ cb)
    if np.iscomplexobj(root):
        root = root.real  # numerical noise of a near-singular product
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca) + np.trace(cb) - 2 * np.trace(root))


def audio_segments(y: np.ndarray, sr: int, seconds: float = 1.0, min_seconds: float = 0.25) -> list[np.ndarray]:
    """A waveform ``(n,)`` or ``(channels, n)`` (mixed to mono) cut into pieces of
    ``seconds``; the last, shorter piece is kept if it lasts ``min_seconds`` (so a
    one-shot shorter than ``seconds`` is one piece); shorter sounds give none."""
    y = np.asarray(y, np.float32)
    y = y.mean(0) if y.ndim == 2 else y
    return [y[a:b] for a, b in segment_bounds(len(y), sr, seconds, min_seconds)]


def segment_bounds(n: int, sr: int, seconds: float = 1.0, min_seconds: float = 0.25) -> list[tuple[int, int]]:
    """The ``(start, stop)`` samples of :func:`audio_segments`'s pieces of ``n`` samples."""
    step, least = int(round(seconds * sr)), int(round(min_seconds * sr))
    return [(i, min(i + step, n)) for i in range(0, n, step) if min(i + step, n) - i >= least]


def audio_features(y: np.ndarray, sr: int, n_mfcc: int = 13, n_fft: int = 2048, hop_length: int = 512) -> dict:
    """Hand-made features of one clip ``(n,)`` (librosa, no pretrained network): means
    and standard deviations over frames of ``n_mfcc`` MFCCs, of the spectral centroid
    (kHz), of the spectral flatness (as log10), of the spectral flux (mean positive
    change of the log magnitudes) and of the loudness (RMS in dB, floored at -100);
    the onset rate (librosa's onset detector on the unnormalized onset strength,
    peaks 2 dB above their surroundings; onsets per second)."""
    import librosa

    y = np.asarray(y, np.float32)
    if len(y) < n_fft // 2 + 1:
        y = np.pad(y, (0, n_fft // 2 + 1 - len(y)))
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
    power = mag ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=128)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, amin=1e-10, top_db=None), n_mfcc=n_mfcc)
    centroid = librosa.feature.spectral_centroid(S=mag, sr=sr)[0] / 1000
    flatness = np.log10(librosa.feature.spectral_flatness(S=mag, amin=1e-10)[0])
    logmag = np.log(mag + 1e-5)
    flux = np.maximum(np.diff(logmag, axis=1), 0).mean(0) if mag.shape[1] > 1 else np.zeros(1)
    rms = 20 * np.log10(np.maximum(librosa.feature.rms(S=mag, frame_length=n_fft)[0], 1e-5))
    # unnormalized onset strength (mean rise of the dB mel bands) with a 2 dB margin: the
    # default normalizes the envelope, which turns a steady sine's ripple into 19 onsets/s
    envelope = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop_length)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=hop_length, normalize=False,
                                        delta=2.0)
    out = {}
    for k in range(n_mfcc):
        out[f"mfcc{k}_mean"], out[f"mfcc{k}_std"] = float(mfcc[k].mean()), float(mfcc[k].std())
    for name, v in (("centroid", centroid), ("flatness", flatness), ("flux", flux), ("rms_db", rms)):
        out[f"{name}_mean"], out[f"{name}_std"] = float(v.mean()), float(v.std())
    out["onset_rate"] = len(onsets) / (len(y) / sr)
    return out


def feature_matrix(features: list[dict], names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Feature dicts -> ``(N, D)`` array (a missing key is 0) and the column names."""
    names = names or list(dict.fromkeys(k for d in features for k in d))
    return np.array([[d.get(k, 0.0) for k in names] for d in features], np.float64).reshape(len(features), -1), names


def feature_frechet_distance(generated: list[dict], reference: list[dict]) -> float:
    """Frechet distance (:func:`frechet_distance`) between feature dicts (e.g. of
    :func:`audio_features`) after every feature is standardized by the reference's mean
    and standard deviation (so that dB and kHz weigh alike). ``nan`` when a side has
    fewer than two."""
    if min(len(generated), len(reference)) < 2:
        return math.nan
    ref, names = feature_matrix(reference)
    gen, _ = feature_matrix(generated, names)
    mu, sd = ref.mean(0), ref.std(0)
    sd[sd < 1e-9] = 1.0
    return frechet_distance((gen - mu) / sd, (ref - mu) / sd)


def log_mel_frames(y: np.ndarray, sr: int, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128) -> np.ndarray:
    """A waveform ``(n,)`` or ``(channels, n)`` (mixed to mono) -> its log-mel frames
    ``(n_frames, n_mels)`` (``log(M + 1e-5)``, the features of the audio metrics)."""
    from .representations.spectrogram import to_spectrogram

    y = np.asarray(y, np.float32)
    y = y.mean(0) if y.ndim == 2 else y
    raw = {"shift": 0.0, "scale": 1.0}
    with torch.no_grad():
        S, _ = to_spectrogram(torch.from_numpy(y), sr, n_fft, hop_length, n_mels, kind="mel", eps=1e-5, stats=raw)
    return S.T.numpy().astype(np.float64)


def loudness_floor(frames: list[np.ndarray], db: float = 60.0) -> float:
    """``db`` below the loudest of the log-mel frames (:func:`log_mel_frames`) of a
    corpus, a log magnitude: the floor of the audio metrics (quieter is silence)."""
    return max(float(f.max()) for f in frames) - db / 20 * math.log(10)


def second_frames(segment: np.ndarray, sr: int, floor: float) -> tuple[np.ndarray, bool]:
    """One segment of :func:`audio_segments` -> what :func:`nearest_neighbour_distances`
    compares: its :func:`pooled_log_mel` frames less the two at each end (whose windows
    reach outside the segment: the reflect-padded edge frames of a cut tonal sound are
    broadband and would hide a copy), and whether it is active (at least half its
    frames have a band above ``floor``; only active seconds are checked for copies)."""
    frames = log_mel_frames(segment, sr)
    edge = 2048 // (2 * 512)
    pooled = pooled_log_mel(frames[edge:len(frames) - edge], floor=floor)
    return pooled, len(frames) > 2 * edge and bool((frames.max(1) > floor).mean() >= 0.5)


def pooled_log_mel(frames: np.ndarray, bands: int = 32, floor: float | None = None) -> np.ndarray:
    """Log-mel frames ``(T, n_mels)`` averaged into ``bands`` groups of adjacent bands and
    clamped below at ``floor`` (a log magnitude), the frames of
    :func:`nearest_neighbour_distances`."""
    t, d = frames.shape
    pooled = frames[:, : d - d % bands].reshape(t, bands, -1).mean(-1) if d >= bands else frames
    return pooled if floor is None else np.maximum(pooled, floor)


def nearest_neighbour_distances(queries: list[np.ndarray], corpus: list[np.ndarray], floor: float,
                                relative: bool = False) -> np.ndarray:
    """For each query (frames ``(T, D)``, e.g. one second of :func:`pooled_log_mel`
    frames) the smallest root-mean-square difference to any ``T`` consecutive frames of
    the corpus pieces (every frame offset; each piece padded by ``T`` frames of
    ``floor`` on both sides, so that a one-shot followed by silence is a candidate and
    no window joins two pieces). 0 means an exact copy of a stretch of the corpus.
    ``relative``: divided by the query's own root-mean-square height above ``floor``
    (its distance to silence), so that quiet queries, mostly at the floor, are not
    close to everything: 1 is as far as silence."""
    out = np.full(len(queries), np.inf)
    if not corpus:
        return out
    d = corpus[0].shape[1]
    lengths = sorted({len(q) for q in queries})
    for t in lengths:
        pad = np.full((t, d), floor)
        bank = np.concatenate([x for c in corpus for x in (pad, c)] + [pad]).astype(np.float64)
        bank_sq = np.square(bank).sum(1)
        n_win = len(bank) - t + 1
        win_sq = np.convolve(bank_sq, np.ones(t), "valid")  # |window|^2 for each offset
        for i, q in enumerate(queries):
            if len(q) != t:
                continue
            cross = np.ascontiguousarray(q.astype(np.float64) @ bank.T)  # (t, len(bank))
            diag = np.lib.stride_tricks.as_strided(cross, (n_win, t), (cross.strides[1], cross.strides[0] + cross.strides[1]))
            sq = np.square(q).sum() + win_sq - 2 * diag.sum(1)
            out[i] = np.sqrt(max(float(sq.min()), 0.0) / (t * d))
            if relative:
                out[i] /= max(float(np.sqrt(np.mean(np.square(q - floor)))), 1e-12)
    return out


# ------------------------------------------------------------------ musical metrics
#
# Pure functions of piano-rolls: ``roll`` is one track ``(steps, 128)`` or several
# ``(tracks, steps, 128)``, nonzero where a pitch sounds; ``onsets`` (same shape,
# optional) marks where a note starts, so that a repeated note counts twice (without
# it a note starts where its pitch turns on). ``resolution`` is steps per quarter
# note, ``steps_per_bar`` steps per bar; the last, partial bar counts as a bar.
# A metric with nothing to measure (no notes, no bar) is NaN.
#
# MuseGAN (Dong et al., AAAI 2018): EB, UPC, QN per track, DP on drums, TD between
# two tracks. muspy (Dong et al., ISMIR 2020): polyphony, pitch-class entropy, scale
# consistency (non-drum tracks), groove consistency (all tracks).

MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)  # C major; roll for other keys
MINOR_SCALE = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)  # C natural minor


def note_starts(roll: np.ndarray, onsets: np.ndarray | None = None) -> np.ndarray:
    """Where notes start, ``roll``'s shape, bool: a pitch turning on, or an onset on an
    active pitch."""
    active = np.asarray(roll) > 0
    prev = np.zeros_like(active)
    prev[..., 1:, :] = active[..., :-1, :]
    starts = active & ~prev
    if onsets is not None:
        starts |= active & (np.asarray(onsets) > 0)
    return starts


def note_lengths(roll: np.ndarray, onsets: np.ndarray | None = None) -> np.ndarray:
    """Lengths in steps of the notes of one track ``(steps, 128)``: a note lasts from its
    start while its pitch stays on and no new note of that pitch starts."""
    roll = np.asarray(roll) > 0
    notes = to_notes(roll[None].astype(np.uint8), None if onsets is None else np.asarray(onsets)[None] > 0)
    return (notes[:, END] - notes[:, START]).astype(np.int64)


def _bars(x: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """``(steps, ...)`` -> ``(bars, steps_per_bar, ...)``, the last bar padded with zeros."""
    if steps_per_bar < 1:
        raise ValueError(f"steps_per_bar={steps_per_bar}: expected at least 1")
    n = -(-len(x) // steps_per_bar)
    pad = n * steps_per_bar - len(x)
    x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
    return x.reshape(n, steps_per_bar, *x.shape[1:])


def chroma(roll: np.ndarray) -> np.ndarray:
    """``(..., 128)`` -> ``(..., 12)``: the active pitches of each pitch class (C = 0)."""
    r = np.asarray(roll) > 0
    return np.pad(r, [(0, 0)] * (r.ndim - 1) + [(0, 4)]).reshape(*r.shape[:-1], 11, 12).sum(-2)


def empty_bars(roll: np.ndarray, steps_per_bar: int) -> float:
    """EB (MuseGAN): the share of bars of one track ``(steps, 128)`` with no note
    (0 to 1; the paper prints it in %)."""
    bars = _bars(np.asarray(roll) > 0, steps_per_bar)
    return float((~bars.any((1, 2))).mean()) if len(bars) else math.nan


def used_pitch_classes(roll: np.ndarray, steps_per_bar: int) -> float:
    """UPC (MuseGAN): the number of pitch classes used in a bar (0 to 12), averaged over
    the bars of one track that have notes (so that it does not count empty bars, which
    EB measures)."""
    bars = _bars(np.asarray(roll) > 0, steps_per_bar)
    used = chroma(bars.any(1)) > 0  # (bars, 12)
    busy = bars.any((1, 2))
    return float(used[busy].sum(1).mean()) if busy.any() else math.nan


def qualified_steps(resolution: int) -> int:
    """The shortest qualified note in steps: 3 steps at the paper's 24 steps per quarter
    note, i.e. a 32nd note."""
    return max(1, math.ceil(3 * resolution / 24))


def qualified_notes(roll: np.ndarray, resolution: int, onsets: np.ndarray | None = None) -> float:
    """QN (MuseGAN): the share of the notes of one track that last at least a 32nd note
    (3 steps at 24 steps per quarter note); low when the music is fragmented (0 to 1)."""
    lengths = note_lengths(roll, onsets)
    return float((lengths >= qualified_steps(resolution)).mean()) if len(lengths) else math.nan


def drum_pattern(roll: np.ndarray, resolution: int, onsets: np.ndarray | None = None,
                 tolerance: float = 0.1) -> float:
    """DP (MuseGAN): the share of the drum notes of a track that fall on the 16th-note
    grid of an 8- or 16-beat pattern: a note on the grid counts 1, one step off it
    ``tolerance``, elsewhere 0 (the weights of the reference implementation). Steps are
    counted from the start of the roll (bar lines at multiples of the bar)."""
    if resolution % 4 == 0:
        grid = resolution // 4  # 16th notes
    elif resolution % 2 == 0:
        grid = resolution // 2  # 8th notes
    else:
        raise ValueError(f"resolution={resolution}: the drum grid needs an even number of steps per quarter")
    t, _ = np.nonzero(note_starts(roll, onsets))
    if len(t) == 0:
        return math.nan
    offset = t % grid
    weight = np.where(offset == 0, 1.0, np.where((offset == 1) | (offset == grid - 1), tolerance, 0.0))
    return float(weight.mean())


def tonal_matrix(radii=(1.0, 1.0, 0.5)) -> np.ndarray:
    """The ``(6, 12)`` map of a chroma onto Harte et al.'s (2006) tonal centroid space:
    the circles of fifths, minor thirds and major thirds."""
    n = np.arange(12)
    r1, r2, r3 = radii
    return np.stack([r1 * np.sin(n * 7 * np.pi / 6), r1 * np.cos(n * 7 * np.pi / 6),
                     r2 * np.sin(n * 3 * np.pi / 2), r2 * np.cos(n * 3 * np.pi / 2),
                     r3 * np.sin(n * 2 * np.pi / 3), r3 * np.cos(n * 2 * np.pi / 3)])


def tonal_distance(roll_a: np.ndarray, roll_b: np.ndarray, steps_per_bar: int) -> float:
    """TD (MuseGAN): the harmonic distance of two tracks ``(steps, 128)``: per bar, the
    Euclidean distance of their tonal centroids (Harte et al. 2006; each track's chroma,
    weighted by duration, normalised to sum 1), averaged over the bars where both play.
    0 for tracks with the same pitch classes; larger for weaker harmonic relations."""
    a = chroma(_bars(np.asarray(roll_a) > 0, steps_per_bar)).sum(1).astype(float)  # (bars, 12)
    b = chroma(_bars(np.asarray(roll_b) > 0, steps_per_bar)).sum(1).astype(float)
    both = (a.sum(1) > 0) & (b.sum(1) > 0)
    if not both.any():
        return math.nan
    m = tonal_matrix()
    ca = (a[both] / a[both].sum(1, keepdims=True)) @ m.T
    cb = (b[both] / b[both].sum(1, keepdims=True)) @ m.T
    return float(np.linalg.norm(ca - cb, axis=1).mean())


def _pitched(rolls: np.ndarray, is_drum) -> np.ndarray:
    rolls = np.asarray(rolls)
    if rolls.ndim == 2:
        rolls = rolls[None]
    keep = [k for k in range(len(rolls)) if not (is_drum is not None and is_drum[k])]
    return rolls[keep] if keep else np.zeros((0, *rolls.shape[1:]), rolls.dtype)


def polyphony(rolls: np.ndarray, is_drum=None) -> float:
    """muspy's polyphony: the mean number of pitches sounding at once, over the steps
    where at least one sounds; drum tracks (``is_drum[k]``) are left out, the other
    tracks merged."""
    merged = (_pitched(rolls, is_drum) > 0).any(0)  # (steps, 128)
    busy = merged.any(1)
    return float(merged[busy].sum() / busy.sum()) if busy.any() else math.nan


def _pitch_class_counts(rolls, onsets, is_drum) -> np.ndarray:
    """Notes per pitch class ``(12,)`` of the non-drum tracks."""
    on = None if onsets is None else _pitched(onsets, is_drum)
    starts = note_starts(_pitched(rolls, is_drum), on)  # (tracks, steps, 128)
    return np.bincount(np.nonzero(starts)[2] % 12, minlength=12)


def pitch_class_entropy(rolls: np.ndarray, onsets: np.ndarray | None = None, is_drum=None) -> float:
    """muspy's pitch-class entropy: the Shannon entropy (bits) of the histogram of the
    pitch classes of the notes (each note once; drums left out), 0 to log2(12)."""
    counts = _pitch_class_counts(rolls, onsets, is_drum)
    if counts.sum() == 0:
        return math.nan
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def scale_consistency(rolls: np.ndarray, onsets: np.ndarray | None = None, is_drum=None) -> float:
    """muspy's scale consistency: the largest share of notes inside one major or minor
    scale, over the 24 scales (drums left out), 0 to 1."""
    counts = _pitch_class_counts(rolls, onsets, is_drum)
    if counts.sum() == 0:
        return math.nan
    best = max(counts[np.roll(scale, root)].sum() for scale in (MAJOR_SCALE, MINOR_SCALE) for root in range(12))
    return float(best / counts.sum())


def groove_consistency(rolls: np.ndarray, steps_per_bar: int, onsets: np.ndarray | None = None) -> float:
    """muspy's groove consistency: 1 - the mean Hamming distance of the onset patterns
    (the positions in the bar where some note of any track starts) of neighbouring bars,
    divided by ``steps_per_bar``; 1 when every bar has the same rhythm."""
    rolls = np.asarray(rolls)
    if rolls.ndim == 2:
        rolls = rolls[None]
    starts = note_starts(rolls, onsets).any((0, 2))  # (steps,)
    pattern = _bars(starts, steps_per_bar)  # (bars, steps_per_bar)
    if len(pattern) < 2:
        return math.nan
    return float(1 - (pattern[1:] != pattern[:-1]).sum() / (steps_per_bar * (len(pattern) - 1)))


def overlapping_area(a, b, grid: int = 2048) -> float:
    """The overlapping area of the distributions of two samples (Yang and Lerch 2020):
    the integral of ``min(p_a, p_b)`` for Gaussian kernel density estimates ``p_a``,
    ``p_b`` (Scott's bandwidth, at least 1% of the pooled spread so that constant
    samples make a narrow bump, not a spike). 1: the same distribution; 0: disjoint.
    NaN values are dropped; NaN if a sample is then empty."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return math.nan
    pooled = np.concatenate([a, b])
    floor = max(0.01 * (pooled.max() - pooled.min()), 0.01 * pooled.std(), 1e-6)
    bw = [max(1.06 * x.std() * len(x) ** -0.2, floor) for x in (a, b)]
    lo, hi = pooled.min() - 5 * max(bw), pooled.max() + 5 * max(bw)
    xs = np.linspace(lo, hi, grid)

    def kde(x, h):
        z = (xs[:, None] - x[None]) / h
        return np.exp(-0.5 * z * z).sum(1) / (len(x) * h * math.sqrt(2 * math.pi))

    return float(np.clip(np.trapezoid(np.minimum(kde(a, bw[0]), kde(b, bw[1])), xs), 0.0, 1.0))


# ------------------------------------------------------------ classifier two-sample test
#
# Simple, readable features of one segment, then a classifier asked to tell generated
# segments from real ones (Lopez-Paz and Oquab 2017): accuracy 0.5 when it cannot.

def segment_features(song) -> dict[str, float]:
    """Features of one segment (a :class:`Song`), per track (keyed by its label, e.g.
    ``"soprano sounding share"``) and of the whole, in musical units (quarter notes via
    ``song.resolution``; bars via its first time signature). Shares are of the steps or
    notes of the segment; a track without notes gives 0s, so that every segment of one
    track layout has the same keys. Drum tracks get no pitch-class features (0)."""
    from .evaluation import track_labels
    from .representations.pianoroll import PITCH, TRACK

    roll = song.to_multitrack().pianoroll > 0
    res, spb = song.resolution, song.steps_per_bar
    drums = [t.is_drum for t in song.tracks]
    n_steps, n_bars = max(roll.shape[1], 1), max(1, -(-roll.shape[1] // spb))
    out = {}
    for k, label in enumerate(track_labels(song.tracks)):
        notes = song.notes[song.notes[:, TRACK] == k]
        lengths, pitches, starts = notes[:, END] - notes[:, START], notes[:, PITCH], notes[:, START]
        sounding = roll[k].sum(1)
        f = {"sounding share": (sounding > 0).sum() / n_steps,
             "<=1/16 note share": (4 * lengths <= res).mean() if len(notes) else 0.0,
             "2+ pitch step share": (sounding > 1).sum() / n_steps,
             "note length (quarters)": lengths.mean() / res if len(notes) else 0.0,
             "notes per bar": len(notes) / n_bars,
             "pitch range": float(np.ptp(pitches)) if len(notes) else 0.0,
             "mean pitch": pitches.mean() if len(notes) else 0.0,
             "mean leap": _mean_leap(starts, pitches),
             "onsets on beats share": (starts % res == 0).mean() if len(notes) else 0.0}
        pcs = _pitch_classes_per_bar(roll[k], spb)
        f["pitch classes per bar"] = 0.0 if drums[k] or not pcs.any() else pcs[pcs > 0].mean()
        f["max pitch classes in a bar"] = 0.0 if drums[k] else pcs.max(initial=0)
        f["scale consistency"] = 0.0 if drums[k] else _best_scale_share(pitches)
        out.update((f"{label} {name}", v) for name, v in f.items())
    pitched = [k for k in range(len(drums)) if not drums[k]]
    pcs = _pitch_classes_per_bar(roll[pitched].any(0), spb) if pitched else np.zeros(1)
    anything = roll.any((0, 2))
    pitched_notes = song.notes[np.isin(song.notes[:, TRACK], pitched)]
    out.update({"polyphony": polyphony(roll, drums), "silent step share": 1 - anything.sum() / n_steps,
                "empty bar share": (~_bars(anything, spb).any(1)).mean() if len(anything) else 1.0,
                "all pitch classes per bar": pcs[pcs > 0].mean() if pcs.any() else 0.0,
                "all max pitch classes in a bar": pcs.max(initial=0),
                "all scale consistency": _best_scale_share(pitched_notes[:, PITCH])})
    return {name: float(v) if math.isfinite(v) else 0.0 for name, v in out.items()}


SCALES = np.array([np.roll(scale, root) for scale in (MAJOR_SCALE, MINOR_SCALE) for root in range(12)])  # (24, 12)


def _best_scale_share(pitches: np.ndarray) -> float:
    """The largest share of ``pitches`` (one per note) inside one major or minor scale."""
    counts = np.bincount(np.asarray(pitches) % 12, minlength=12)
    return float((SCALES @ counts).max() / counts.sum()) if counts.sum() else 0.0


def _pitch_classes_per_bar(roll: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """The number of pitch classes that sound in each bar of ``roll (steps, 128)``."""
    bars = _bars(np.asarray(roll) > 0, steps_per_bar)
    return (chroma(bars.any(1)) > 0).sum(1) if len(bars) else np.zeros(0, int)


def _mean_leap(starts: np.ndarray, pitches: np.ndarray) -> float:
    """The mean absolute interval (semitones) between consecutive notes of a track; of a
    chord, its highest note counts."""
    order = np.lexsort((pitches, starts))
    starts, pitches = starts[order], pitches[order]
    top = pitches[np.r_[starts[1:] != starts[:-1], True]] if len(starts) else pitches
    return float(np.abs(np.diff(top)).mean()) if len(top) > 1 else 0.0


def classifier_two_sample_test(generated: list[dict], real: list[dict], seed: int = 0, folds: int = 5,
                               generated_groups=None, real_groups=None, trees: int = 300) -> dict:
    """Classifier two-sample test: a random forest (``trees`` trees, leaves of at least 2)
    learns to tell ``generated`` feature dicts (e.g. of :func:`segment_features`) from
    ``real`` ones in stratified ``folds``-fold cross-validation, on as many of each (the
    larger side subsampled, seeded; a key missing from a dict is 0). ``*_groups``: the
    piece of each segment, so that segments of one piece stay in one fold (else the
    forest may recognise pieces, not the side). Returns the mean accuracy over folds
    (0.5: it cannot tell them apart; 1: it always can), its std, the segments per side,
    and every feature ranked by its mean impurity importance, with its mean on each side."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    from .errors import MuseganError

    n = min(len(generated), len(real))
    groups = [np.arange(len(s)) if g is None else np.asarray(g) for s, g in ((generated, generated_groups),
                                                                             (real, real_groups))]
    if n < 2 * folds:
        raise MuseganError(f"classifier two-sample test: {len(generated)} generated and {len(real)} real segments; "
                           f"it needs at least {2 * folds} on each side for {folds} folds")
    rng = np.random.default_rng(seed)
    keep = [np.sort(rng.choice(len(s), n, replace=False)) for s in (generated, real)]
    if min(len(np.unique(g[i])) for g, i in zip(groups, keep)) < folds:
        raise MuseganError(f"classifier two-sample test: segments of fewer than {folds} pieces on a side; "
                           f"it needs at least {folds} pieces on each side for {folds} folds")
    names = list(dict.fromkeys(k for d in real + generated for k in d))
    x = np.array([[s[i].get(k, 0.0) for k in names] for s, idx in zip((generated, real), keep) for i in idx], float)
    y = np.repeat([0, 1], n)  # 1: real
    pieces = np.concatenate([groups[0][keep[0]], groups[1][keep[1]] + groups[0].max() + 1])
    split = (StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, pieces)
             if generated_groups is not None or real_groups is not None
             else StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    accuracy, importance = [], np.zeros(len(names))
    for train, test in split:
        forest = RandomForestClassifier(trees, min_samples_leaf=2, random_state=seed, n_jobs=1).fit(x[train], y[train])
        accuracy.append(forest.score(x[test], y[test]))
        importance += forest.feature_importances_ / folds
    mean_gen, mean_real = x[:n].mean(0), x[n:].mean(0)
    return {"accuracy": float(np.mean(accuracy)), "std": float(np.std(accuracy)), "folds": folds,
            "segments": n, "features": [{"feature": names[j], "importance": float(importance[j]),
                                         "real": float(mean_real[j]), "generated": float(mean_gen[j])}
                                        for j in np.argsort(-importance, kind="stable")]}
