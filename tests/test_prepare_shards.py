"""``prepare --shard I/N`` on several machines, then ``prepare --merge``: the merged
folder reads as one prepare of the whole corpus; what cannot be merged is refused."""
import json
import os
import shutil

import numpy as np
import pretty_midi
import pytest

import musegan.data.prepare as prep
from musegan.cli import main
from musegan.config import DataConfig
from musegan.data.dataset import PreparedCorpus
from musegan.errors import MuseganError

from conftest import link_files


def write_song(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=100 + seed)
    for program, is_drum in [(0, False), (33, False), (0, True)][: 1 + seed % 3]:
        inst = pretty_midi.Instrument(program, is_drum=is_drum)
        t = 0.0
        for _ in range(8 + seed % 7):
            d = float(rng.choice([0.25, 0.5, 1.0]))
            inst.notes.append(pretty_midi.Note(int(rng.integers(60, 100)), int(rng.integers(36, 84)), t, t + d))
            t += d
        pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


@pytest.fixture
def corpus(tmp_path):
    """18 songs in nested folders, and a file that is not MIDI (skipped)."""
    root = tmp_path / "corpus"
    for k in range(18):
        write_song(root / ["", "a", "a/b", "c"][k % 4] / f"song{k:02d}.mid", k)
    (root / "a" / "garbage.mid").write_bytes(b"not midi")
    return root


def without_place(entry: dict) -> dict:
    """An entry less where its notes lie (shard names are random)."""
    return {k: v for k, v in entry.items() if k not in ("shard", "offset")}


def prepare_parts(corpus, tmp_path, n: int, config=DataConfig()):
    parts = [tmp_path / f"part{i}" for i in range(1, n + 1)]
    for i, out in enumerate(parts, 1):
        m = prep.prepare_corpus(corpus, out, config, workers=1, progress=False, part=(i, n))
        assert m["part"]["index"] == i and m["complete"]
    return parts


def assert_same_corpus(merged, whole) -> None:
    a, b = PreparedCorpus(merged), PreparedCorpus(whole)
    assert [without_place(e) for e in a.manifest["files"]] == [without_place(e) for e in b.manifest["files"]]
    assert a.manifest["summary"] == b.manifest["summary"] and a.manifest["encoding"] == b.manifest["encoding"]
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        assert np.array_equal(a.notes(i), b.notes(i)), a.entries[i]["path"]


def test_three_parts_merged_read_like_one_prepare(corpus, tmp_path):
    whole = tmp_path / "whole"
    m = prep.prepare_corpus(corpus, whole, DataConfig(), workers=1, progress=False)
    assert m["summary"]["ok"] == 18 and m["summary"]["skipped"] == 1
    parts = prepare_parts(corpus, tmp_path, 3)
    names = [{e["path"] for e in json.loads((p / "manifest.json").read_text())["files"]} for p in parts]
    assert all(names) and sum(map(len, names)) == 19 and set().union(*names) == {e["path"] for e in m["files"]}

    merged = prep.merge_prepared(parts, tmp_path / "merged")
    assert merged["complete"] and "part" not in merged and len(merged["files"]) == 19
    assert_same_corpus(tmp_path / "merged", whole)
    linked = sorted(p.name for p in (tmp_path / "merged" / "shards").iterdir())
    assert linked == sorted(p.name for part in parts for p in (part / "shards").iterdir())
    assert all((tmp_path / "merged" / "shards" / n).stat().st_nlink == 2 for n in linked)  # hard links, not copies

    # a merge run again (say, after a kill before its manifest) gives the same folder
    os.unlink(tmp_path / "merged" / "manifest.json")
    prep.merge_prepared(parts, tmp_path / "merged")
    assert_same_corpus(tmp_path / "merged", whole)


def test_parts_of_real_files_from_the_command_line(data_dir, tmp_path, capsys):
    files = prep.list_music_files(data_dir / "midi" / "nottingham" / "MIDI")[::100]
    corpus = link_files(files, tmp_path / "corpus")
    assert main(["prepare", str(corpus), "--out", str(tmp_path / "whole"), "--quiet", "--set", "data.resolution=12"]) == 0
    for i in (1, 2):
        assert main(["prepare", str(corpus), "--out", str(tmp_path / f"p{i}"), "--shard", f"{i}/2", "--quiet",
                     "--set", "data.resolution=12"]) == 0
    assert main(["prepare", "--merge", str(tmp_path / "p1"), str(tmp_path / "p2"), "--out", str(tmp_path / "m")]) == 0
    assert f"{len(files)} of {len(files)} files merged from 2 folders" in capsys.readouterr().out
    assert_same_corpus(tmp_path / "m", tmp_path / "whole")


def test_a_file_is_in_the_same_part_wherever_the_corpus_is_mounted(corpus, tmp_path):
    elsewhere = shutil.copytree(corpus, tmp_path / "mnt" / "other" / "corpus")
    rel = [{os.path.relpath(e["path"], src) for e in prep.prepare_corpus(src, tmp_path / f"o{k}", DataConfig(),
                                                                          workers=1, progress=False, part=(2, 3))["files"]}
           for k, src in enumerate([corpus, elsewhere])]
    assert rel[0] == rel[1] and 0 < len(rel[0]) < 19
    assert prep.part_of("a/b/song02.mid", 3) == prep.part_of("a/b/song02.mid", 3) in (1, 2, 3)


