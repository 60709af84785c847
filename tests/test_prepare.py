import json
import os

import numpy as np
import pytest

import musegan.data.prepare as prep
from musegan.config import DataConfig
from musegan.data.dataset import PreparedCorpus
from musegan.errors import MuseganError
from musegan.io.midi import read_song
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


def test_second_run_reuses_the_cache_and_reads_only_new_or_changed_files(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    prep.prepare_corpus(corpus, out, DataConfig(), workers=1, progress=False)
    shards = sorted(p.name for p in (out / "shards").iterdir())

    seen = []
    real = prep._work
    monkeypatch.setattr(prep, "_work", lambda job: seen.append(os.path.basename(job[0])) or real(job))
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
    monkeypatch.setattr(prep, "_work", lambda job: seen.append(job[0]) or real_work(job))
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
