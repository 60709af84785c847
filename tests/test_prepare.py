import hashlib
import json
import os

import numpy as np
import pretty_midi
import pytest

import musegan.data.prepare as prep
from musegan.config import DataConfig
from musegan.data.dataset import PreparedCorpus
from musegan.errors import MuseganError
from musegan.io.midi import UnreadableFile, read_song
from musegan.representations.pianoroll import map_tracks

from conftest import link_files


@pytest.fixture
def corpus(data_dir, tmp_path):
    files = sorted((data_dir / "midi" / "nottingham" / "MIDI").glob("*.mid"))[:12]
    folder = link_files(files, tmp_path / "corpus")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "garbage.mid").write_bytes(b"this is not midi")
    (folder / "sub").mkdir()
    (folder / "sub" / "cut.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10")
    (folder / "notes.txt").write_text("not music")
    return folder


def by_name(manifest):
    return {os.path.basename(e["path"]): e for e in manifest["files"]}


def test_prepare_writes_manifest_and_skips_bad_files_with_reasons(corpus, tmp_path):
    m = prep.prepare_corpus(corpus, tmp_path / "out", DataConfig(), workers=2, progress=False)
    entries = by_name(m)
    assert len(entries) == 15  # 12 real + 3 bad; the .txt is not a music file
    assert entries["empty.mid"] == {**entries["empty.mid"], "status": "skipped", "reason": "empty file"}
    assert entries["garbage.mid"]["reason"].startswith("not a MIDI file")
    assert entries["cut.mid"]["status"] == "skipped" and entries["cut.mid"]["reason"]
    assert m["summary"]["ok"] == 12 and m["summary"]["skipped"] == 3
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["files"] == m["files"]
    assert all({"path", "status", "reason"} <= set(e) for e in on_disk["files"])
    warning = prep.skipped_warning(m, "manifest.json")
    assert warning.startswith("skipped 3 of 15 files")


def test_prepared_notes_equal_a_direct_read(corpus, tmp_path):
    cfg = DataConfig(resolution=4, tracks="lpd5")
    prep.prepare_corpus(corpus, tmp_path / "out", cfg, workers=2, progress=False)
    data = PreparedCorpus(tmp_path / "out")
    assert len(data) == 12
    for i in range(len(data)):
        song = read_song(data.entries[i]["path"], 4)
        expect, _ = map_tracks(song.notes, song.tracks, "lpd5")
        assert np.array_equal(data.notes(i), expect)
    assert [t.name for t in data.track_template()] == ["Drums", "Piano", "Guitar", "Bass", "Strings"]


# What encode_file gave for these files before prepare read MIDI files in batches
# (READER_VERSION 2): a digest over every file's notes and header, or its skip reason.
ENCODINGS = {
    "lpd5": (DataConfig(), "1d3fcebe6a5b1989"),
    "merge": (DataConfig(tracks="merge", resolution=12), "4ffc4a311627e2ce"),
    "keep": (DataConfig(tracks="keep", max_tracks=3, resolution=24), "e77eea5163c018af"),
    "names": (DataConfig(tracks="keep", track_names=("piano", "bass", "drum", "guitar")), "80eb3c7b8521a2d9"),
}


def encoded_files(data_dir):
    m = data_dir / "midi"
    return (sorted((m / "pop_multitrack" / "midis").glob("*.mid")) + sorted((m / "game_piano" / "midi_songs").glob("*.mid"))
            + prep.list_music_files(m / "nottingham" / "MIDI")[::10])


def digest(data_dir, results) -> str:
    """``results``: per file ``(path, notes, header)``, or ``(path, None, reason)``."""
    h = hashlib.sha256()
    for path, notes, header in results:
        h.update(str(path.relative_to(data_dir)).encode())
        if notes is None:
            h.update(f"skipped: {header}".encode())
        else:
            h.update(np.ascontiguousarray(notes, dtype=np.int32).tobytes() + json.dumps(header, sort_keys=True).encode())
    return h.hexdigest()[:16]