def test_a_killed_merge_leaves_the_parts_whole_and_no_manifest(corpus, tmp_path, monkeypatch):
    parts = prepare_parts(corpus, tmp_path, 2)
    before = {p: (p / "manifest.json").read_bytes() for p in parts}

    def killed(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(prep, "_write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        prep.merge_prepared(parts, tmp_path / "merged")
    assert not (tmp_path / "merged" / "manifest.json").exists()
    assert {p: (p / "manifest.json").read_bytes() for p in parts} == before
    monkeypatch.undo()
    assert len(prep.merge_prepared(parts, tmp_path / "merged")["files"]) == 19


def refusal(parts, out) -> str:
    with pytest.raises(MuseganError) as e:
        prep.merge_prepared(parts, out)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_merge_refuses_what_would_not_be_one_corpus(corpus, tmp_path):
    p1, p2, p3 = prepare_parts(corpus, tmp_path, 3)
    out = tmp_path / "merged"
    assert refusal([p1, p3], out) == f"part 2/3 missing: prepare it with --shard 2/3 (given: 1/3 ({p1}), 3/3 ({p3}))"
    assert refusal([p1, p2, p3, p2], out) == f"{p2}: part 2/3 again ({p2} is part 2/3 too)"

    other = tmp_path / "other"
    prep.prepare_corpus(corpus, other, DataConfig(resolution=12), workers=1, progress=False, part=(2, 3))
    assert refusal([p1, other, p3], out) == f"{other}: prepared with another encoding than {p1} (resolution 12 against 4)"

    halves = prepare_parts(corpus, tmp_path / "halves", 2)
    assert refusal([p1, halves[1]], out) == f"{halves[1]}: part 2/2, while {p1} is part 1/3"
    whole = tmp_path / "whole"
    prep.prepare_corpus(corpus, whole, DataConfig(), workers=1, progress=False)
    assert refusal([p1, whole], out) == f"{whole}: not a part (no --shard), while {p1} is part 1/3"
    assert refusal([whole, p2], out) == f"{p2}: part 2/3, while {whole} is not a part (no --shard)"
    first = sorted(json.loads((whole / "manifest.json").read_text())["files"], key=lambda e: e["path"])[0]["path"]
    assert refusal([whole, whole], out) == f"{first}: in both {whole} and {whole} (overlapping parts)"

    (tmp_path / "plain").mkdir()
    assert refusal([p1, tmp_path / "plain"], out) == f"{tmp_path / 'plain'}: not a prepared corpus (no musegan manifest.json)"
    assert refusal([p1, corpus], out) == f"{corpus}: not a prepared corpus (no musegan manifest.json)"
    assert refusal([p1, p2, p3], p2) == f"{p2}: also the output folder; merge into another one"

    m = json.loads((p3 / "manifest.json").read_text())
    (p3 / "manifest.json").write_text(json.dumps({**m, "complete": False}))
    assert refusal([p1, p2, p3], out) == f"{p3}: its prepare did not finish ({len(m['files'])} files so far): run it again"
    (p3 / "manifest.json").write_text(json.dumps(m))
    shard = next((p3 / "shards").iterdir())
    shard.unlink()
    assert refusal([p1, p2, p3], out).startswith(f"{p3}: shard file shards/{shard.name} is missing (for ")
    assert not (out / "manifest.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["prepare", "C", "--out", "O", "--shard", "3/2"], "argument --shard: part 3/2: expected I/N with 1 <= I <= N"),
    (["prepare", "C", "--out", "O", "--shard", "0/2"], "argument --shard: part 0/2: expected I/N with 1 <= I <= N"),
    (["prepare", "C", "--out", "O", "--shard", "x"], "argument --shard: expected I/N (part I of N, from 1/N to N/N), got 'x'"),
    (["prepare", "C", "--out", "O", "--shard", "1/"], "argument --shard: expected I/N (part I of N, from 1/N to N/N), got '1/'"),
    (["prepare", "--out", "O"], "give a CORPUS folder, or --merge DIR ... to join prepared parts"),
    (["prepare", "C", "--merge", "A", "B", "--out", "O"], "--merge takes no CORPUS (the parts' settings are kept)"),
    (["prepare", "--merge", "A", "--shard", "1/2", "--out", "O"], "--merge takes no --shard (the parts' settings are kept)"),
    (["prepare", "C", "--out", "O", "--set", "train.lr=1"], "prepare takes data.KEY=VALUE settings, e.g. data.resolution=12"),
])
def test_bad_flags_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_workers_never_run_more_than_a_bounded_way_ahead(monkeypatch):
    """Results waiting for the parent stay bounded (``Pool.imap`` would queue a whole corpus)."""
    outstanding, most = [0], [0]

    class Result:
        def __init__(self, job):
            self.job = job

        def get(self):
            outstanding[0] -= 1
            return self.job

    class Pool:
        def apply_async(self, fn, args):
            outstanding[0] += 1
            most[0] = max(most[0], outstanding[0])
            return Result(args[0])

    assert list(prep._in_order(Pool(), iter(range(1000)), ahead=20)) == list(range(1000))
    assert most[0] == 20
