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


def quantize(ticks, ticks_per_quarter, resolution: int):
    """Ticks to steps, rounding half up, in exact integer arithmetic: Python ints or
    int64 arrays (``ticks_per_quarter`` may be one per tick)."""
    return (ticks * (2 * resolution) + ticks_per_quarter) // (2 * ticks_per_quarter)


def make_notes(track, pitch, start, end, velocity, canonical: bool = True) -> np.ndarray:
    """Stack columns into a notes array: every note at least one step long, velocities
    in 1..127, notes with a pitch outside 0..127 or a negative start dropped.
    ``canonical``: also :func:`canonical_notes` (``map_tracks`` does that too, so a reader
    whose notes go straight into it may skip it)."""
    notes, _ = valid_notes(*[np.asarray(c, dtype=np.int64).reshape(-1) for c in (track, pitch, start, end, velocity)])
    return (canonical_notes(notes) if canonical else notes).astype(np.int32)


def valid_notes(track, pitch, start, end, velocity) -> tuple[np.ndarray, np.ndarray]:
    """``make_notes``' rules on ``(n,)`` columns (track, start and end int64): the notes
    kept, ``(m, 5)`` int64, and the mask ``(n,)`` that kept them."""
    keep = (pitch >= 0) & (pitch < N_PITCHES) & (start >= 0)
    notes = np.stack([track, pitch, start, np.maximum(end, start + 1), np.clip(velocity, 1, 127)], axis=1)
    return np.compress(keep, notes, axis=0), keep


def canonical_notes(notes: np.ndarray) -> np.ndarray:
    """Overlaps resolved as a roll sees them, sorted by (start, track, pitch, end)."""
    return _resolve_overlaps(sort_notes(np.asarray(notes, dtype=np.int64)))


def sort_notes(notes: np.ndarray) -> np.ndarray:
    return notes.take(lex_order(notes[:, START], notes[:, TRACK], notes[:, PITCH], notes[:, END]), axis=0)


def _resolve_overlaps(notes: np.ndarray) -> np.ndarray:
    """Make notes of one pitch on one track disjoint, as a piano-roll sees them: the
    sounding span is the union of the notes, split at every onset. Idempotent, so that
    notes -> roll -> notes and notes -> MIDI -> notes give back the same array.
    ``notes``: int64, in each (track, pitch) by (start, end), its ends changed in place;
    the result keeps the order."""
    if len(notes) < 2:
        return notes
    group = notes[:, TRACK] * N_PITCHES + notes[:, PITCH]
    by_group = lex_order(group)  # stable: in each group, by (start, end)
    group, start, end = group[by_group], notes[by_group, START], notes[by_group, END]
    apart = group * (int(end.max()) + 1)  # groups further apart than any end
    reach = np.maximum.accumulate(apart + end) - apart  # union's end so far
    same_next = np.zeros(len(notes), bool)
    same_next[:-1] = group[1:] == group[:-1]
    next_start = np.full(len(notes), np.iinfo(np.int64).max)
    next_start[:-1] = start[1:]
    new_end = np.where(same_next, np.minimum(next_start, reach), reach)
    changed = np.flatnonzero(new_end != end)
    notes[by_group[changed], END] = new_end[changed]
    # Of several notes starting together, the longest (last in this order) stands.
    drop = by_group[same_next & (next_start == start)]
    return np.delete(notes, drop, axis=0) if len(drop) else notes