def odd_files(data_dir, corpus, folder):
    """Files that are skipped, or that take another way (a score through music21)."""
    folder.mkdir()
    song = (data_dir / "midi" / "pop_multitrack" / "midis" / "Aicha.mid").read_bytes()
    (folder / "half.mid").write_bytes(song[: len(song) // 2])
    silent = pretty_midi.PrettyMIDI()
    silent.instruments.append(pretty_midi.Instrument(0))
    silent.write(str(folder / "no_notes.mid"))
    drums = pretty_midi.PrettyMIDI()
    drums.instruments.append(pretty_midi.Instrument(0, is_drum=True))
    drums.instruments[0].notes.append(pretty_midi.Note(100, 36, 0.0, 0.5))
    drums.write(str(folder / "drums.mid"))
    (folder / "tune.abc").write_text("X:1\nT:t\nM:3/4\nL:1/8\nQ:1/4=90\nK:D\nd2 f2 a2|-a2 g2 f2|\n")
    return sorted(folder.iterdir()) + sorted(p for p in corpus.rglob("*.mid") if not p.is_symlink())


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_prepare_writes_what_encode_file_gives_and_gave(data_dir, corpus, tmp_path, encoding):
    config, expected = ENCODINGS[encoding]
    files = encoded_files(data_dir)
    bad = odd_files(data_dir, corpus, tmp_path / "odd")
    m = prep.prepare_corpus(files + bad, tmp_path / "out", config, workers=2, progress=False)
    data = PreparedCorpus(tmp_path / "out")
    written = {e["path"]: e for e in m["files"]}
    ok = {e["path"]: i for i, e in enumerate(data.entries)}
    results = []
    for path in files + bad:
        e = written[str(path)]
        try:
            notes, header = prep.encode_file(path, config)
        except UnreadableFile as reason:
            assert e["status"] == "skipped" and e["reason"] == str(reason), path
            results.append((path, None, e["reason"]))
            continue
        assert np.array_equal(data.notes(ok[str(path)]), notes), path
        assert {k: e[k] for k in header} == header, path
        results.append((path, notes, header))
    assert digest(data_dir, results[: len(files)]) == expected


def test_a_file_that_fails_a_batch_is_skipped_alone(corpus, tmp_path, monkeypatch):
    real = prep.read_songs

    def fails_on_one(paths, resolution):
        if any(p.endswith("ashover1.mid") for p in map(str, paths)):
            raise RuntimeError("a library bug")
        return real(paths, resolution)

    monkeypatch.setattr(prep, "read_songs", fails_on_one)
    m = prep.prepare_corpus(corpus, tmp_path / "out", DataConfig(), workers=1, progress=False)
    entries = by_name(m)
    assert entries["ashover1.mid"]["reason"] == "RuntimeError: a library bug"
    assert m["summary"]["ok"] == 11 and entries["empty.mid"]["reason"] == "empty file"


def test_second_run_reuses_the_cache_and_reads_only_new_or_changed_files(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    shards = sorted(p.name for p in (out / "shards").iterdir())

    seen = []
    real = prep._work
    monkeypatch.setattr(prep, "_work", lambda job: seen.extend(os.path.basename(p) for p in job[0]) or real(job))
    m = prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    assert seen == [] and sorted(p.name for p in (out / "shards").iterdir()) == shards
    assert m["summary"]["ok"] == 12

    (corpus / "garbage.mid").write_bytes((corpus / "ashover1.mid").read_bytes())  # fixed file
    src = sorted((corpus.parent / "corpus").glob("*.mid"))[0]
    (corpus / "new.mid").write_bytes(src.read_bytes())
    m = prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    assert sorted(seen) == ["garbage.mid", "new.mid"]
    assert by_name(m)["garbage.mid"]["status"] == "ok" and m["summary"]["ok"] == 14

    # another encoding is another key: everything is read again
    seen.clear()
    prep.prepare_corpus(corpus, out, DataConfig(resolution=12), workers=1, progress=False)
    assert len(seen) == 16


def test_a_killed_run_resumes_where_it_stopped(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(prep, "SHARD_FILES", 5)
    calls = {"n": 0}
    real = prep._write_shard

    def dies_on_third_shard(*a):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a)

    monkeypatch.setattr(prep, "_write_shard", dies_on_third_shard)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    partial = json.loads((out / "manifest.json").read_text())
    assert len(partial["files"]) == 10  # two shards of five files were kept

    monkeypatch.setattr(prep, "_write_shard", real)
    seen = []
    real_work = prep._work
    monkeypatch.setattr(prep, "_work", lambda job: seen.extend(job[0]) or real_work(job))
    m = prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    assert len(seen) == 5 and len(m["files"]) == 15
    assert len(list((out / "shards").glob("*.npy"))) == len({e.get("shard") for e in m["files"]} - {None})


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(MuseganError, match="no such folder"):
        prep.prepare_corpus(tmp_path / "nope", tmp_path / "out", progress=False)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(MuseganError, match="no music files"):
        prep.prepare_corpus(tmp_path / "empty", tmp_path / "out", progress=False)


def _prepare_after(barrier, folder, out):
    """A prepare that starts with the other process's and, after writing a shard, waits
    long enough that the other writes its own before either finishes."""
    import time

    write = prep._write_shard

    def write_then_wait(*args):
        write(*args)
        time.sleep(0.5)

    prep._write_shard = write_then_wait
    barrier.wait()
    prep.prepare_corpus(folder, out, DataConfig(), workers=1, progress=False)


def test_two_prepares_of_one_folder_at_once_leave_every_shard_the_manifest_lists(data_dir, tmp_path):
    """Two runs preparing one cache folder at the same moment each used to delete the
    other's shards at the end: both said done, and every later read of the corpus failed.
    A lock on the folder makes the second wait and reuse the first one's work."""
    import multiprocessing

    files = sorted((data_dir / "midi" / "nottingham" / "MIDI").glob("*.mid"))[:200]
    folder = link_files(files, tmp_path / "notts")
    out = tmp_path / "out"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_prepare_after, args=(barrier, folder, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    corpus = PreparedCorpus(out)
    listed = {e["shard"] for e in corpus.entries}
    assert listed and all((out / "shards" / s).is_file() for s in listed)
    assert sum(len(corpus.rows(i)) for i in range(len(corpus))) > 20_000


def test_a_missing_shard_is_a_one_line_error_and_a_new_prepare_mends_it(corpus, tmp_path):
    out = tmp_path / "out"
    prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    for shard in (out / "shards").glob("shard-*.npy"):
        shard.unlink()
    with pytest.raises(MuseganError, match="missing, though .*manifest.json lists it"):
        PreparedCorpus(out).rows(0)
    prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    assert len(PreparedCorpus(out).rows(0)) > 0


def test_each_encoding_of_a_corpus_has_its_own_cache_folder(tmp_path, monkeypatch):
    from musegan.training import prepared_dir_for

    monkeypatch.setenv("MUSEGAN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "songs"
    folder.mkdir()
    at4, at12 = prepared_dir_for(folder, DataConfig()), prepared_dir_for(folder, DataConfig(resolution=12))
    assert at4 != at12 and at4.parent == at12.parent == tmp_path / "cache" / "prepared"
    assert prepared_dir_for(folder, DataConfig(window_bars=8)) == at4  # windows are cut when read, not prepared
    assert prepared_dir_for(None, DataConfig()) != prepared_dir_for(None, DataConfig(resolution=12))


def test_the_workers_of_a_prepare_take_no_signal_handler_from_the_caller():
    """Forked workers inherit the caller's Python handlers. ``Pool.terminate`` ends its
    workers with SIGTERM while the parent holds their queue's lock; a handler there that
    does not exit at once (the studio's, left behind by an earlier test) hung the suite
    in a prepare. The workers take SIGTERM's default and leave Ctrl-C to the parent."""
    import signal

    before = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        with prep._pool(2, 8) as pool:
            term, ctrl_c = pool.apply(signal.getsignal, (signal.SIGTERM,)), pool.apply(signal.getsignal, (signal.SIGINT,))
    finally:
        signal.signal(signal.SIGTERM, before)
    assert term == signal.SIG_DFL and ctrl_c == signal.SIG_IGN
