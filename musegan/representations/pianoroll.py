"""Multitrack piano-rolls: the one in-memory music type, and its pure encoders.

Two forms of the same music:

* **notes**: an ``int32`` array of shape ``(n_notes, 5)`` with the columns
  ``track, pitch, start, end, velocity`` (start/end in steps, end exclusive).
  Compact; this is what prepared corpora store.
* **Multitrack**: dense rolls ``pianoroll (n_tracks, n_steps, 128)`` of velocities
  and ``onsets`` of the same shape, so that a repeated note stays two notes.

Time is counted in *steps*; ``resolution`` is steps per quarter note. Nothing here
touches files: ``musegan.io.midi`` reads and writes these.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NOTE_COLUMNS = ("track", "pitch", "start", "end", "velocity")
TRACK, PITCH, START, END, VELOCITY = range(5)
N_PITCHES = 128

# LPD-5 (Lakh Pianoroll Dataset, Dong et al. 2018): tracks merged by instrument family;
# programs outside the listed families count as piano.
LPD5_TRACKS = (
    ("Drums", 0, True),
    ("Piano", 0, False),
    ("Guitar", 24, False),
    ("Bass", 32, False),
    ("Strings", 48, False),
)
TRACK_MODES = ("lpd5", "merge", "keep")


@dataclass
class Track:
    name: str = ""
    program: int = 0
    is_drum: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "program": int(self.program), "is_drum": bool(self.is_drum)}

    @classmethod
    def from_dict(cls, d: dict) -> "Track":
        return cls(str(d.get("name", "")), int(d.get("program", 0)), bool(d.get("is_drum", False)))


@dataclass
class Multitrack:
    """Dense multitrack piano-roll.

    pianoroll: ``(n_tracks, n_steps, 128)`` uint8 velocities, 0 where silent.
    onsets: ``(n_tracks, n_steps, 128)`` bool, True on the first step of each note.
    resolution: steps per quarter note.
    tempos: ``[(step, qpm), ...]`` sorted, the first at step 0.
    time_signatures: ``[(step, numerator, denominator), ...]`` sorted, the first at step 0.
    tracks: one :class:`Track` per roll row.
    """

    pianoroll: np.ndarray
    onsets: np.ndarray
    resolution: int = 4
    tempos: list = field(default_factory=lambda: [(0, 120.0)])
    time_signatures: list = field(default_factory=lambda: [(0, 4, 4)])
    tracks: list = field(default_factory=list)

    @property
    def n_tracks(self) -> int:
        return self.pianoroll.shape[0]

    @property
    def n_steps(self) -> int:
        return self.pianoroll.shape[1]

    @property
    def steps_per_bar(self) -> int:
        _, num, den = self.time_signatures[0]
        return steps_per_bar(self.resolution, num, den)

    def to_notes(self) -> np.ndarray:
        return to_notes(self.pianoroll, self.onsets)

    def to_song(self) -> "Song":
        return Song(self.to_notes(), list(self.tracks), self.resolution,
                    list(self.tempos), list(self.time_signatures), self.n_steps)


@dataclass
class Song:
    """The compact form of a :class:`Multitrack`: its notes and its header.

    notes: ``(n_notes, 5)`` int32, columns ``track, pitch, start, end, velocity``.
    n_steps: length in steps (at least the end of the last note).
    """

    notes: np.ndarray
    tracks: list
    resolution: int = 4
    tempos: list = field(default_factory=lambda: [(0, 120.0)])
    time_signatures: list = field(default_factory=lambda: [(0, 4, 4)])
    n_steps: int = 0

    def __post_init__(self):
        self.notes = np.asarray(self.notes, dtype=np.int32).reshape(-1, 5)
        last = int(self.notes[:, END].max()) if len(self.notes) else 0
        self.n_steps = max(int(self.n_steps), last)

    @property
    def steps_per_bar(self) -> int:
        _, num, den = self.time_signatures[0]
        return steps_per_bar(self.resolution, num, den)

    def to_multitrack(self) -> Multitrack:
        return from_notes(self.notes, len(self.tracks), self.n_steps, self.resolution,
                          self.tempos, self.time_signatures, self.tracks)


def steps_per_bar(resolution: int, numerator: int = 4, denominator: int = 4) -> int:
    """Steps in one bar: ``resolution * 4 * numerator / denominator`` (at least 1)."""
    return max(1, int(round(resolution * 4 * numerator / denominator)))


def quantize(ticks: np.ndarray, ticks_per_quarter: int, resolution: int) -> np.ndarray:
    """Ticks to steps, rounding half up, in exact integer arithmetic."""
    t = np.asarray(ticks, dtype=np.int64)
    return (t * resolution * 2 + ticks_per_quarter) // (2 * ticks_per_quarter)


def make_notes(track, pitch, start, end, velocity, canonical: bool = True) -> np.ndarray:
    """Stack columns into a notes array: every note at least one step long, velocities
    in 1..127. ``canonical``: also overlaps resolved as a roll sees them and sorted by
    (start, track, pitch, end) (``map_tracks`` does that too, so a reader whose notes
    go straight into it may skip it)."""
    cols = [np.asarray(c, dtype=np.int64).reshape(-1) for c in (track, pitch, start, end, velocity)]
    notes = np.stack(cols, axis=1) if len(cols[0]) else np.zeros((0, 5), np.int64)
    notes[:, END] = np.maximum(notes[:, END], notes[:, START] + 1)
    notes[:, VELOCITY] = np.clip(notes[:, VELOCITY], 1, 127)
    notes = notes[(notes[:, PITCH] >= 0) & (notes[:, PITCH] < N_PITCHES) & (notes[:, START] >= 0)]
    return (sort_notes(_resolve_overlaps(notes)) if canonical else notes).astype(np.int32)


def _resolve_overlaps(notes: np.ndarray) -> np.ndarray:
    """Make notes of one pitch on one track disjoint, as a piano-roll sees them: the
    sounding span is the union of the notes, split at every onset. Idempotent, so that
    notes -> roll -> notes and notes -> MIDI -> notes give back the same array."""
    if len(notes) < 2:
        return notes
    notes = notes[np.lexsort((notes[:, END], notes[:, START], notes[:, PITCH], notes[:, TRACK]))]
    group = notes[:, TRACK] * N_PITCHES + notes[:, PITCH]
    big = int(notes[:, END].max()) + 1
    reach = np.maximum.accumulate(group * big + notes[:, END]) - group * big  # union's end so far
    same_next = np.zeros(len(notes), bool)
    same_next[:-1] = group[1:] == group[:-1]
    next_start = np.full(len(notes), np.iinfo(np.int64).max)
    next_start[:-1] = notes[1:, START]
    end = np.where(same_next, np.minimum(next_start, reach), reach)
    out = notes.copy()
    out[:, END] = end
    # Of several notes starting together, the longest (last in this order) stands.
    return out[~(same_next & (next_start == notes[:, START]))]


def sort_notes(notes: np.ndarray) -> np.ndarray:
    order = np.lexsort((notes[:, END], notes[:, PITCH], notes[:, TRACK], notes[:, START]))
    return notes[order]


def from_notes(
    notes: np.ndarray,
    n_tracks: int,
    n_steps: int | None = None,
    resolution: int = 4,
    tempos=None,
    time_signatures=None,
    tracks=None,
) -> Multitrack:
    """Notes ``(n, 5)`` -> :class:`Multitrack`. Overlapping notes of one pitch in one
    track become one run of active steps, split at each onset."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 5)
    if n_steps is None:
        n_steps = int(notes[:, END].max()) if len(notes) else 0
    roll = np.zeros((n_tracks, n_steps, N_PITCHES), np.uint8)
    onsets = np.zeros((n_tracks, n_steps, N_PITCHES), bool)
    # Later notes overwrite earlier ones where they overlap: a new onset restarts the note.
    for k, p, s, e, v in notes[(notes[:, TRACK] < n_tracks) & (notes[:, START] < n_steps)]:
        roll[k, s:e, p] = v
        onsets[k, s, p] = True
    return Multitrack(
        roll,
        onsets,
        resolution,
        list(tempos) if tempos else [(0, 120.0)],
        list(time_signatures) if time_signatures else [(0, 4, 4)],
        list(tracks) if tracks is not None else [Track() for _ in range(n_tracks)],
    )


