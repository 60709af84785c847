"""Training in several processes: two gloo processes on the CPU, launched by torchrun
as a user would, against one process with the same global batch, for every family."""
import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

import musegan
from musegan.io.checkpoint import load_checkpoint

HERE = Path(__file__).resolve().parent
STEPS = 4
COMMON = ["train.batch_size=4", "train.checkpoint_every=2", "train.valid_every=2", "train.valid_batches=2",
          "train.samples=1", "train.sample_bars=1", "data.window_bars=2", "train.warmup=0"]
FAMILIES = {
    "lstm": ["model.hidden_size=16", "model.num_layers=1", "model.dropout=0"],
    "conv": ["model.hidden_size=16", "model.num_layers=2", "model.dropout=0"],
    "gan": ["model.z_dim=4", "model.hidden=8", "model.cond_dim=8", "model.critic_hidden=8", "model.pitch_dim=4",
            "model.n_critic=2"],
}
# The critic's biases get gradients that are sums of cancelling terms (small against their
# parts), which Adam divides by their own small size (RMS 2e-5 here): the order in which two
# processes add them up can move such a weight by up to a learning rate (3e-4 seen). The
# 1e-5 match is checked on a GAN without a new run's key, voice, onset and penalty settings,
# where this corpus keeps those sums away from it; with them, to within one Adam step (lr 1e-3).
GAN_BEFORE = ["data.key=own", "data.transpose=5", "model.voices=false", "model.critic_onsets=false",
              "model.onset_penalty=0"]
FAMILIES["gan-defaults"] = FAMILIES["gan"]
FAMILIES["gan"] = FAMILIES["gan"] + GAN_BEFORE


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Twelve 8-bar songs of piano and bass (random notes on the beat grid)."""
    folder = tmp_path_factory.mktemp("ddp") / "midi"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        for program, low in ((0, 60), (33, 36)):
            inst = pretty_midi.Instrument(program=program)
            for beat in range(32):
                if rng.random() < 0.7:
                    pitch = int(low + rng.integers(0, 12))
                    inst.notes.append(pretty_midi.Note(90, pitch, beat * 0.5, beat * 0.5 + 0.5))
            pm.instruments.append(inst)
        pm.write(str(folder / f"song{i:02d}.mid"))
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list, dump: Path, extra_env=None, **torchrun) -> subprocess.Popen:
    flags = [f"--{k.replace('_', '-')}" + ("" if v is True else f"={v}") for k, v in torchrun.items()]
    env = {**os.environ, "DDP_DUMP": str(dump), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE),
           **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", *flags, str(HERE / "ddp_worker.py"),
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def train_args(corpus, out, family):
    sets = sum((["--set", s] for s in COMMON + FAMILIES[family]), [])
    return ["train", "--corpus", str(corpus), "--out", str(out), "--model", family.split("-")[0], "--steps", str(STEPS),
            "--device", "cpu", "--quiet", *sets]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_two_processes_match_one_with_the_same_global_batch(corpus, family, tmp_path):
    one = tmp_path / "one"
    config = musegan.make_config(family.split("-")[0], corpus=corpus, overrides=COMMON + FAMILIES[family], steps=STEPS,
                                 device="cpu")
    musegan.train(corpus, one, config, progress=False, log=lambda *_: None)

    dump = tmp_path / "dump"
    dump.mkdir()
    two = tmp_path / "two"
    proc = launch(train_args(corpus, two, family), dump, standalone=True, nproc_per_node=2)
    output, _ = proc.communicate(timeout=300)
    print(output)
    assert proc.returncode == 0, output

    r0, r1 = (torch.load(dump / f"rank{r}-step{STEPS}.pt", weights_only=True) for r in (0, 1))
    for r in (r0, r1):  # a GAN's log of its last generator loss: each process's own half batch
        r.pop("last_g_loss", None)
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # DDP keeps the replicas identical
    single = load_checkpoint(one / "checkpoint.pt")["model"]
    for k in r0:
        v = single[k]
        atol = 1e-3 if family == "gan-defaults" else 1e-5
        torch.testing.assert_close(r0[k].float(), v.float(), rtol=1e-4, atol=atol, msg=f"{family}: {k}")
    saved = load_checkpoint(two / "checkpoint.pt")["model"]
    assert all(torch.equal(saved[k], r0[k]) for k in r0)  # rank 0 wrote its own weights
    # only rank 0 wrote: the same files as the one-process run, each step logged once
    assert sorted(p.relative_to(two).as_posix() for p in two.rglob("*")) == \
        sorted(p.relative_to(one).as_posix() for p in one.rglob("*"))
    rows = list(csv.DictReader(open(two / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    ones = list(csv.DictReader(open(one / "metrics.csv")))
    assert float(rows[0]["loss"]) == pytest.approx(float(ones[0]["loss"]), rel=1e-4, abs=1e-5)
    if not family.startswith("gan"):  # validation summed over both processes
        assert float(rows[-1]["valid_nll"]) == pytest.approx(float(ones[-1]["valid_nll"]), rel=1e-4)
    assert output.count("next: musegan generate") == 1


def test_two_nodes_through_a_rendezvous_endpoint(corpus, tmp_path):
    """--nnodes 2 with a c10d rendezvous: two launchers (one per 'machine', here both on
    127.0.0.1), one process each; each machine's first process reads the corpus."""
    dump = tmp_path / "dump"
    dump.mkdir()
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [launch(train_args(corpus, tmp_path / "run", "lstm"), dump, nnodes=2, nproc_per_node=1,
                    node_rank=i, rdzv_backend="c10d", rdzv_endpoint=endpoint, rdzv_id="musegan-test")
             for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], outputs
    r0, r1 = (torch.load(dump / f"rank{r}-step{STEPS}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == STEPS
