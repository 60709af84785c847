"""Piano-roll pictures: a song as an RGB image, tracks in colours (``musegan render
song.mid --out song.png``). Time runs left to right (bar lines dark, beats light),
pitch bottom to top; each note is a bar of its track's colour with a darker first
column, so repeated notes stay apart."""
from __future__ import annotations

import numpy as np

from .representations.pianoroll import END, PITCH, START, TRACK, Song

PALETTE = np.array([(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14),
                    (140, 86, 75), (227, 119, 194), (23, 190, 207), (188, 189, 34), (127, 127, 127)], np.uint8)


def pianoroll_picture(song: Song, step_px: int = 3, pitch_px: int = 3, max_width: int = 2400) -> np.ndarray:
    """``(height, width, 3)`` uint8: the pitches the song uses (a few either side), all
    its steps; ``step_px`` shrinks so the width stays within ``max_width``."""
    notes = song.notes
    low, high = (int(notes[:, PITCH].min()) - 2, int(notes[:, PITCH].max()) + 2) if len(notes) else (58, 70)
    steps = max(song.n_steps, 1)
    step_px = max(1, min(step_px, max_width // steps))
    height, width = (high - low + 1) * pitch_px, steps * step_px
    img = np.full((height, width, 3), 250, np.uint8)
    bar, beat = song.steps_per_bar, max(1, song.resolution * 4 // song.time_signatures[0][2])
    for x in range(0, steps, beat):
        img[:, x * step_px] = 205 if x % bar else 120
    for k, pitch, start, end, _ in notes:
        y = (high - int(pitch)) * pitch_px
        color = PALETTE[int(k) % len(PALETTE)]
        img[y : y + pitch_px - (pitch_px > 2), int(start) * step_px : int(end) * step_px] = color
        img[y : y + pitch_px - (pitch_px > 2), int(start) * step_px] = color // 2
    return img


def legend(tracks) -> list[tuple[str, str]]:
    """``(track label, colour as #rrggbb)`` per track, for captions."""
    return [(t.name or f"track {k}", "#%02x%02x%02x" % tuple(int(c) for c in PALETTE[k % len(PALETTE)]))
            for k, t in enumerate(tracks)]


# -------------------------------------------------------------------- spectrograms

# a 3 x 5 pixel font for the axis labels: each glyph is 5 rows of 3 bits
GLYPHS = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 3, 1, 7), "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 2, 2), "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7),
    ".": (0, 0, 0, 0, 2), " ": (0, 0, 0, 0, 0), "k": (4, 5, 6, 5, 5), "H": (5, 5, 7, 5, 5), "z": (0, 7, 1, 2, 7),
    "s": (0, 3, 6, 1, 6),
}
# colour map: dark blue (quiet) through purple, orange, to pale yellow (loud)
RAMP = np.array([(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21),
                 (250, 193, 39), (252, 255, 164)], np.float64)


def draw_text(img: np.ndarray, text: str, x: int, y: int, scale: int = 2, color=(40, 40, 40)) -> None:
    """``text`` (digits, '.', ' ', 'kHz', 's') into ``img`` with its top left at ``(x, y)``
    (clipped at the edges)."""
    for i, ch in enumerate(text):
        for r, bits in enumerate(GLYPHS[ch]):
            for c in range(3):
                if bits >> (2 - c) & 1:
                    y0, x0 = y + r * scale, x + (4 * i + c) * scale
                    img[max(y0, 0):max(y0 + scale, 0), max(x0, 0):max(x0 + scale, 0)] = color


def text_width(text: str, scale: int = 2) -> int:
    return (4 * len(text) - 1) * scale


def spectrogram_picture(y: np.ndarray, sr: int, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128,
                        top_db: float = 80.0, px: int = 2, max_width: int = 2400) -> np.ndarray:
    """A waveform ``(n,)`` (or ``(channels, n)``, mixed to mono) as a log-mel spectrogram
    picture ``(height, width, 3)`` uint8: time left to right with a tick and label each
    second, mel bands bottom to top (Slaney's mel scale from 0 Hz to ``sr / 2``, as
    ``prepare``'s) labelled in Hz, loudness in dB from ``top_db`` below the loudest cell
    (dark) to it (pale yellow)."""
    import librosa

    from .evaluation import log_mel_frames

    S = log_mel_frames(y, sr, n_fft, hop_length, n_mels).T * (20 / np.log(10))  # (n_mels, frames) dB
    level = np.clip((S - S.max() + top_db) / top_db, 0, 1)[::-1]  # high bands first (top rows)
    frames = S.shape[1]
    fx = max(1, min(px, max_width // max(frames, 1)))
    pos = level * (len(RAMP) - 1)
    lo = np.floor(pos).astype(int).clip(max=len(RAMP) - 2)
    body = RAMP[lo] + (pos - lo)[..., None] * (RAMP[lo + 1] - RAMP[lo])
    body = np.repeat(np.repeat(body.astype(np.uint8), px, 0), fx, 1)
    left, bottom, top, right = 44, 18, 6, 10
    h, w = body.shape[:2]
    img = np.full((top + h + bottom, left + w + right, 3), 250, np.uint8)
    img[top:top + h, left:left + w] = body
    centres = librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=sr / 2.0)[1:-1]
    for f in (100, 500, 1000, 2000, 5000, 10000):
        if f > centres[-1]:
            break
        row = top + h - 1 - int(round(np.interp(f, centres, np.arange(n_mels)) * px))
        img[row, left - 5:left] = 40
        label = f"{f // 1000}kHz" if f >= 1000 else f"{f}Hz"
        draw_text(img, label, left - 7 - text_width(label), row - 5)
    seconds = (frames - 1) * hop_length / sr
    step = 1 if seconds <= 30 else 5 if seconds <= 150 else 30
    for t in range(0, int(seconds) + 1, step):
        col = left + int(round(t * sr / hop_length * fx))
        img[top + h:top + h + 4, col] = 40
        label = f"{t}s"
        draw_text(img, label, min(max(col - text_width(label) // 2, 0), img.shape[1] - text_width(label)), top + h + 6)
    return img
