"""End to end on a real corpus: train -> checkpoints -> generate -> read the MIDI back."""
import csv
import os
import signal

import numpy as np
import mido
import pretty_midi
import pytest
import torch

import musegan
from musegan.cli import main
from musegan.errors import MuseganError
from musegan.io.checkpoint import load_checkpoint
from musegan.io.midi import read_song
from musegan.training import Trainer

from conftest import link_files

TINY = ["model.hidden_size=32", "model.num_layers=1", "train.batch_size=8", "train.valid_batches=2",
        "train.samples=1", "train.sample_bars=2", "data.window_bars=2"]


@pytest.fixture(scope="module")
def corpus(data_dir, tmp_path_factory):
    files = sorted((data_dir / "midi" / "nottingham" / "MIDI").glob("*.mid"))[:40]
    return link_files(files, tmp_path_factory.mktemp("notts") / "midi")


def config(steps, **extra):
    sets = TINY + [f"train.checkpoint_every={extra.pop('every', 10)}", f"train.valid_every={extra.pop('every_v', 10)}"]
    return musegan.make_config("lstm", corpus="x", overrides=sets, steps=steps, **extra)


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "notts"
    musegan.train(corpus, out, config(20), progress=False, log=lambda *_: None)
    return out


def test_training_writes_checkpoints_metrics_and_samples(run):
    assert {"config.json", "checkpoint.pt", "best.pt", "metrics.csv"} <= {p.name for p in run.iterdir()}
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    valid = [float(r["valid_nll"]) for r in rows if r["valid_nll"]]
    assert len(valid) == 2 and all(v > 0 for v in valid)
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])  # it learns
    samples = sorted((run / "samples").glob("*.mid"))
    assert [p.name for p in samples] == ["step000010-0.mid", "step000020-0.mid"]
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["step"] == 20 and ckpt["config"]["model_config"]["hidden_size"] == 32
    assert isinstance(ckpt["config"], dict) and set(ckpt["optimizers"]) == {"model"}
    best = load_checkpoint(run / "best.pt")
    assert best["valid_nll"] == pytest.approx(min(valid), rel=1e-5)


def test_generate_any_length_same_seed_same_bytes(run, tmp_path, capsys):
    for name, seed in (("a.mid", 3), ("b.mid", 3), ("c.mid", 4)):
        assert main([ "generate", str(run), "--out", str(tmp_path / name), "--bars", "24", "--seed", str(seed)]) == 0
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.mid", "b.mid", "c.mid"))
    assert a == b and a != c
    info = load_checkpoint(run / "best.pt")["info"]
    song = read_song(tmp_path / "a.mid", 4)
    assert song.time_signatures[0][1:] == tuple(info["time_signature"])
    assert song.tempos[0][1] == pytest.approx(info["tempo"], rel=1e-5)
    assert len(song.notes) > 0 and song.notes[:, 3].max() <= 24 * info["steps_per_bar"]
    assert song.notes[:, 2].max() >= 8 * info["steps_per_bar"]  # well past the 2-bar training window
    # every row of the model is a named track with its program (pretty_midi lists those with notes)
    assert [(t.name, t.program, t.is_drum) for t in song.tracks] == [
        (t["name"], t["program"], t["is_drum"]) for t in info["tracks"] if t["name"] in
        {song.tracks[k].name for k in set(song.notes[:, 0])}]
    names = [m.name for m in mido.MidiFile(tmp_path / "a.mid").tracks if m.name]
    assert names == [t["name"] for t in info["tracks"]]


def test_num_writes_numbered_files_with_consecutive_seeds(run, tmp_path):
    assert main(["generate", str(run), "--out", str(tmp_path / "s.mid"), "--num", "2", "--bars", "2",
                 "--seed", "7"]) == 0
    assert main(["generate", str(run), "--out", str(tmp_path / "one.mid"), "--bars", "2", "--seed", "8"]) == 0
    assert (tmp_path / "s-1.mid").read_bytes() == (tmp_path / "one.mid").read_bytes()
    assert (tmp_path / "s-0.mid").exists()


def test_api_generate_returns_pretty_midi_and_continues_a_primer(run, corpus):
    model = musegan.load(run)
    pm = model.generate(bars=4, seed=0, temperature=0.8)
    assert isinstance(pm, pretty_midi.PrettyMIDI)
    primer_path = sorted(corpus.glob("*.mid"))[0]
    primer = read_song(primer_path, 4)
    out = model.generate_song(bars=4, seed=0, primer=primer_path)
    spb = model.steps_per_bar
    length = -(-primer.n_steps // spb) * spb
    assert out.n_steps == length + 4 * spb
    kept = out.notes[out.notes[:, 2] < length]
    # the primer's notes (its piano track is row 1 of LPD-5) are all there, as they were
    assert len(kept) == len(primer.notes)
    assert np.array_equal(np.sort(kept[:, 1]), np.sort(primer.notes[:, 1]))
    assert (out.notes[:, 2] >= length).any()  # and it goes on
    same = model.generate(bars=4, seed=0, primer=pretty_midi.PrettyMIDI(str(primer_path)))
    assert len(same.instruments[1].notes) == len(out.notes[out.notes[:, 0] == 1])


def test_greedy_generation_is_deterministic_without_seed_effects(run):
    model = musegan.load(run)
    a = model.generate_song(bars=2, seed=0, temperature=0)
    b = model.generate_song(bars=2, seed=99, temperature=0)
    assert np.array_equal(a.notes, b.notes)


def test_killed_training_resumes_to_the_same_weights(corpus, tmp_path, monkeypatch):
    straight = musegan.train(corpus, tmp_path / "a", config(12, every=4, every_v=4), progress=False,
                             log=lambda *_: None)
    real = Trainer.step
    calls = {"n": 0}

    def ctrl_c_in_step_6(self, *a, **k):  # the run finishes step 6, saves, and stops
        calls["n"] += 1
        if calls["n"] == 6:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *a, **k)

    monkeypatch.setattr(Trainer, "step", ctrl_c_in_step_6)
    with pytest.raises(MuseganError, match="interrupted at step 7"):
        musegan.train(corpus, tmp_path / "b", config(12, every=4, every_v=4), progress=False, log=lambda *_: None)
    monkeypatch.setattr(Trainer, "step", real)
    with pytest.raises(MuseganError, match="already holds a run"):
        musegan.train(corpus, tmp_path / "b", config(12), progress=False, log=lambda *_: None)
    musegan.train(corpus, tmp_path / "b", config(12, every=4, every_v=4), resume=True, progress=False,
                  log=lambda *_: None)
    a = load_checkpoint(straight / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [int(r["step"]) for r in rows][-6:] == list(range(7, 13))
