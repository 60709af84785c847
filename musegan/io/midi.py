"""Symbolic music files <-> :class:`~musegan.representations.pianoroll.Song`.

Reading: MIDI through symusic (fast, C++), MusicXML / ABC / Humdrum through music21.
Writing: MIDI through pretty_midi, with tempo map, time signatures, programs, track
names and drums on channel 10. Timing is quantized to ``resolution`` steps per quarter.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import MuseganError
from ..representations.pianoroll import Multitrack, Song, Track, make_notes, quantize
from .files import atomic_write_bytes

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".abc", ".krn")
MUSIC_SUFFIXES = MIDI_SUFFIXES + SCORE_SUFFIXES


class UnreadableFile(MuseganError):
    """A music file that cannot be read; the message is the reason."""


def existing_file(path) -> Path:
    """``path`` as a Path, or UnreadableFile if it is missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableFile("no such file")
    if path.stat().st_size == 0:
        raise UnreadableFile("empty file")
    return path


def read_song(path, resolution: int = 4, canonical: bool = True) -> Song:
    """Read any supported symbolic file into a :class:`Song` (notes in steps).
    ``canonical`` False leaves overlaps and order to a later ``map_tracks``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return read_midi_song(path, resolution, canonical)
    if suffix in SCORE_SUFFIXES:
        return read_score_song(path, resolution, canonical)
    raise UnreadableFile(f"unsupported file type {suffix or '(none)'!r}")


def read_midi(path, resolution: int = 4) -> Multitrack:
    """Read a MIDI file into a dense :class:`Multitrack`."""
    return read_midi_song(path, resolution).to_multitrack()


def read_midi_song(path, resolution: int = 4, canonical: bool = True) -> Song:
    return midi_bytes_to_song(_read_bytes(path), resolution, canonical)


def midi_bytes_to_song(data: bytes, resolution: int = 4, canonical: bool = True) -> Song:
    import symusic

    if len(data) == 0:
        raise UnreadableFile("empty file")
    if data[:4] != b"MThd":
        raise UnreadableFile("not a MIDI file (no MThd header)")
    try:
        score = symusic.Score.from_midi(data)
    except Exception as e:  # symusic raises plain RuntimeError/ValueError on bad data
        raise UnreadableFile(f"corrupt MIDI: {_one_line(e)}") from None
    tpq = int(score.ticks_per_quarter)
    if tpq <= 0:
        raise UnreadableFile(f"bad ticks per quarter note ({tpq}); SMPTE timing is not supported")

    tracks, arrays = [], []
    for track in score.tracks:
        arr = track.notes.numpy()
        if len(arr["time"]):
            tracks.append(Track(str(track.name or ""), int(track.program), bool(track.is_drum)))
            arrays.append(arr)
    if arrays:  # one pass over all tracks' notes: numpy calls cost more than the notes here
        col = {key: np.concatenate([a[key] for a in arrays]).astype(np.int64)
               for key in ("time", "duration", "pitch", "velocity")}
        row = np.repeat(np.arange(len(arrays)), [len(a["time"]) for a in arrays])
        notes = make_notes(row, col["pitch"], quantize(col["time"], tpq, resolution),
                           quantize(col["time"] + col["duration"], tpq, resolution), col["velocity"], canonical)
    else:
        notes = np.zeros((0, 5), np.int32)

    tempo_arr = score.tempos.numpy()
    tempos = _dedupe_changes(
        [(int(s), 6e7 / float(m)) for s, m in zip(quantize(tempo_arr["time"], tpq, resolution), tempo_arr["mspq"]) if m > 0]
    )
    ts_arr = score.time_signatures.numpy()
    time_signatures = _dedupe_changes(
        [
            (int(s), int(n), int(d))
            for s, n, d in zip(quantize(ts_arr["time"], tpq, resolution), ts_arr["numerator"], ts_arr["denominator"])
            if n > 0 and d > 0
        ]
    )
    return Song(notes, tracks, resolution, _from_zero(tempos, (120.0,)), _from_zero(time_signatures, (4, 4)))


def read_score_song(path, resolution: int = 4, canonical: bool = True) -> Song:
    """MusicXML (.musicxml, .xml, .mxl), ABC and Humdrum (.krn) through music21.
    Tied notes become one note; each part is a track."""
    import music21

    path = existing_file(path)
    try:
        score = music21.converter.parse(str(path))
    except Exception as e:
        raise UnreadableFile(f"music21 could not parse it: {_one_line(e)}") from None
    parts = list(getattr(score, "parts", [])) or [score]

    tracks, cols = [], []
    for part in parts:
        inst = part.getInstrument(returnDefault=False)
        program = inst.midiProgram if inst is not None and inst.midiProgram is not None else 0
        is_drum = inst is not None and isinstance(inst, music21.instrument.UnpitchedPercussion)
        name = part.partName or (inst.instrumentName if inst is not None else "") or ""
        open_ties: dict[int, int] = {}  # pitch -> index of the note a tie continues
        t, p, s, e, v = [], [], [], [], []
        for n in part.flatten().notes:
            if n.duration.isGrace or n.quarterLength == 0:
                continue
            start = float(n.offset)
            end = start + float(n.quarterLength)
            vel = n.volume.velocity if n.volume.velocity is not None else 80
            for pitch in n.pitches:
                midi = int(pitch.midi)
                tie = n.tie.type if n.tie is not None else None
                if tie in ("continue", "stop") and midi in open_ties:
                    e[open_ties[midi]] = end
                    if tie == "stop":
                        del open_ties[midi]
                    continue
                if tie == "start":
                    open_ties[midi] = len(s)
                t.append(len(tracks)), p.append(midi), s.append(start), e.append(end), v.append(vel)
        if not s:
            continue
        tracks.append(Track(str(name), int(program), bool(is_drum)))
        cols.append((t, p, _steps(s, resolution), _steps(e, resolution), v))
    notes = make_notes(*[np.concatenate(c) for c in zip(*cols)], canonical=canonical) if cols else np.zeros((0, 5), np.int32)

    flat = score.flatten()
    tempos = _dedupe_changes(
        [(int(_steps([m.offset], resolution)[0]), float(bpm)) for m in flat.getElementsByClass("MetronomeMark")
         if (bpm := m.getQuarterBPM()) is not None and bpm > 0]  # playback-only marks count too
    )
    time_signatures = _dedupe_changes(
        [(int(_steps([ts.offset], resolution)[0]), int(ts.numerator), int(ts.denominator))
         for ts in flat.getElementsByClass("TimeSignature")]
    )
    return Song(notes, tracks, resolution, _from_zero(tempos, (120.0,)), _from_zero(time_signatures, (4, 4)))


def to_pretty_midi(music: Song | Multitrack, velocity_scale: float = 1.0):
    """Song or Multitrack -> ``pretty_midi.PrettyMIDI`` on an exact tick grid.

    Ticks per quarter is a multiple of the resolution, so that every step lands on a
    whole tick and a read -> write -> read round trip keeps every note.
    """
    import pretty_midi

    song = music.to_song() if isinstance(music, Multitrack) else music
    res = int(song.resolution)
    tpq = res * max(1, 480 // res) if 480 % res == 0 else res * 40
    ticks_per_step = tpq // res

    pm = pretty_midi.PrettyMIDI(resolution=tpq, initial_tempo=float(song.tempos[0][1]))
    # pretty_midi keeps the tempo map as (tick, seconds per tick); setting it gives tempo changes.
    # MIDI stores microseconds per quarter as an integer and pretty_midi truncates when
    # it writes: aim half a microsecond high so that the written value is the rounded one.
    pm._tick_scales = [(int(s) * ticks_per_step, (round(6e7 / float(q)) + 0.5) * 1e-6 / tpq) for s, q in song.tempos]
    max_tick = (max(song.n_steps, 1) + 1) * ticks_per_step
    pm._update_tick_to_time(max_tick)
    step_time = pm._PrettyMIDI__tick_to_time if hasattr(pm, "_PrettyMIDI__tick_to_time") else pm._tick_to_time
    times = np.asarray(step_time)[np.arange(song.n_steps + 1) * ticks_per_step]

    for s, num, den in song.time_signatures:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(int(num), int(den), float(times[min(s, len(times) - 1)])))
    for k, track in enumerate(song.tracks):
        inst = pretty_midi.Instrument(program=int(track.program) % 128, is_drum=bool(track.is_drum), name=track.name)
        for _, pitch, start, end, vel in song.notes[song.notes[:, 0] == k]:
            v = int(np.clip(round(vel * velocity_scale), 1, 127))
            inst.notes.append(pretty_midi.Note(v, int(pitch), float(times[start]), float(times[end])))
        pm.instruments.append(inst)
    return pm


def from_pretty_midi(pm, resolution: int = 4) -> Song:
    """``pretty_midi.PrettyMIDI`` -> Song, through MIDI bytes so that it reads exactly
    as the same file on disk would."""
    buf = io.BytesIO()
    pm.write(buf)
    return midi_bytes_to_song(buf.getvalue(), resolution)


def write_midi(path, music: Song | Multitrack) -> Path:
    """Write a MIDI file atomically; returns the path."""
    return write_pretty_midi(path, to_pretty_midi(music))


def write_pretty_midi(path, pm) -> Path:
    buf = io.BytesIO()
    pm.write(buf)
    return atomic_write_bytes(path, buf.getvalue())


def read_pretty_midi(path):
    """A MIDI file as a ``pretty_midi.PrettyMIDI`` (for rendering); ``UnreadableFile``
    with the reason when it cannot be read."""
    import pretty_midi

    data = _read_bytes(path)
    if data[:4] != b"MThd":
        raise UnreadableFile("empty file" if not data else "not a MIDI file (no MThd header)")
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as e:
        raise UnreadableFile(f"corrupt MIDI: {_one_line(e)}") from None


def read_primer(primer, resolution: int) -> Song:
    """A primer given as a path or a ``pretty_midi.PrettyMIDI``."""
    if isinstance(primer, (str, Path)):
        path = Path(primer)
        if not path.is_file():
            raise MuseganError(f"{path}: no such primer file")
        try:
            return read_song(path, resolution)
        except UnreadableFile as e:
            raise MuseganError(f"{path}: {e}") from None
    return from_pretty_midi(primer, resolution)


# ---------------------------------------------------------------------------- helpers

def _read_bytes(path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise UnreadableFile("no such file") from None
    except OSError as e:
        raise UnreadableFile(f"cannot read: {e.strerror or e}") from None


def _steps(quarters, resolution: int) -> np.ndarray:
    return np.floor(np.asarray(quarters, dtype=np.float64) * resolution + 0.5).astype(np.int64)


def _dedupe_changes(changes: list) -> list:
    """Sort by step; of several changes at one step keep the last; drop repeats."""
    by_step = {}
    for c in sorted(changes, key=lambda c: c[0]):
        by_step[c[0]] = c
    out = []
    for c in by_step.values():
        if not out or tuple(out[-1][1:]) != tuple(c[1:]):
            out.append(c)
    return out


def _from_zero(changes: list, default: tuple) -> list:
    """Changes from step 0 on: before the first one, MIDI's defaults hold (120 qpm, 4/4)."""
    if not changes or changes[0][0] != 0:
        changes = [(0, *default)] + list(changes)
    return _dedupe_changes([tuple(c) for c in changes])


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg[:200]
