"""Hand-made primers for the accompaniment samples (nothing taken from a corpus):
a folk-like melody in D major (one track, for the Nottingham runs: it becomes the
melody row) and a bass line with a drum beat (for the LPD-5 runs: Bass and Drums rows).
Usage: python benchmarks/musical/primers.py OUT_DIR"""
import sys
from pathlib import Path

import numpy as np

from musegan.io.midi import write_midi
from musegan.representations.pianoroll import Song, Track, make_notes

out = Path(sys.argv[1])
# 8 bars of 4/4 at 4 steps per quarter: (pitch, length in eighths)
tune = [(62, 2), (66, 2), (69, 2), (66, 2), (67, 2), (71, 2), (69, 4), (66, 2), (69, 2), (74, 4), (73, 2), (71, 2),
        (69, 4), (67, 2), (66, 2), (64, 2), (62, 2), (64, 4), (66, 2), (67, 2), (69, 4), (71, 2), (69, 2), (67, 2),
        (66, 2), (64, 4), (62, 8)]
starts = np.cumsum([0] + [2 * n for _, n in tune[:-1]])
notes = make_notes(np.zeros(len(tune)), [p for p, _ in tune], starts, starts + [2 * n for _, n in tune], np.full(len(tune), 90))
write_midi(out / "melody.mid", Song(notes, [Track("Melody", 0, False)], 4, [(0, 120.0)], [(0, 4, 4)], 128))

rows = []
for bar, root in enumerate([36, 33, 29, 31] * 2):  # C, A minor, F, G
    for q in range(4):
        rows.append((0, root + (7 if q == 2 else 0), bar * 16 + q * 4, bar * 16 + q * 4 + 3, 95))
    for q in range(4):  # kick on 1 and 3, snare on 2 and 4, closed hi-hat on eighths
        rows.append((1, 36 if q % 2 == 0 else 38, bar * 16 + q * 4, bar * 16 + q * 4 + 1, 100))
    for e in range(8):
        rows.append((1, 42, bar * 16 + e * 2, bar * 16 + e * 2 + 1, 70))
notes = make_notes(*np.array(rows).T)
write_midi(out / "bass_drums.mid", Song(notes, [Track("Bass", 33, False), Track("Drums", 0, True)], 4,
                                        [(0, 110.0)], [(0, 4, 4)], 128))
print(out / "melody.mid", out / "bass_drums.mid")