def to_notes(pianoroll: np.ndarray, onsets: np.ndarray | None = None) -> np.ndarray:
    """Dense rolls ``(n_tracks, n_steps, 128)`` -> notes ``(n, 5)``.

    A note starts where a pitch turns on or where ``onsets`` marks a new note, and
    lasts while the pitch stays on. Its velocity is the roll's value at its start
    (1-valued rolls, e.g. binary ones, give velocity 1: scale before if needed).
    """
    pianoroll = np.asarray(pianoroll)
    n_tracks, n_steps, n_pitches = pianoroll.shape
    out = []
    for k in range(n_tracks):
        active = pianoroll[k] > 0
        if not active.any():
            continue
        prev = np.zeros_like(active)
        prev[1:] = active[:-1]
        start = active & ~prev
        if onsets is not None:
            start |= active & onsets[k].astype(bool)
        cont = np.zeros_like(active)  # note goes on from t to t + 1
        cont[:-1] = active[:-1] & active[1:] & ~start[1:]
        stop = active & ~cont  # last step of a note
        sp, st = np.nonzero(start.T)  # sorted by pitch, then time
        ep, et = np.nonzero(stop.T)
        vel = pianoroll[k][st, sp]
        out.append(np.stack([np.full_like(sp, k), sp, st, et + 1, vel], axis=1))
    if not out:
        return np.zeros((0, 5), np.int32)
    return sort_notes(np.concatenate(out).astype(np.int64)).astype(np.int32)


