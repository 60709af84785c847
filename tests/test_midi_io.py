import io

import mido
import numpy as np
import pretty_midi
import pytest

from musegan.io.midi import (
    UnreadableFile,
    from_pretty_midi,
    read_midi,
    read_song,
    read_songs,
    to_pretty_midi,
    write_midi,
)
from musegan.representations.pianoroll import Song, Track


def corpus_files(data_dir):
    m = data_dir / "midi"
    return (
        sorted((m / "pop_multitrack" / "midis").glob("*.mid"))
        + sorted((m / "game_piano" / "midi_songs").glob("*.mid"))
        + sorted((m / "nottingham" / "MIDI").glob("*.mid"))[::40]
        + sorted((m / "bach_chorales" / "midis").glob("*.mid"))[::40]
    )


def assert_same(a: Song, b: Song):
    assert np.array_equal(a.notes, b.notes)
    assert a.time_signatures == b.time_signatures
    assert [s for s, _ in a.tempos] == [s for s, _ in b.tempos]
    assert np.allclose([q for _, q in a.tempos], [q for _, q in b.tempos], rtol=1e-6, atol=0)
    assert [(t.name, t.program, t.is_drum) for t in a.tracks] == [(t.name, t.program, t.is_drum) for t in b.tracks]


@pytest.mark.parametrize("resolution", [4, 24])
def test_read_write_read_keeps_every_note_on_real_corpora(data_dir, tmp_path, resolution):
    files = corpus_files(data_dir)
    if resolution == 24:
        files = files[::3]
    assert len(files) > 40
    for f in files:
        song = read_song(f, resolution)
        assert len(song.notes) > 0, f
        out = write_midi(tmp_path / "x.mid", song)
        again = read_song(out, resolution)
        assert_same(song, again)
        # and the dense form holds the same notes
        assert np.array_equal(song.to_multitrack().to_notes(), song.notes), f


def test_reading_many_files_at_once_reads_each_as_alone(data_dir, tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "t.abc").write_text("X:1\nT:t\nM:3/4\nL:1/8\nQ:1/4=90\nK:D\nd2 f2 a2|-a2 g2 f2|\n")
    files = corpus_files(data_dir)[::4] + [tmp_path / "empty.mid", tmp_path / "t.abc", tmp_path / "missing.mid"]
    for resolution in (4, 24):
        batch, reasons = read_songs(files, resolution)
        for k, f in enumerate(files):
            try:
                alone = read_song(f, resolution, canonical=False)
            except UnreadableFile as e:
                assert reasons[k] == str(e) and batch.tracks[k] == [], f
                continue
            song = batch.song(k)
            assert reasons[k] == "" and song.n_steps == alone.n_steps, f
            assert_same(song, alone)


def test_written_midi_has_tempo_time_signature_programs_names_and_drums_on_channel_10(data_dir, tmp_path):
    src = data_dir / "midi" / "pop_multitrack" / "midis" / "Funkytown.mid"
    song = read_song(src, 12)
    out = write_midi(tmp_path / "f.mid", song)
    mid = mido.MidiFile(out)
    channels = {}
    names = []
    tempos = []
    for track in mid.tracks:
        for msg in track:
            if msg.type == "track_name":
                names.append(msg.name)
            if msg.type == "note_on":
                channels.setdefault(track.name, set()).add(msg.channel)
            if msg.type == "set_tempo":
                tempos.append(round(mido.tempo2bpm(msg.tempo), 2))
            if msg.type == "time_signature":
                assert (msg.numerator, msg.denominator) == song.time_signatures[0][1:]
    drum_names = [t.name for t in song.tracks if t.is_drum]
    assert drum_names and all(channels[n] == {9} for n in drum_names)
    assert all(9 not in channels[t.name] for t in song.tracks if not t.is_drum)
    assert tempos[0] == round(song.tempos[0][1], 2)
    pm = pretty_midi.PrettyMIDI(str(out))
    assert [i.program for i in pm.instruments] == [t.program for t in song.tracks]
    assert set(names) >= {t.name for t in song.tracks}


