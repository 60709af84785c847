"""A composer's controls on a given piece: which of its notes a model keeps and which it
writes (infill, harmonize, accompany), and the steering of key, tempo and instruments.

The given piece stays a ``symusic`` score in its own ticks, so that everything the model
does not write (notes, velocities, programs, tempo and time signature changes,
controllers) comes out exactly as it went in; the model sees it quantized to its grid.
Pure functions: no file is read or written here.
"""
from __future__ import annotations

import numpy as np

from .errors import MuseganError, warn
from .representations.pianoroll import END, PITCH, START, TRACK, Track, quantize, track_table

# Krumhansl & Kessler (1982) key profiles, from the tonic
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# [tonic, minor]: the major and minor profiles at each tonic
KEY_PROFILES = np.stack([np.stack([np.roll(MAJOR, t), np.roll(MINOR, t)]) for t in range(12)])
NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


# -- keys ------------------------------------------------------------------------------
def parse_key(text: str) -> tuple[int, bool]:
    """``"C"``, ``"F#"``, ``"Bb major"``, ``"Am"``, ``"c# minor"`` -> ``(tonic pitch class,
    minor)``."""
    t = text.strip().lower().replace(" ", "").replace("-", "")
    minor = t.endswith("minor") or t.endswith("min") or (t.endswith("m") and not t.endswith("major"))
    for suffix in ("major", "minor", "maj", "min", "m"):
        if t.endswith(suffix):
            t = t[: -len(suffix)]
            break
    if not t or t[0] not in NAMES or t[1:] not in ("", "#", "b", "s", "is", "es"):
        raise MuseganError(f"--key {text!r}: expected a key such as C, F#, Bb, Am or 'Eb minor'")
    shift = {"": 0, "#": 1, "s": 1, "is": 1, "b": -1, "es": -1}[t[1:]]
    return (NAMES[t[0]] + shift) % 12, minor


def key_name(tonic: int, minor: bool) -> str:
    return f"{PITCH_NAMES[tonic % 12]} {'minor' if minor else 'major'}"


def pitch_class_weights(notes: np.ndarray, drums=()) -> np.ndarray:
    """Duration-weighted pitch-class histogram ``(12,)`` of pitched notes."""
    pitched = notes[~np.isin(notes[:, TRACK], list(drums))] if len(drums) else notes
    return np.bincount(pitched[:, PITCH] % 12, weights=pitched[:, END] - pitched[:, START], minlength=12)


def estimate_key(notes: np.ndarray, drums=()) -> tuple[int, bool]:
    """The Krumhansl-Schmuckler key: the major or minor profile, at the tonic, that
    correlates best with the duration-weighted pitch classes."""
    h = pitch_class_weights(notes, drums)
    r = np.nan_to_num(_correlations(h, KEY_PROFILES), nan=-np.inf)  # (tonic, minor), 24 keys at once
    tonic, minor = np.unravel_index(int(np.argmax(r)), r.shape)
    return int(tonic), bool(minor)