def lex_order(*keys: np.ndarray) -> np.ndarray:
    """The stable order that sorts by ``keys`` (the first the most significant), as
    ``np.lexsort(keys[::-1])`` gives it, many times faster on long arrays: the keys packed
    into one int64, which is sorted 16 bits at a time where it fits in 32 (numpy's stable
    sort of 16-bit integers is a radix sort), else at once."""
    if len(keys[0]) == 0:
        return np.zeros(0, np.int64)
    packed, span = 0, 1
    for key in keys:
        low, high = int(key.min()), int(key.max())
        span *= high - low + 1
        if span >= 2**63:
            return np.lexsort(keys[::-1])
        packed = packed * (high - low + 1) + np.subtract(key, low, dtype=np.int64)
    if span > 2**32:
        return np.argsort(packed, kind="stable")
    order = np.argsort((packed & 0xFFFF).astype(np.uint16), kind="stable")
    if span > 2**16:
        order = order[np.argsort((packed[order] >> 16).astype(np.uint16), kind="stable")]
    return order


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
    Returns ``(notes, tracks)`` with the new track indices, in canonical order (see
    ``make_notes``); notes on a track index outside ``tracks`` are dropped.
    """
    notes = np.asarray(notes).reshape(-1, 5)
    mapped = SongBatch(notes, np.array([0, len(notes)]), [tracks], [None], [None]).map_tracks(mode, max_tracks, names)
    return mapped.notes, mapped.tracks[0]


@dataclass
class SongBatch:
    """Many songs' notes in one array, so that numpy works on all of them in a few
    calls: a numpy call costs microseconds, more than the notes of a small song.

    notes: ``(n, 5)`` int32, song after song; song k's are ``notes[bounds[k]:bounds[k + 1]]``
    with TRACK an index into ``tracks[k]``, as in its :class:`Song`.
    bounds: ``(n_songs + 1,)`` int64.
    tracks, tempos, time_signatures: one list per song, as in :class:`Song`.
    """

    notes: np.ndarray
    bounds: np.ndarray
    tracks: list
    tempos: list
    time_signatures: list
    resolution: int = 4

    def __len__(self) -> int:
        return len(self.tracks)

    def song_of_notes(self) -> np.ndarray:
        """``(n,)`` the song of each note."""
        return np.repeat(np.arange(len(self)), np.diff(self.bounds))

    def n_steps(self) -> np.ndarray:
        """``(n_songs,)`` the end of each song's last note (0 without notes)."""
        counts = np.diff(self.bounds)
        out = np.zeros(len(self), np.int64)
        if len(self.notes):
            out[counts > 0] = np.maximum.reduceat(self.notes[:, END], self.bounds[:-1][counts > 0])
        return out

    def song(self, k: int) -> Song:
        return Song(self.notes[self.bounds[k] : self.bounds[k + 1]], list(self.tracks[k]), self.resolution,
                    self.tempos[k], self.time_signatures[k])

    def map_tracks(self, mode: str = "lpd5", max_tracks: int = 4, names=()) -> "SongBatch":
        """:func:`map_tracks` on every song: the same batch with each song's notes on its
        new rows (canonical order) and its new tracks."""
        if mode not in TRACK_MODES:
            raise ValueError(f"unknown track mode {mode!r} (choose from {', '.join(TRACK_MODES)})")
        n_tracks = np.array([len(t) for t in self.tracks], np.int64)
        first_track = np.concatenate([[0], np.cumsum(n_tracks)])
        song = self.song_of_notes()
        track = self.notes[:, TRACK].astype(np.int64)
        # The songs' tracks numbered in turn through the batch; the last number: none.
        src = np.where((track >= 0) & (track < n_tracks[song]), first_track[song] + track, first_track[-1])
        used = np.bincount(src, minlength=first_track[-1] + 1).astype(bool).tolist() if mode == "keep" else None

        # Rows numbered through the batch too, so that no two songs share one.
        table, new_tracks, first_row = [], [], [0]  # table: source track -> row, or -1
        for k, tracks in enumerate(self.tracks):
            song_used = used[first_track[k] : first_track[k + 1]] if used else None
            rows, new = _track_rows(tracks, song_used, mode, max_tracks, names)
            table += [first_row[-1] + r if r >= 0 else -1 for r in rows]
            new_tracks.append(new)
            first_row.append(first_row[-1] + len(new))
        row = np.asarray(table + [-1], np.int64)[src]
        keep = row >= 0
        mapped = np.compress(keep, self.notes, axis=0).astype(np.int64)
        mapped[:, TRACK], song = row[keep], song[keep]
        # By (song, start, row, pitch, end): a song's rows are in order, and its pitches in a row.
        order = lex_order(song, mapped[:, START], mapped[:, TRACK] * N_PITCHES + mapped[:, PITCH], mapped[:, END])
        mapped = _resolve_overlaps(mapped.take(order, axis=0))

        song = np.repeat(np.arange(len(self)), np.diff(first_row))[mapped[:, TRACK]]
        mapped[:, TRACK] -= np.asarray(first_row)[song]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(song, minlength=len(self)))])
        return SongBatch(mapped.astype(np.int32), bounds, new_tracks, self.tempos, self.time_signatures,
                         self.resolution)


def track_table(tracks: list, mode: str = "lpd5", max_tracks: int = 4, names=()) -> list[int]:
    """The row :func:`map_tracks` gives each of ``tracks`` (all with notes), -1: dropped."""
    return _track_rows(tracks, [True] * len(tracks), mode, max_tracks, names)[0]


def _track_rows(tracks: list, used, mode: str, max_tracks: int, names) -> tuple[list, list]:
    """One song's :func:`map_tracks` table: the row of each source track (-1: dropped)
    and the new tracks. ``used[i]``: whether track i has notes (mode ``keep``)."""
    if mode == "lpd5":
        return [lpd5_index(t.program, t.is_drum) for t in tracks], [Track(n, p, d) for n, p, d in LPD5_TRACKS]
    if mode == "merge":
        pitched = [t for t in tracks if not t.is_drum]
        program = pitched[0].program if pitched else 0
        return [-1 if t.is_drum else 0 for t in tracks], [Track("Piano" if program < 8 else "Merged", program, False)]
    used = [i for i in range(len(tracks)) if used[i]]
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
    return table, new_tracks


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
