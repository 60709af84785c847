"""Property-based fuzzing of the readers: any bytes given to the MIDI reader, the audio
reader or ``prepare`` give a result or a one-line reason (``MuseganError``), never
another exception and never a hang. Deterministic (``derandomize``) and bounded.
MUSEGAN_FUZZ_SCALE=20 runs twenty times the examples (for a longer hunt)."""
import faulthandler
import io
import json
import os

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from musegan.config import DataConfig
from musegan.data.prepare import prepare_corpus
from musegan.errors import MuseganError
from musegan.io.audio import MIN_SAMPLE_RATE, read_audio
from musegan.io.midi import midi_bytes_to_song, read_song, read_songs

SCALE = int(os.environ.get("MUSEGAN_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def read_or_refuse(read, *args, **kwargs):
    """``read(...)``, or None when it refused with a one-line reason; any other exception
    fails the test, and a call that hangs ends the run with the stacks shown."""
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        return read(*args, **kwargs)
    except MuseganError as e:
        assert str(e).strip() and "\n" not in str(e), repr(str(e))
        return None
    finally:
        faulthandler.cancel_dump_traceback_later()


def check_song(song):
    n = song.notes
    assert n.dtype == np.int32 and n.shape[1] == 5
    track, pitch, start, end, velocity = n.T
    assert ((track >= 0) & (track < len(song.tracks))).all()
    assert ((pitch >= 0) & (pitch < 128) & (start >= 0) & (end > start) & (velocity >= 1) & (velocity <= 127)).all()
    assert song.n_steps >= (end.max() if len(n) else 0)
    for changes in (song.tempos, song.time_signatures):
        steps = [c[0] for c in changes]
        assert steps[0] == 0 and steps == sorted(steps)
    assert all(np.isfinite(q) and q > 0 for _, q in song.tempos)
    assert all(num > 0 and den > 0 for _, num, den in song.time_signatures)


# ---------------------------------------------------------------------------- MIDI bytes

def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n := n >> 7:
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def smf(fmt: int, ntrks: int, division: int, tracks: list) -> bytes:
    """A MIDI file of raw track bodies: the header's values as given, however absurd."""
    head = b"MThd" + (6).to_bytes(4, "big") + b"".join(v.to_bytes(2, "big") for v in (fmt, ntrks, division))
    return head + b"".join(b"MTrk" + len(t).to_bytes(4, "big") + t for t in tracks)


def pretty_song(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(resolution=int(rng.choice([96, 220, 480])), initial_tempo=float(rng.uniform(40, 240)))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(int(rng.integers(2, 8)), 4, 0.0))
    for program, is_drum in ((0, False), (33, False), (0, True)):
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=f"part {program}")
        for t in np.sort(rng.uniform(0, 8, 12)):
            velocity, pitch = int(rng.integers(1, 128)), int(rng.integers(30, 90))
            inst.notes.append(pretty_midi.Note(velocity, pitch, t, t + rng.uniform(0.05, 1)))
        pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


SEEDS = [pretty_song(seed) for seed in range(3)]  # valid MIDI made here: no shared data needed
seeds = st.sampled_from(SEEDS)

HUGE_DELTA = vlq((1 << 28) - 1)  # the largest a variable-length quantity holds
midi_events = st.one_of(
    st.tuples(st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xE0]), st.integers(0, 15), st.binary(min_size=2, max_size=2))
    .map(lambda e: bytes([e[0] | e[1]]) + e[2]),  # a channel event, its data bytes maybe >= 0x80
    st.binary(min_size=1, max_size=3).map(lambda b: bytes([b[0] & 0x7F]) + b[1:]),  # running status, maybe with none
    st.tuples(st.sampled_from([0x2F, 0x51, 0x58, 0x03, 0x7F]), st.integers(0, 1 << 28), st.binary(max_size=8))
    .map(lambda m: bytes([0xFF, m[0]]) + vlq(m[1]) + m[2]),  # a meta event whose length may lie
    st.binary(max_size=8).map(lambda b: b"\xf0" + vlq(len(b)) + b),  # sysex
    st.binary(min_size=1, max_size=6),
)
deltas = st.one_of(st.integers(0, 500).map(vlq), st.just(HUGE_DELTA), st.binary(min_size=1, max_size=5))
raw_tracks = st.lists(st.lists(st.tuples(deltas, midi_events).map(b"".join), max_size=20).map(b"".join), max_size=4)
raw_midi = st.builds(
    smf,
    fmt=st.sampled_from([0, 1, 2, 3, 0xFFFF]),
    ntrks=st.one_of(st.integers(0, 5), st.sampled_from([0x7FFF, 0xFFFF])),
    division=st.one_of(st.integers(0, 4), st.sampled_from([96, 480, 0x7FFF, 0x8000, 0xE728, 0xFFFF])),
    tracks=raw_tracks,
)


