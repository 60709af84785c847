"""Does a model copy its corpus? Per generated bar, the best Jaccard similarity of its
pitched notes to any bar of the corpus, over all 12 transpositions. A bar is its set of
(pitch, onset on the sixteenth grid) of the pitched tracks (drums left out: every pop
song shares its beat). The baseline is the corpus against itself: each song's bars
against the other songs' bars. Also the longest run of generated bars that copy (J at
least 0.8) consecutive bars of one song.

Usage: python benchmarks/musical/copy_check.py --reference CORPUS GENERATED_DIR [...]
(each GENERATED_DIR a folder of MIDI files, e.g. from ``musegan generate --num 24``).
"""
import argparse
from pathlib import Path

import numpy as np

from musegan.io.midi import read_song
from musegan.representations.pianoroll import PITCH, START, TRACK, map_tracks

CELLS = 16  # onsets per bar, on the sixteenth grid (4/4)


def bar_matrix(path, tracks: str) -> np.ndarray:
    """The song's bars ``(n_bars, 128 * CELLS)`` of 0/1: a pitched note starting there."""
    song = read_song(path, 12)
    notes, rows = map_tracks(song.notes, song.tracks, tracks)
    pitched = [k for k, t in enumerate(rows) if not t.is_drum]
    notes = notes[np.isin(notes[:, TRACK], pitched)]
    spb = song.steps_per_bar
    out = np.zeros((-(-song.n_steps // spb), 128 * CELLS), bool)
    bar, cell = notes[:, START] // spb, (notes[:, START] % spb) * CELLS // spb
    out[bar, notes[:, PITCH] * CELLS + cell] = True
    return out


def best_match(G: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of G: the best Jaccard similarity to a row of R over the 12 transpositions
    (-6..5 semitones), and that row's index."""
    best, arg = np.zeros(len(G)), np.full(len(G), -1)
    Rf, r_size = R.astype(np.float32), R.sum(1)
    for shift in range(-6, 6):
        Gs = np.roll(G.reshape(len(G), 128, CELLS), shift, axis=1).reshape(len(G), -1)
        inter = Gs.astype(np.float32) @ Rf.T
        union = Gs.sum(1)[:, None] + r_size[None, :] - inter
        j = inter / np.maximum(union, 1)
        better = j.max(1) > best
        best[better], arg[better] = j.max(1)[better], j.argmax(1)[better]
    return best, arg


def longest_copy(best, arg, song_of, bar_of, threshold=0.8) -> int:
    longest = run = 0
    prev = None
    for b, a in zip(best, arg):
        if b < threshold:
            run, prev = 0, None
            continue
        follows = prev is not None and song_of[a] == song_of[prev] and bar_of[a] == bar_of[prev] + 1
        run, prev = (run + 1 if follows else 1), a
        longest = max(longest, run)
    return longest


def report(name, best, longest):
    print(f"{name}: {len(best)} bars, median best J {np.median(best):.2f}, J >= 0.5 {np.mean(best >= 0.5):.3f}, "
          f"J >= 0.8 {np.mean(best >= 0.8):.3f}, J >= 0.95 {np.mean(best >= 0.95):.3f}, "
          f"longest copied run {longest} bars")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True, help="the training corpus (a folder of MIDI files)")
    ap.add_argument("--tracks", default="lpd5", help="track mapping (lpd5, merge, keep)")
    ap.add_argument("generated", nargs="+", help="folders of generated MIDI files")
    args = ap.parse_args()
    songs = [bar_matrix(p, args.tracks) for p in sorted(Path(args.reference).glob("*.mid"))]
    R = np.concatenate(songs)
    song_of = np.concatenate([np.full(len(s), k) for k, s in enumerate(songs)])
    bar_of = np.concatenate([np.arange(len(s)) for s in songs])
    keep = R.any(1)
    R, song_of, bar_of = R[keep], song_of[keep], bar_of[keep]

    bests, longest = [], 0
    for k in range(len(songs)):
        other = song_of != k
        best, arg = best_match(R[song_of == k], R[other])
        bests.append(best)
        longest = max(longest, longest_copy(best, arg, song_of[other], bar_of[other]))
    report("corpus, each song against the others", np.concatenate(bests), longest)

    for folder in args.generated:
        bests, longest = [], 0
        for path in sorted(Path(folder).glob("*.mid")):
            G = bar_matrix(path, args.tracks)
            best, arg = best_match(G[G.any(1)], R)
            bests.append(best)
            longest = max(longest, longest_copy(best, arg, song_of, bar_of))
        report(folder, np.concatenate(bests), longest)


if __name__ == "__main__":
    main()
