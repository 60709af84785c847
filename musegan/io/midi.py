"""Symbolic music files <-> :class:`~musegan.representations.pianoroll.Song`.

Reading: MIDI through symusic (fast, C++), MusicXML / ABC / Humdrum through music21.
Writing: MIDI through pretty_midi, with tempo map, time signatures, programs, track
names and drums on channel 10. Timing is quantized to ``resolution`` steps per quarter.
"""
from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import MuseganError
from ..representations.pianoroll import (
    END, PITCH, START, TRACK, VELOCITY, Multitrack, Song, SongBatch, Track, canonical_notes, make_notes, valid_notes,
    quantize,
)
from .files import atomic_write_bytes

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".abc", ".krn")
MUSIC_SUFFIXES = MIDI_SUFFIXES + SCORE_SUFFIXES
# A song with notes past it has damaged timing (symusic's int32 ticks wrap not far past it), and its
# steps would not fit int32 notes.
MAX_QUARTERS = 1 << 15  # 4.5 hours at 120 qpm


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
    batch, reasons = _song_batch([data], resolution)
    if reasons[0]:
        raise UnreadableFile(reasons[0])
    song = batch.song(0)
    return replace(song, notes=canonical_notes(song.notes)) if canonical else song


def read_songs(paths, resolution: int = 4) -> tuple[SongBatch, list[str]]:
    """Many files into one :class:`SongBatch` (notes as ``read_song(canonical=False)``
    gives them), and per file "" or the reason it could not be read (it then has no
    notes and no tracks). MIDI files are parsed one by one and their notes converted
    for all of them at once: on small files numpy's per-call cost is most of the time."""
    items = []
    for path in paths:
        try:
            if os.path.splitext(path)[1].lower() in MIDI_SUFFIXES:
                items.append(_read_bytes(path))
            else:
                items.append(read_song(path, resolution, canonical=False))
        except UnreadableFile as e:
            items.append(str(e))  # the reason: an exception kept would keep this frame (and the bytes read)
    return _song_batch(items, resolution)


def _song_batch(items: list, resolution: int) -> tuple[SongBatch, list[str]]:
    """``items``: per song its MIDI bytes, a Song already read, or why it could not be."""
    tracks, tempos, time_signatures, reasons = [], [], [], []
    song_of, index, tpq, columns = [], [], [], []  # per source track with notes (see _midi_parts)
    for k, item in enumerate(items):
        reason, parts = (item if isinstance(item, str) else ""), ([], [], [], [])
        if not reason:
            try:
                parts = _song_parts(item, resolution) if isinstance(item, Song) else _midi_parts(item, resolution)
            except UnreadableFile as e:
                reason = str(e)
        reasons.append(reason)
        tracks.append(parts[0]), tempos.append(parts[2]), time_signatures.append(parts[3])
        for i, ticks, arr in parts[1]:
            song_of.append(k), index.append(i), tpq.append(ticks), columns.append(arr)

    counts = [len(arr["time"]) for arr in columns]
    col = {key: np.concatenate([arr[key] for arr in columns]) if columns else np.zeros(0, np.int64)
           for key in ("time", "duration", "pitch", "velocity")}
    time, duration = col["time"].astype(np.int64), col["duration"].astype(np.int64)
    # Dividing by one number is many times faster than by one per note.
    tpq = tpq[0] if len(set(tpq)) == 1 else np.repeat(np.asarray(tpq, np.int64), counts)
    start, end = quantize(time, tpq, resolution), quantize(time + duration, tpq, resolution)
    song = np.repeat(np.asarray(song_of, np.int64), counts)
    damaged = np.unique(song[end > MAX_QUARTERS * resolution]).tolist()
    for k in damaged:
        reasons[k], tracks[k] = f"damaged timing: notes past quarter note {MAX_QUARTERS:,}", []
    if damaged:
        start[np.isin(song, damaged)] = -1  # valid_notes drops them
    notes, keep = valid_notes(np.repeat(np.asarray(index, np.int64), counts), col["pitch"], start, end, col["velocity"])
    song = song[keep]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(song, minlength=len(items)))])
    return SongBatch(notes.astype(np.int32), bounds, tracks, tempos, time_signatures, resolution), reasons


def _midi_parts(data: bytes, resolution: int) -> tuple[list, list, list, list]:
    """MIDI bytes -> ``(tracks, columns, tempos, time_signatures)``: the tracks that have
    notes, and for each ``(its index, ticks per quarter, {time, duration, pitch, velocity}
    arrays in ticks)``."""
    score, tpq = _parse_midi(data)
    tracks, columns = [], []
    for track in _items(score.tracks):
        notes = track.notes
        if len(notes):  # numpy() costs as much on an empty track
            columns.append((len(tracks), tpq, notes.numpy()))
            tracks.append(Track(str(track.name or ""), int(track.program), bool(track.is_drum)))
    tempos = [(quantize(t.time, tpq, resolution), 6e7 / t.mspq) for t in _items(score.tempos) if t.mspq > 0]
    time_signatures = [(quantize(ts.time, tpq, resolution), ts.numerator, ts.denominator)
                       for ts in _items(score.time_signatures) if ts.numerator > 0 and ts.denominator > 0]
    return tracks, columns, _changes(tempos, (120.0,)), _changes(time_signatures, (4, 4))