@st.composite
def mutated(draw, bases, fields, sources):
    """``bases`` drawn and damaged: cut short, bytes overwritten, a chunk spliced in,
    header fields (``(offset, width)``s) set to absurd values, garbage inserted."""
    data = bytearray(draw(bases))
    for op in draw(st.lists(st.sampled_from(["cut", "flip", "splice", "field", "insert"]), min_size=1, max_size=4)):
        at = draw(st.integers(0, len(data)))
        if op == "cut":
            del data[at:]
        elif op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "splice":
            other = draw(sources)
            i = draw(st.integers(0, len(other)))
            data[at:at + draw(st.integers(0, 64))] = other[i:i + draw(st.integers(0, 400))]
        elif op == "field":
            offset, width = draw(st.sampled_from(fields))
            value = draw(st.one_of(st.sampled_from([0, 1, 2, (1 << 8 * width) - 1, 1 << (8 * width - 1)]),
                                   st.integers(0, (1 << 8 * width) - 1)))
            data[offset:offset + width] = value.to_bytes(width, draw(st.sampled_from(["big", "little"])))
        elif op == "insert":
            data[at:at] = draw(st.one_of(st.just(HUGE_DELTA), st.binary(min_size=1, max_size=16), midi_events))
    return bytes(data)


MIDI_FIELDS = [(4, 4), (8, 2), (10, 2), (12, 2), (18, 4)]  # header length, format, tracks, division; a track length


def check_midi(scratch, data: bytes):
    path = scratch / "fuzz.mid"
    path.write_bytes(data)
    song = read_or_refuse(read_song, path, resolution=24)
    if song is not None:
        check_song(song)


@fuzz(400)
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"MThd" + b)))
def test_midi_reader_on_arbitrary_bytes(scratch, data):
    check_midi(scratch, data)


@fuzz(400)
@given(raw_midi)
def test_midi_reader_on_absurd_headers_and_events(scratch, data):
    check_midi(scratch, data)


@fuzz(400)
@given(mutated(seeds, MIDI_FIELDS, seeds))
def test_midi_reader_on_damaged_files(scratch, data):
    check_midi(scratch, data)


