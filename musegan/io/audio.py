"""Audio files <-> float32 arrays ``(channels, n)``.

Reading through soundfile (WAV, FLAC, OGG; 8/16/24/32-bit and float), resampled to
``sr`` (44.1 kHz by default) with soxr when installed, else torchaudio. A file that
cannot be used raises :class:`~musegan.io.midi.UnreadableFile` with the reason, as a
MIDI file does. Writing: 16-bit or float WAV through soundfile, atomically.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes
from .midi import UnreadableFile, _one_line, existing_file

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SAMPLE_RATE = 44100
MIN_SAMPLE_RATE = 1000  # below it a header is damaged, and resampling one would make millions of samples of each
MAX_PEAK = 1e6  # float samples beyond are damaged (float files scaled as 16-bit integers, up to 32768, pass)


def read_audio(path, sr: int | None = SAMPLE_RATE, mono: bool = True, max_channels: int = 0):
    """Read an audio file.

    Returns ``(y, sr)``: ``y`` float32 of shape ``(channels, n)`` in [-1, 1] (``(1, n)``
    when ``mono``: the channels averaged), at ``sr`` (the file's own rate when ``sr`` is
    None). ``max_channels`` > 0 keeps at most that many channels (with ``mono`` False).
    Raises ``UnreadableFile`` for a missing, empty, truncated or non-audio file, one
    with no samples, a sample rate under ``MIN_SAMPLE_RATE``, or NaN, infinite or
    absurd (over ``MAX_PEAK``) samples.
    """
    import soundfile as sf

    path = existing_file(path)
    try:
        with sf.SoundFile(str(path)) as f:
            file_sr, frames = int(f.samplerate), int(f.frames)
            y = f.read(dtype="float32", always_2d=True)  # (n, channels)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError on bad data
        raise UnreadableFile(f"not readable audio: {_one_line(e)}") from None
    if y.shape[0] == 0:
        raise UnreadableFile("no audio samples")
    if file_sr < MIN_SAMPLE_RATE:
        raise UnreadableFile(f"sample rate {file_sr} Hz is too low for audio (at least {MIN_SAMPLE_RATE} Hz)")
    declared = _wav_declared_bytes(path)
    have = path.stat().st_size
    if y.shape[0] < frames or (declared is not None and declared[0] + declared[1] > have):
        raise UnreadableFile("truncated: the header declares more audio than the file holds")
    peak = float(np.abs(y).max())
    if not np.isfinite(peak):
        raise UnreadableFile("NaN or infinite samples")
    if peak > MAX_PEAK:  # resampling such values would overflow to infinities
        raise UnreadableFile(f"damaged samples: values up to {peak:.3g} (full scale is 1)")
    y = np.ascontiguousarray(y.T)
    if mono:
        y = y.mean(axis=0, keepdims=True)
    elif max_channels > 0:
        y = y[:max_channels]
    if sr is not None and int(sr) != file_sr:
        n, y = y.shape[1], resample(y, file_sr, int(sr))
        if y.shape[1] == 0:
            raise UnreadableFile(f"too short: {n} samples at {file_sr} Hz make none at {sr} Hz")
    return y, (file_sr if sr is None else int(sr))


def _wav_declared_bytes(path: Path):
    """For a RIFF/WAVE file, ``(offset, size)`` of its data chunk as the header declares
    it (libsndfile silently reads what is there of a truncated file); else None."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                return (f.tell(), size) if size not in (0, 0xFFFFFFFF) else None
            f.seek(size + (size & 1), 1)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``(channels, n)`` float32 from ``orig_sr`` to ``target_sr`` (soxr HQ when
    installed, else ``torchaudio.functional.resample``)."""
    if orig_sr == target_sr:
        return y
    try:
        import soxr
    except ImportError:
        import torch
        import torchaudio.functional as AF

        out = AF.resample(torch.from_numpy(np.ascontiguousarray(y)), orig_sr, target_sr).numpy()
    else:
        out = soxr.resample(np.ascontiguousarray(y.T), orig_sr, target_sr, quality="HQ").T
    return np.ascontiguousarray(out, dtype=np.float32)


def write_wav(path, y, sr: int = SAMPLE_RATE, subtype: str = "PCM_16") -> Path:
    """Write ``y`` (``(n,)`` or ``(channels, n)``, floats in [-1, 1], clipped) as a WAV
    file atomically; returns the path."""
    import soundfile as sf

    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None]
    if y.ndim != 2:
        raise ValueError(f"expected (n,) or (channels, n) audio, got shape {y.shape}")
    y = np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=-1.0)
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0).T, int(sr), subtype=subtype, format="WAV")
    return atomic_write_bytes(path, buf.getvalue())