def _correlations(h: np.ndarray, profiles: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``h`` ``(12,)`` with each profile ``(..., 12)``; NaN where
    either is constant."""
    a, b = h - h.mean(), profiles - profiles.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (b @ a) / np.sqrt((a @ a) * (b * b).sum(-1))


def shift_to_key(notes: np.ndarray, key: tuple[int, bool], drums=()) -> int:
    """The transposition in -6..5 semitones that makes ``notes`` fit ``key`` best (the
    correlation of their pitch classes with the key's profile); 0 where no shift fits
    better than another (no pitched notes, or all twelve pitch classes alike)."""
    h = pitch_class_weights(notes, drums)
    if np.ptp(h) == 0:
        return 0
    prof = np.roll(MINOR if key[1] else MAJOR, key[0])
    scores = [np.corrcoef(np.roll(h, s), prof)[0, 1] for s in range(-6, 6)]
    return int(np.nanargmax(scores)) - 6


def common_key_shift(notes: np.ndarray, drums=()) -> int:
    """The transposition in -6..5 semitones that moves the estimated key of ``notes``
    to C major or A minor (the key signature without sharps or flats); 0 without
    pitched notes. The relative minor shares its major's shift."""
    if not pitch_class_weights(notes, drums).any():
        return 0
    tonic, minor = estimate_key(notes, drums)
    return (-(tonic + 3 if minor else tonic) + 6) % 12 - 6


def transpose(notes: np.ndarray, semitones: int, drums=(), low: int = 0, high: int = 127) -> np.ndarray:
    """Pitched notes moved by ``semitones`` (drums stay); a note pushed out of
    ``[low, high]`` moves by an octave the other way."""
    out = np.array(notes, copy=True)
    pitched = ~np.isin(out[:, TRACK], list(drums))
    p = out[pitched, PITCH] + semitones
    p = np.where(p > high, p - 12, np.where(p < low, p + 12, p))
    out[pitched, PITCH] = p
    return out


# -- the given piece ---------------------------------------------------------------------
class GivenPiece:
    """A piece a model works on: its symusic score (ticks), read by the model on its own
    grid (steps), and which of the score's tracks plays which of the model's rows."""

    def __init__(self, score, data, model_tracks: list[Track], name: str = "the piece"):
        self.score, self.name = score, name
        self.tpq = int(score.ticks_per_quarter)
        self.res = int(data.resolution)
        self.sources = [i for i in range(len(score.tracks)) if len(score.tracks[i].notes)]  # tracks with notes
        self.tracks = [Track(str(t.name or ""), int(t.program), bool(t.is_drum))
                       for t in (score.tracks[i] for i in self.sources)]
        table = track_table(self.tracks, data.tracks, data.max_tracks, data.track_names)
        self.rows = {self.sources[i]: r for i, r in enumerate(table) if 0 <= r < len(model_tracks)}
        self.model_tracks = model_tracks

    @property
    def time_signature(self) -> tuple[int, int]:
        """The piece's first time signature (MIDI's 4/4 when it sets none at its start)."""
        ts = self.score.time_signatures
        return (int(ts[0].numerator), int(ts[0].denominator)) if len(ts) and ts[0].time == 0 else (4, 4)

    def tracks_of(self, row: int) -> list[int]:
        return [j for j, r in self.rows.items() if r == row]

    def step_of(self, ticks) -> np.ndarray:
        return quantize(np.asarray(ticks, np.int64), self.tpq, self.res)

    def notes(self, j: int) -> np.ndarray:
        """Score track ``j``'s notes as ``(time, duration, pitch, velocity)`` int64 rows."""
        n = self.score.tracks[j].notes.numpy()
        return np.stack([n["time"], n["duration"], n["pitch"], n["velocity"]], 1).astype(np.int64)

    def model_notes(self, keep) -> np.ndarray:
        """The notes the model reads: every mapped track's notes for which ``keep(j,
        start_steps)`` holds, in steps on the model's rows."""
        rows = []
        for j, r in self.rows.items():
            n = self.notes(j)
            if not len(n):
                continue
            start, end = self.step_of(n[:, 0]), self.step_of(n[:, 0] + n[:, 1])
            sel = keep(j, start)
            rows.append(np.stack([np.full(int(sel.sum()), r), n[sel, 2], start[sel],
                                  np.maximum(end[sel], start[sel] + 1), n[sel, 3]], 1))
        return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 5), np.int64)

    def n_steps(self) -> int:
        ends = [int(self.step_of(n[:, 0] + n[:, 1]).max()) for n in map(self.notes, self.sources) if len(n)]
        return max(ends + [1])

    def drop(self, which) -> None:
        """Remove the notes of score track ``j`` whose start step ``s`` has ``which(j, s)``."""
        import symusic

        for j in list(self.rows):
            n = self.notes(j)
            if not len(n):
                continue
            gone = which(j, self.step_of(n[:, 0]))
            if gone.any():
                kept = n[~gone]
                track = self.score.tracks[j]
                track.notes.clear()
                track.notes.extend([symusic.Note(int(t), int(d), int(p), int(v)) for t, d, p, v in kept])

    def add(self, notes: np.ndarray, pitch_shift: int = 0) -> None:
        """Generated notes (steps, model rows) into the score: on the first score track of
        their row, or on a new track with the model's name and program, at the median
        velocity of the track they join (80 on a new one)."""
        import symusic

        tick = lambda steps: (np.asarray(steps, np.int64) * self.tpq + self.res // 2) // self.res  # noqa: E731
        for r in np.unique(notes[:, TRACK]):
            mine = notes[notes[:, TRACK] == r]
            targets = self.tracks_of(int(r))
            if targets:
                j = targets[0]
                old = self.notes(j)
                velocity = int(np.median(old[:, 3])) if len(old) else 80
            else:
                t = self.model_tracks[int(r)]
                self.score.tracks.append(symusic.Track(t.name, int(t.program) % 128, bool(t.is_drum)))
                j = len(self.score.tracks) - 1
                self.rows[j] = int(r)
                velocity = 80
            start, end = tick(mine[:, START]), tick(mine[:, END])
            shift = 0 if self.model_tracks[int(r)].is_drum else pitch_shift  # drum keys are instruments
            self.score.tracks[j].notes.extend(
                [symusic.Note(int(s), int(e - s), int(p + shift), velocity)
                 for s, e, p in zip(start, end, mine[:, PITCH])])
            self.score.tracks[j].notes.sort()

    def off_grid(self, rows) -> int:
        """How many notes of the score tracks on ``rows`` start or end off the model's grid."""
        count = 0
        for j, r in self.rows.items():
            if r in rows:
                n = self.notes(j)
                for ticks in (n[:, 0], n[:, 0] + n[:, 1]):
                    count += int(((ticks * self.res) % self.tpq != 0).sum())
        return count


def match_given(piece: GivenPiece, model_tracks: list[Track], as_tracks=(), mono=()) -> dict:
    """The model row of each track of a melody file (the tracks with notes): the rows
    named by ``as_tracks`` in order; else a row whose name the track's contains (or the
    other way round); else one with the track's program; else, for a lone track, the
    first voice with a warning."""
    names = [t.name.lower() for t in model_tracks]
    sources = piece.sources
    if as_tracks:
        if len(as_tracks) != len(sources):
            raise MuseganError(f"{piece.name}: --as names {len(as_tracks)} track(s), but the file has "
                               f"{len(sources)} track(s) with notes")
        rows = [row_index(a, model_tracks, "--as") for a in as_tracks]
        return dict(zip(sources, rows))
    out, taken = {}, set()
    for j in sources:
        t = piece.score.tracks[j]
        name, row = str(t.name or "").lower(), None
        for r, n in enumerate(names):
            if r not in taken and n and name and (n in name or name in n):
                row = r
                break
        if row is None:
            row = next((r for r, m in enumerate(model_tracks) if r not in taken and m.program == t.program
                        and m.is_drum == t.is_drum), None)
        if row is None and len(sources) == 1:
            row = next((r for r in range(len(model_tracks)) if (mono[r] if r < len(mono) else True)), 0)
            warn(f"{piece.name}: its track {t.name or '(unnamed)'!r} matches no track of the model by name or "
                 f"program; it is taken as {model_tracks[row].name} (choose with --as)")
        if row is None:
            raise MuseganError(f"{piece.name}: its track {t.name or '(unnamed)'!r} matches no track of the model "
                               f"({', '.join(m.name for m in model_tracks)}); name them in order with --as")
        out[j] = row
        taken.add(row)
    return out


def row_index(name: str, model_tracks: list[Track], flag: str) -> int:
    """The model row called ``name`` (case-insensitive; or its number from 1)."""
    names = [t.name.lower() for t in model_tracks]
    key = name.strip().lower()
    if key in names:
        return names.index(key)
    if key.isdigit() and 1 <= int(key) <= len(names):
        return int(key) - 1
    raise MuseganError(f"{flag} {name!r}: the model's tracks are {', '.join(t.name for t in model_tracks)}")


def fit_octaves(notes: np.ndarray, low: int, high: int) -> int:
    """The octave shift (a multiple of 12) that puts most of ``notes`` in ``[low, high]``:
    0 unless it brings at least a fifth more of them inside."""
    if not len(notes):
        return 0
    shifts = range(-48, 49, 12)
    inside = [int((((notes[:, PITCH] + s) >= low) & ((notes[:, PITCH] + s) <= high)).sum()) for s in shifts]
    best = max(inside)
    if best - inside[shifts.index(0)] < 0.2 * len(notes):
        return 0
    return min((s for s, n in zip(shifts, inside) if n == best), key=abs)