# ---------------------------------------------------------------------------- tracks

def lpd5_index(program: int, is_drum: bool) -> int:
    """Row of a source track in the LPD-5 set (Drums, Piano, Guitar, Bass, Strings)."""
    if is_drum:
        return 0
    if 24 <= program <= 31:
        return 2
    if 32 <= program <= 39:
        return 3
    if 40 <= program <= 51:
        return 4
    return 1


def map_tracks(notes: np.ndarray, tracks: list, mode: str = "lpd5", max_tracks: int = 4, names=()):
    """Map source tracks onto a fixed set of rows.

    mode ``lpd5``: by instrument family into Drums, Piano, Guitar, Bass, Strings.
    mode ``merge``: every pitched track into one (drums dropped).
    mode ``keep``: tracks as they are: with ``names``, row i is the first track whose
    name contains ``names[i]`` (case-insensitive); otherwise the first ``max_tracks``
    tracks that have notes. Rows with no such track stay empty.
    Returns ``(notes, tracks)`` with the new track indices.
    """
    notes = np.asarray(notes).reshape(-1, 5)
    src = notes[:, TRACK]
    if mode == "lpd5":
        table = [lpd5_index(t.program, t.is_drum) for t in tracks]
        return _remap(notes, table), [Track(n, p, d) for n, p, d in LPD5_TRACKS]
    if mode == "merge":
        pitched = [i for i, t in enumerate(tracks) if not t.is_drum]
        program = tracks[pitched[0]].program if pitched else 0
        table = [0 if i in pitched else -1 for i in range(len(tracks))]
        return _remap(notes, table), [Track("Piano" if program < 8 else "Merged", program, False)]
    if mode == "keep":
        used = [i for i in range(len(tracks)) if np.any(src == i)]
        if names:
            rows = []
            for name in names:
                match = [i for i in used if name.lower() in tracks[i].name.lower() and i not in rows]
                rows.append(match[0] if match else -1)
            new_tracks = [tracks[i] if i >= 0 else Track(str(n).title()) for i, n in zip(rows, names)]
        else:
            rows = used[:max_tracks]
            new_tracks = [tracks[i] for i in rows] + [Track() for _ in range(max_tracks - len(rows))]
        table = [-1] * len(tracks)
        for row, i in enumerate(rows):
            if i >= 0:
                table[i] = row
        return _remap(notes, table), new_tracks
    raise ValueError(f"unknown track mode {mode!r} (choose from {', '.join(TRACK_MODES)})")


