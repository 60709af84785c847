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