def _song_parts(song: Song, resolution: int) -> tuple[list, list, list, list]:
    """``_midi_parts`` of a Song: its notes are in steps already, and a grid of
    ``resolution`` ticks per quarter keeps them as they are."""
    columns = []
    for i in range(len(song.tracks)):
        n = song.notes[song.notes[:, TRACK] == i]
        columns.append((i, resolution, {"time": n[:, START], "duration": n[:, END] - n[:, START],
                                        "pitch": n[:, PITCH], "velocity": n[:, VELOCITY]}))
    return song.tracks, columns, song.tempos, song.time_signatures


def _parse_midi(data: bytes):
    """``(symusic score, ticks per quarter)`` of MIDI bytes, or UnreadableFile with the reason."""
    import symusic

    if len(data) == 0:
        raise UnreadableFile("empty file")
    if data[:4] != b"MThd":
        raise UnreadableFile("not a MIDI file (no MThd header)")
    try:
        score = symusic.core.ScoreTick.from_midi(data)  # what symusic.Score.from_midi gives, without its dispatch
    except Exception as e:  # symusic raises plain RuntimeError/ValueError on bad data
        raise UnreadableFile(f"corrupt MIDI: {_one_line(e)}") from None
    tpq = int(score.ticks_per_quarter)
    if tpq <= 0:
        raise UnreadableFile(f"bad ticks per quarter note ({tpq}); SMPTE timing is not supported")
    return score, tpq


def _items(symusic_list) -> list:
    """The items of a symusic list: indexing is several times faster than its iterator."""
    return [symusic_list[i] for i in range(len(symusic_list))]


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
    tempos = [(int(_steps([m.offset], resolution)[0]), float(bpm)) for m in flat.getElementsByClass("MetronomeMark")
              if (bpm := m.getQuarterBPM()) is not None and bpm > 0]  # playback-only marks count too
    time_signatures = [(int(_steps([ts.offset], resolution)[0]), int(ts.numerator), int(ts.denominator))
                       for ts in flat.getElementsByClass("TimeSignature")]
    return Song(notes, tracks, resolution, _changes(tempos, (120.0,)), _changes(time_signatures, (4, 4)))


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
    return midi_bytes_to_song(_pm_bytes(pm), resolution)


def _pm_bytes(pm) -> bytes:
    """A ``pretty_midi.PrettyMIDI`` as the bytes of its MIDI file."""
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def write_midi(path, music: Song | Multitrack) -> Path:
    """Write a MIDI file atomically; returns the path."""
    return write_pretty_midi(path, to_pretty_midi(music))


def write_pretty_midi(path, pm) -> Path:
    return atomic_write_bytes(path, _pm_bytes(pm))


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


def read_given(source, resolution: int):
    """A piece to infill, harmonize or accompany (a path to any supported file, or a
    ``pretty_midi.PrettyMIDI``) -> ``(symusic score in ticks, name)``. A score file
    (MusicXML, ABC, kern) goes through MIDI at ``resolution`` first."""
    if isinstance(source, (str, Path)):
        path, name = Path(source), str(source)
        if not path.is_file():
            raise MuseganError(f"{path}: no such file")
        try:
            midi = path.suffix.lower() in MIDI_SUFFIXES
            score, _ = _parse_midi(_read_bytes(path) if midi else _pm_bytes(to_pretty_midi(read_song(path, resolution))))
        except UnreadableFile as e:
            raise MuseganError(f"{path}: {e}") from None
    else:
        name = "the given PrettyMIDI"
        score, _ = _parse_midi(_pm_bytes(source))
    if not any(len(t.notes) for t in _items(score.tracks)):
        raise MuseganError(f"{name}: no notes")
    return score, name


def score_to_pretty_midi(score):
    """A symusic score -> ``pretty_midi.PrettyMIDI`` (through MIDI bytes)."""
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(score.dumps_midi()))


# ---------------------------------------------------------------------------- helpers

def _read_bytes(path) -> bytes:
    """A file's bytes, through os calls: half the time of ``open().read()`` on small files."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size + 1)  # a byte more than its size: fewer is all of it
            while len(data) > size and (more := os.read(fd, 1 << 20)):  # it grew meanwhile
                data += more
            return data
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise UnreadableFile("no such file") from None
    except OSError as e:
        raise UnreadableFile(f"cannot read: {e.strerror or e}") from None


def _steps(quarters, resolution: int) -> np.ndarray:
    return np.floor(np.asarray(quarters, dtype=np.float64) * resolution + 0.5).astype(np.int64)


def _changes(changes: list, default: tuple) -> list:
    """Changes ``[(step, *value)]`` sorted by step and from step 0 on (before the first
    one, MIDI's default holds: 120 qpm, 4/4); of several at one step the last stands;
    repeats dropped."""
    if not changes:
        return [(0, *default)]
    by_step = {}
    for c in sorted([(0, *default), *changes], key=lambda c: c[0]):
        by_step[c[0]] = c
    out = []
    for c in by_step.values():
        if not out or out[-1][1:] != c[1:]:
            out.append(c)
    return out


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg[:200]