def _remap(notes: np.ndarray, table: list) -> np.ndarray:
    """Give each note the row ``table[track]``; drop notes whose row is -1. Notes that
    land on one row together are merged as a piano-roll would merge them."""
    table = np.asarray(list(table) + [-1], np.int64)  # never empty
    mapped = notes.astype(np.int64, copy=True)
    mapped[:, TRACK] = table[np.minimum(notes[:, TRACK], len(table) - 1)]
    mapped = mapped[mapped[:, TRACK] >= 0]
    return sort_notes(_resolve_overlaps(mapped)).astype(np.int32)


def transpose_notes(notes: np.ndarray, semitones: int, drum_tracks=()) -> np.ndarray:
    """Shift the pitch of every note not on a drum track."""
    out = np.array(notes, copy=True)
    pitched = ~np.isin(out[:, TRACK], list(drum_tracks))
    out[pitched, PITCH] += semitones
    return out


# ---------------------------------------------------------------------------- frames

@dataclass(frozen=True)
class FrameSpec:
    """How a multitrack roll becomes model frames: one binary vector per step.

    The vector of a step is, for each track, for each channel (``active``, then
    ``onset`` if ``onsets``), one bit per pitch in ``[pitch_low, pitch_high]``.
    """

    n_tracks: int
    pitch_low: int = 21
    pitch_high: int = 108
    onsets: bool = True

    @property
    def n_pitches(self) -> int:
        return self.pitch_high - self.pitch_low + 1

    @property
    def n_channels(self) -> int:
        return 2 if self.onsets else 1

    @property
    def n_features(self) -> int:
        return self.n_tracks * self.n_channels * self.n_pitches


def notes_to_frames(notes: np.ndarray, spec: FrameSpec, start: int, length: int) -> np.ndarray:
    """Notes -> frames ``(length, n_features)`` float32 for steps ``[start, start + length)``.
    Notes outside the pitch range are dropped."""
    notes = np.asarray(notes).reshape(-1, 5)
    frames = np.zeros((length, spec.n_tracks, spec.n_channels, spec.n_pitches), np.float32)
    sel = (
        (notes[:, START] < start + length)
        & (notes[:, END] > start)
        & (notes[:, PITCH] >= spec.pitch_low)
        & (notes[:, PITCH] <= spec.pitch_high)
        & (notes[:, TRACK] < spec.n_tracks)
    )
    n = notes[sel]
    k, p = n[:, TRACK], n[:, PITCH] - spec.pitch_low
    s = np.maximum(n[:, START] - start, 0)
    e = np.minimum(n[:, END] - start, length)
    # Active spans without a Python loop: +1 at each start, -1 at each end, running sum.
    edges = np.zeros((length + 1, spec.n_tracks, spec.n_pitches), np.int32)
    np.add.at(edges, (s, k, p), 1)
    np.add.at(edges, (e, k, p), -1)
    frames[:, :, 0] = np.cumsum(edges[:-1], axis=0) > 0
    if spec.onsets:
        inside = n[:, START] >= start
        frames[s[inside], k[inside], 1, p[inside]] = 1.0
    return frames.reshape(length, spec.n_features)


def frames_to_notes(frames: np.ndarray, spec: FrameSpec, velocity: int = 80) -> np.ndarray:
    """Frames ``(n_steps, n_features)`` of 0/1 -> notes. An onset bit starts a new note
    only where its pitch is active; the velocity is constant."""
    frames = np.asarray(frames) > 0.5
    n_steps = frames.shape[0]
    f = frames.reshape(n_steps, spec.n_tracks, spec.n_channels, spec.n_pitches)
    full = np.zeros((spec.n_tracks, n_steps, N_PITCHES), np.uint8)
    full[:, :, spec.pitch_low : spec.pitch_high + 1] = f[:, :, 0].transpose(1, 0, 2) * velocity
    on = None
    if spec.onsets:
        on = np.zeros((spec.n_tracks, n_steps, N_PITCHES), bool)
        on[:, :, spec.pitch_low : spec.pitch_high + 1] = f[:, :, 1].transpose(1, 0, 2)
    return to_notes(full, on)
