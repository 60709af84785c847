"""Faults survived: SIGKILL at any moment (in a checkpoint write too), Ctrl-C, a loss that
is not finite, another batch size on resume, bit-identical checkpoints on the CPU."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import musegan
from musegan.errors import MuseganError
from musegan.io.checkpoint import load_checkpoint
from musegan.models.lstm import LSTMModel
from musegan.training import GlobalBatches

from test_distributed import corpus  # noqa: F401  (the fixture: twelve small songs)

HERE = Path(__file__).resolve().parent
SETS = ["model.hidden_size=16", "model.num_layers=2", "model.dropout=0.3", "train.batch_size=4",
        "train.checkpoint_every=4", "train.valid_every=4", "train.valid_batches=1", "train.samples=1",
        "train.sample_bars=1", "data.window_bars=2"]


def cli(out, corpus, steps, *extra):
    return ["train", "--corpus", str(corpus), "--out", str(out), "--steps", str(steps), "--device", "cpu",
            "--quiet", *sum((["--set", s] for s in SETS), []), *extra]


def spawn(args, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HERE / "fault_worker.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", **env})


def steps_logged(out: Path) -> list[int]:
    with open(out / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def weights(out: Path) -> dict:
    return load_checkpoint(out / "checkpoint.pt")["model"]


@pytest.fixture(scope="module")
def straight(corpus, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("straight") / "run"
    config = musegan.make_config("lstm", corpus=corpus, overrides=SETS, steps=12, device="cpu")
    musegan.train(corpus, out, config, progress=False, log=lambda *_: None)
    return out


def resume_and_compare(corpus, out, straight):  # noqa: F811
    proc = spawn(cli(out, corpus, 12, "--resume"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert steps_logged(out) == list(range(1, 13))  # every step once: rows after the checkpoint were dropped
    a, b = weights(straight), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)  # dropout replayed: bit for bit
    assert not list(out.glob(".*.tmp"))


def test_sigkill_in_the_middle_of_a_checkpoint_write_resumes_from_the_last_complete_one(corpus, straight, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    proc = spawn(cli(out, corpus, 12), KILL_IN_CHECKPOINT_WRITE="2")  # the write of step 8
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 4 and list(out.glob(".checkpoint.pt.*.tmp"))
    assert steps_logged(out) == list(range(1, 9))
    resume_and_compare(corpus, out, straight)


def test_sigkill_at_an_arbitrary_moment_resumes(corpus, straight, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    proc = spawn(cli(out, corpus, 12))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "metrics.csv").exists() and len(steps_logged(out)) >= 6:
            break
        time.sleep(0.005)
    proc.kill()
    proc.communicate()
    assert (out / "checkpoint.pt").exists()  # six steps were logged: the step-4 checkpoint is complete
    resume_and_compare(corpus, out, straight)


def test_ctrl_c_saves_and_exits_with_one_line(corpus, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    proc = spawn(cli(out, corpus, 500))
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "metrics.csv").exists() and len(steps_logged(out)) >= 3):
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted at step" in lines[0] and "continue with --resume" in lines[0]
    step = int(lines[0].split("interrupted at step ")[1].split(";")[0])
    assert load_checkpoint(out / "checkpoint.pt")["step"] == step == steps_logged(out)[-1]


def test_a_loss_that_is_not_finite_stops_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch):  # noqa: F811
    real, calls = LSTMModel.forward, []

    def nan_at_step_7(self, *a, **k):
        calls.append(1)
        out = real(self, *a, **k)
        return {"loss": out["loss"] * float("nan")} if len(calls) == 7 else out

    monkeypatch.setattr(LSTMModel, "forward", nan_at_step_7)
    config = musegan.make_config("lstm", corpus=corpus, overrides=SETS, steps=12, device="cpu")
    with pytest.raises(MuseganError, match=r"training stopped at step 7: the loss is not finite .*lower train.lr"):
        musegan.train(corpus, tmp_path / "run", config, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["step"] == 4 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert steps_logged(tmp_path / "run") == list(range(1, 7))


def test_resuming_with_another_batch_size_goes_on_from_the_next_unseen_window(corpus, tmp_path):  # noqa: F811
    # the sampler: 2 batches of 4, then batches of 8 from sample 8, are the stream of one
    stream = [i for b, _ in zip(GlobalBatches(30, 0, 0, 2), range(30)) for i in b]
    parts = [i for b, _ in zip(GlobalBatches(30, 0, 0, 4), range(2)) for i in b]
    parts += [i for b, _ in zip(GlobalBatches(30, 0, 8, 8), range(4)) for i in b]
    assert parts == stream[:40]
    halves = [[i for b, _ in zip(GlobalBatches(30, 0, 8, 8, rank, 2), range(4)) for i in b] for rank in (0, 1)]
    assert sorted(halves[0] + halves[1]) == sorted(stream[8:40]) and not set(halves[0]) & set(halves[1])
    out = tmp_path / "run"
    config = musegan.make_config("lstm", corpus=corpus, overrides=SETS, steps=8, device="cpu")
    musegan.train(corpus, out, config, progress=False, log=lambda *_: None)
    config = musegan.make_config("lstm", corpus=corpus, overrides=SETS, steps=12, batch_size=8, device="cpu")
    musegan.train(corpus, out, config, resume=True, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 12 and ckpt["samples_seen"] == 8 * 4 + 4 * 8
    assert steps_logged(out) == list(range(1, 13))


def test_a_global_batch_that_does_not_divide_among_the_processes_is_refused(corpus, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("WORLD_SIZE", "3")
    config = musegan.make_config("lstm", corpus=corpus, overrides=SETS, steps=4, device="cpu")
    with pytest.raises(MuseganError, match="train.batch_size=4 is the global batch: it must divide among the 3"):
        musegan.train(corpus, tmp_path / "run", config, progress=False, log=lambda *_: None)


def test_the_same_seed_and_config_give_a_bit_identical_checkpoint_on_the_cpu(corpus, straight, tmp_path):  # noqa: F811
    config = musegan.make_config("lstm", corpus=corpus, overrides=SETS, steps=12, device="cpu")
    musegan.train(corpus, tmp_path / "again", config, progress=False, log=lambda *_: None)
    assert (tmp_path / "again" / "checkpoint.pt").read_bytes() == (straight / "checkpoint.pt").read_bytes()
    assert (tmp_path / "again" / "best.pt").read_bytes() == (straight / "best.pt").read_bytes()