def test_tempo_changes_and_time_signature_changes_survive(tmp_path):
    song = Song(
        np.array([[0, 60, 0, 4, 80], [1, 36, 8, 9, 100], [0, 62, 16, 20, 80]]),  # canonical order
        [Track("Lead", 73), Track("Kit", 0, True)],
        resolution=4,
        tempos=[(0, 100.0), (16, 140.0)],
        time_signatures=[(0, 4, 4), (16, 3, 4)],
    )
    back = read_song(write_midi(tmp_path / "t.mid", song), 4)
    assert_same(song, back)
    pm = to_pretty_midi(song)
    times, qpms = pm.get_tempo_changes()
    assert times[1] == pytest.approx(60 / 100 * 4, rel=1e-6) and qpms.tolist() == pytest.approx([100, 140])


def test_pretty_midi_round_trip_and_dense_reader(tmp_path):
    song = Song(np.array([[0, 60, 0, 2, 80], [0, 60, 2, 4, 81]]), [Track("P", 0)], 4, [(0, 90.0)])
    assert np.array_equal(from_pretty_midi(to_pretty_midi(song), 4).notes, song.notes)
    mt = read_midi(write_midi(tmp_path / "r.mid", song), 4)
    assert mt.pianoroll.shape == (1, 4, 128) and mt.onsets[0, :, 60].nonzero()[0].tolist() == [0, 2]


def test_musicxml_through_music21_merges_ties():
    from music21 import corpus

    path = [p for p in corpus.getComposer("bach") if p.name == "bwv66.6.mxl"][0]
    song = read_song(path, 4)
    assert [t.name for t in song.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert song.time_signatures[0][1:] == (4, 4)
    # every note starts on the sixteenth grid and no two notes of a voice overlap
    for k in range(4):
        v = song.notes[song.notes[:, 0] == k]
        v = v[np.argsort(v[:, 2])]
        assert np.all(v[1:, 2] >= v[:-1, 3])


def test_abc_through_music21(tmp_path):
    abc = "X:1\nT:t\nM:3/4\nL:1/8\nQ:1/4=90\nK:D\nd2 f2 a2|-a2 g2 f2|\n"
    (tmp_path / "t.abc").write_text(abc)
    song = read_song(tmp_path / "t.abc", 4)
    assert song.time_signatures[0][1:] == (3, 4)
    assert song.tempos[0][1] == pytest.approx(90)
    assert song.notes[:, 1].tolist() == [74, 78, 81, 79, 78]
    assert song.notes[2, 2:4].tolist() == [8, 16]  # the tied a2-a2 is one note of a half


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty file"), (b"hello world", "not a MIDI file"), (b"MThd\x00\x00\x00\x06\x00\x01", "corrupt MIDI")],
)
def test_bad_midi_files_raise_with_a_reason(tmp_path, content, reason):
    f = tmp_path / "bad.mid"
    f.write_bytes(content)
    with pytest.raises(UnreadableFile, match=reason):
        read_song(f)


def test_truncated_real_midi_is_refused_or_read_partially(data_dir, tmp_path):
    src = (data_dir / "midi" / "pop_multitrack" / "midis" / "Aicha.mid").read_bytes()
    f = tmp_path / "cut.mid"
    f.write_bytes(src[: len(src) // 2])
    try:
        song = read_song(f)
    except UnreadableFile as e:
        assert "corrupt MIDI" in str(e)
    else:
        assert len(song.notes) < len(read_song(data_dir / "midi/pop_multitrack/midis/Aicha.mid").notes)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(UnreadableFile, match="unsupported"):
        read_song(tmp_path / "x.txt")
    with pytest.raises(UnreadableFile, match="no such file"):
        read_song(tmp_path / "missing.mid")