@pytest.fixture(scope="module")
def real_midi(data_dir):
    files = sorted((data_dir / "midi").rglob("*.mid"))
    return [f.read_bytes() for f in files[:: max(1, len(files) // 60)]]


@fuzz(400)
@given(data=st.data())
def test_midi_reader_on_damaged_real_files(scratch, real_midi, data):
    real = st.sampled_from(real_midi)
    check_midi(scratch, data.draw(st.one_of(real, mutated(real, MIDI_FIELDS, real))))


def test_notes_past_the_longest_plausible_song_are_damaged_timing():
    """symusic's ticks are int32: huge delta times made notes of negative or wrapped
    steps (ending before they started) before songs that long were refused."""
    late_note = HUGE_DELTA + b"\x90\x3c\x40" + HUGE_DELTA + b"\x80\x3c\x00" + b"\x00\xff\x2f\x00"
    with pytest.raises(MuseganError, match="damaged timing"):
        midi_bytes_to_song(smf(0, 1, 1, [late_note]), 24)
    for division in (1, 0x7FFF):
        for meta_events in range(18):
            track = (HUGE_DELTA + b"\xff\x01\x00") * meta_events + late_note
            song = read_or_refuse(midi_bytes_to_song, smf(0, 1, division, [track]), 24)
            if song is not None:
                check_song(song)


midi_files = st.one_of(seeds, raw_midi, mutated(seeds, MIDI_FIELDS, seeds))


@fuzz(150)
@given(st.lists(st.tuples(st.sampled_from([".mid", ".midi", ".abc", ".krn", ".txt", "missing"]), midi_files),
                min_size=1, max_size=6))
def test_read_songs_gives_per_file_what_reading_each_alone_gives(scratch, files):
    paths = []
    for k, (suffix, data) in enumerate(files):
        path = scratch / f"batch{k}{suffix if suffix != 'missing' else '.mid'}"
        path.unlink(missing_ok=True)
        if suffix != "missing":
            path.write_bytes(data)
        paths.append(path)
    batch, reasons = read_or_refuse(read_songs, paths, 12)
    assert len(reasons) == len(paths) == len(batch)
    for k, (path, reason) in enumerate(zip(paths, reasons)):
        assert "\n" not in reason
        alone = read_or_refuse(read_song, path, 12, canonical=False)
        assert (alone is None) == bool(reason), (path, reason)
        if alone is not None:
            song = batch.song(k)
            check_song(song)
            assert np.array_equal(song.notes, alone.notes) and song.tracks == alone.tracks


# ---------------------------------------------------------------------------- audio

SUBTYPES = ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "PCM_U8"]


@st.composite
def wav_files(draw, max_frames=400):
    """``(WAV bytes, its samples (n, channels) float32, sample rate)`` written by soundfile."""
    sr, channels = draw(st.integers(1, 200_000)), draw(st.integers(1, 8))
    subtype = draw(st.sampled_from(SUBTYPES))
    n = draw(st.integers(0, max_frames))
    y = np.random.default_rng(draw(st.integers(0, 2**32))).uniform(-0.9, 0.9, (n, channels)).astype(np.float32)
    return wav(y, sr, subtype), y, sr


def wav(y, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, subtype=subtype, format="WAV")
    return buf.getvalue()


WAV_FIELDS = [(4, 4), (16, 4), (20, 2), (22, 2), (24, 4), (28, 4), (32, 2), (34, 2), (40, 4)]  # RIFF and fmt/data
wav_bytes = wav_files().map(lambda w: w[0])
odd_wavs = st.one_of(wav_bytes, mutated(wav_bytes, WAV_FIELDS, wav_bytes), st.binary(max_size=200),
                     st.binary(max_size=200).map(lambda b: b"RIFF\xff\xff\xff\xffWAVEfmt " + b))


def check_audio(path, sr, mono, max_channels):
    got = read_or_refuse(read_audio, path, sr, mono=mono, max_channels=max_channels)
    if got is not None:
        y, rate = got
        assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] > 0 and np.isfinite(y).all()
        assert rate >= MIN_SAMPLE_RATE and (sr is None or rate == sr)
        assert y.shape[0] == 1 if mono else y.shape[0] <= (max_channels or 8)
    return got


@fuzz(400)
@given(odd_wavs, st.sampled_from([None, 44100, 16000]), st.booleans(), st.integers(0, 3))
@example(wav(np.full((1, 1), 0.5), 88200), 44100, False, 0)  # resampled to no sample at all: once an empty array
@example(wav(np.resize([3e38, 0], (50, 1)), 1000, "FLOAT"), 44100, True, 0)  # once resampled to infinities
def test_audio_reader_on_odd_and_damaged_files(scratch, data, sr, mono, max_channels):
    path = scratch / "fuzz.wav"
    path.write_bytes(data)
    check_audio(path, sr, mono, max_channels)


@fuzz(200)
@given(wav_files())
def test_audio_reader_reads_every_valid_file_it_can_use(scratch, wav):
    data, y, sr = wav
    path = scratch / "valid.wav"
    path.write_bytes(data)
    got = check_audio(path, None, False, 0)
    assert (got is not None) == (len(y) > 0 and sr >= MIN_SAMPLE_RATE)
    if got is not None:
        assert got[1] == sr and np.allclose(got[0], y.T, atol=1 / 100)  # 8-bit samples: steps of 1/128


# ---------------------------------------------------------------------------- prepare

def check_manifest(folder, names, out):
    manifest = json.loads((out / "manifest.json").read_text())
    entries = manifest["files"]
    assert sorted(e["path"] for e in entries) == sorted(str(folder / n) for n in names)  # each file once
    for e in entries:
        assert e["status"] in ("ok", "skipped")
        assert (e["status"] == "skipped") == bool(e["reason"].strip()) and "\n" not in e["reason"]
    return entries


@fuzz(15)
@given(st.lists(st.tuples(st.sampled_from([".mid", ".midi", ".abc"]), st.one_of(st.just(b""), midi_files)),
                min_size=1, max_size=8))
def test_prepare_lists_every_midi_file_once_ok_or_skipped_with_a_reason(scratch, files):
    folder, out = make_corpus(scratch, files)
    prepare_corpus(folder, out, DataConfig(), workers=1, progress=False)
    entries = check_manifest(folder, os.listdir(folder), out)
    for e in entries:
        if e["status"] == "ok":
            assert e["n_notes"] > 0


@fuzz(15)
@given(st.lists(st.tuples(st.just(".wav"), st.one_of(st.just(b""), wav_files(max_frames=3000).map(lambda w: w[0]),
                                                     mutated(wav_bytes, WAV_FIELDS, wav_bytes))),
                min_size=1, max_size=5))
def test_prepare_lists_every_audio_file_once_ok_or_skipped_with_a_reason(scratch, files):
    folder, out = make_corpus(scratch, files)
    prepare_corpus(folder, out, DataConfig(kind="audio", sample_rate=8000, n_fft=256, hop_length=64, n_mels=32),
                   workers=1, progress=False)
    check_manifest(folder, os.listdir(folder), out)


def make_corpus(scratch, files):
    """A fresh folder of the ``(suffix, bytes)`` files, and an output folder for it."""
    n = len(list(scratch.glob("corpus*")))
    folder, out = scratch / f"corpus{n}", scratch / f"prepared{n}"
    folder.mkdir()
    for k, (suffix, data) in enumerate(files):
        (folder / f"f{k}{suffix}").write_bytes(data)
    return folder, out
