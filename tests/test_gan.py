"""The GAN family: shapes, the WGAN-GP update order, chained generation of any length,
accompaniment, and a tiny real run through the CLI (train, generate, evaluate)."""
import contextlib
import json
import os
import signal

import mido
import numpy as np
import pretty_midi
import pytest
import torch

import musegan
from musegan.cli import main
from musegan.io.checkpoint import load_checkpoint
from musegan.io.midi import read_song
from musegan.models.base import BatchNoise
from musegan.models.gan import GANConfig, GANModel, Generator
from musegan.training import Trainer
from musegan.representations.pianoroll import LPD5_TRACKS

from conftest import link_files

K, C, PI, S, P = 3, 2, 12, 4, 2  # tracks, channels, pitches, steps per bar, bars per phrase


def small(mode="hybrid", **kw):
    c = GANConfig(n_features=K * C * PI, steps_per_bar=S, n_tracks=K, n_channels=C, n_pitches=PI, n_bars=P,
                  mode=mode, z_dim=4, hidden=8, cond_dim=8, critic_hidden=8, pitch_dim=4, **kw)
    torch.manual_seed(0)
    return GANModel(c)


def frames(b, bars, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(b, bars * S, K, C, PI, generator=g) < 0.2).float()
    x[:, :, :, 1] *= x[:, :, :, 0]
    return x.flatten(2)


def train_config():
    return type("T", (), {"lr": 1e-3})()


@pytest.mark.parametrize("mode", ["jamming", "composer", "hybrid"])
def test_shapes_in_every_mode(mode):
    m = small(mode)
    x = frames(5, P)
    real = m.to_phrases(x)
    assert real.shape == (5, K, P, S, PI)
    assert torch.equal(real[:, 1, 0, 2], x.view(5, P * S, K, C, PI)[:, 2, 1, 0])  # track 1, bar 0, step 2
    mask = m.random_mask(BatchNoise.local(x))
    assert mask.shape == (5, K, P) and not mask.all((1, 2)).any()
    probs = m.compose(real, mask, m.sample_latents(5, "cpu"))
    assert probs.shape == real.shape and ((probs >= 0) & (probs <= 1)).all()
    keep = mask[..., None, None].expand_as(real)
    assert torch.equal(probs[keep], real[keep])  # known cells pass through
    assert m.critic(real).shape == (5,)
    assert set(m.valid_step(x, contextlib.nullcontext)) == {"wasserstein", "phrases"}
    private = sum(1 for n in m.generator.state_dict() if n.startswith("temporal_private"))
    assert (private > 0) == (mode != "composer") and (m.generator.temporal is None) == (mode == "jamming")


def test_wgan_gp_updates_the_critic_n_times_then_the_generator():
    m = small(n_critic=2)
    opts = m.configure_optimizers(train_config())
    assert opts["critic"].defaults["betas"] == (0.5, 0.9)
    order = []
    for name, opt in opts.items():
        real_step = opt.step
        opt.step = lambda *a, _n=name, _s=real_step, **k: (order.append(_n), _s(*a, **k))[1]
    g0 = {k: v.clone() for k, v in m.generator.state_dict().items()}
    c0 = {k: v.clone() for k, v in m.critic.state_dict().items()}
    trainer = Trainer(m, opts, torch.device("cpu"))
    r = trainer.step(frames(4, P), 1e-3)
    assert set(r) == {"loss", "wasserstein", "gp", "g_loss", "stop"} and r["gp"] >= 0
    assert order == ["critic"]
    assert any(not torch.equal(c0[k], v) for k, v in m.critic.state_dict().items())
    assert all(torch.equal(g0[k], v) for k, v in m.generator.state_dict().items())
    r = trainer.step(frames(4, P, 1), 1e-3)
    assert order == ["critic", "critic", "generator"] and r["g_loss"] != 0
    assert any(not torch.equal(g0[k], v) for k, v in m.generator.state_dict().items())
    assert int(m.critic_steps) == 2  # saved with the weights: a resumed run keeps the rhythm


def test_generate_any_length_chains_phrases_and_repeats_with_a_seed(monkeypatch):
    m = small(binarize="bernoulli")
    masks = []
    real_forward = Generator.forward
    monkeypatch.setattr(Generator, "forward", lambda self, z, known, mask: (masks.append(mask.clone()),
                                                                            real_forward(self, z, known, mask))[1])
    out = m.generate(2, 10 * S, generator=torch.Generator().manual_seed(3))
    assert out.shape == (2, 10 * S, K * C * PI) and set(out.unique().tolist()) <= {0.0, 1.0}
    # 2-bar phrases overlapping by one bar: the first free, each next one given its first bar
    assert len(masks) == 9 and not masks[0].any()
    assert all(mk[:, :, 0].all() and not mk[:, :, 1].any() for mk in masks[1:])
    masks.clear()
    again = m.generate(2, 10 * S, generator=torch.Generator().manual_seed(3))
    other = m.generate(2, 10 * S, generator=torch.Generator().manual_seed(4))
    assert torch.equal(out, again) and not torch.equal(out, other)
    x = out.view(2, 10 * S, K, C, PI)
    assert (x[:, :, :, 1] <= x[:, :, :, 0]).all()  # onsets only on sounding notes
    cold = [m.generate(1, 3 * S, temperature=0, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    assert torch.equal(*cold)  # temperature 0: the mean latent and thresholded notes


def test_accompaniment_keeps_the_primer_tracks_and_fills_the_others():
    m = small()
    with torch.no_grad():  # a generator that plays: biases up
        for g in m.generator.bars:
            g.out.bias.fill_(1.0)
    primer = torch.zeros(3 * S, K, C, PI)
    primer[:, 2, 0, 5] = 1  # a bass line: one held note, re-struck every bar
    primer[::S, 2, 1, 5] = 1
    primer = primer.flatten(1)
    out = m.generate(2, 2 * S, primer=primer, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 5 * S, K * C * PI)
    x = out.view(2, 5 * S, K, C, PI)
    given = primer.view(3 * S, K, C, PI)
    assert torch.equal(x[:, : 3 * S, 2], given[None, :, 2].expand(2, -1, -1, -1))  # kept exactly
    assert x[:, : 3 * S, :2, 0].sum() > 0  # the other tracks are generated along it
    assert x[:, 3 * S :, 2, 0].sum() > 0  # and after the primer every track goes on


@pytest.fixture(scope="module")
def pop(data_dir, tmp_path_factory):
    files = sorted((data_dir / "midi" / "pop_multitrack" / "midis").glob("*.mid"))[:3]
    return link_files(files, tmp_path_factory.mktemp("pop") / "midi")


TINY = ["model.z_dim=8", "model.hidden=16", "model.cond_dim=16", "model.critic_hidden=16", "model.pitch_dim=8",
        "model.n_critic=2", "train.batch_size=8", "train.samples=1", "train.sample_bars=2", "data.window_bars=2",
        "train.checkpoint_every=3",
        "model.binarize=bernoulli"]  # 6 steps: thresholded, the untrained generator is still silent


@pytest.fixture(scope="module")
def gan_run(pop, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "pop-gan"
    assert main(["train", "--model", "gan", "--corpus", str(pop), "--out", str(out), "--steps", "6", "--quiet",
                 "--device", "cpu", *sum((["--set", s] for s in TINY), [])]) == 0
    return out


def test_train_gan_through_the_cli(gan_run):
    ckpt = load_checkpoint(gan_run / "checkpoint.pt")
    assert ckpt["step"] == 6 and set(ckpt["optimizers"]) == {"critic", "generator"}
    mc, tc = ckpt["config"]["model_config"], ckpt["config"]["train"]
    assert (mc["n_tracks"], mc["n_channels"], mc["n_pitches"], mc["n_bars"]) == (5, 2, 88, 2)
    assert mc["mode"] == "hybrid" and tc["lr"] == 1e-3 and tc["batch_size"] == 8  # the GAN's lr, --set wins
    best = load_checkpoint(gan_run / "best.pt")
    assert best["step"] == 6  # no likelihood: best.pt holds the latest weights
    assert all(torch.equal(best["model"][k], v) for k, v in ckpt["model"].items())
    assert int(ckpt["model"]["critic_steps"]) == 6
    assert sorted(p.name for p in (gan_run / "samples").glob("*.mid")) == ["step000003-0.mid", "step000006-0.mid"]


def test_killed_gan_run_resumes_to_the_same_weights(pop, tmp_path, monkeypatch):
    def run(out, resume=False):
        config = musegan.make_config("gan", corpus="x", overrides=TINY, steps=6, device="cpu")
        musegan.train(pop, out, config, resume=resume, progress=False, log=lambda *_: None)

    run(tmp_path / "a")
    real, calls = Trainer.step, []

    def ctrl_c_in_step_4(self, *a, **k):  # Ctrl-C during step 4: the run stops after it and saves
        calls.append(1)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *a, **k)

    monkeypatch.setattr(Trainer, "step", ctrl_c_in_step_4)
    with pytest.raises(musegan.MuseganError, match="interrupted at step 5"):
        run(tmp_path / "b")
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 5
    monkeypatch.setattr(Trainer, "step", real)
    run(tmp_path / "b", resume=True)
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_generate_ten_bars_midi_with_named_tracks_and_drums_on_channel_10(gan_run, tmp_path):
    for name in ("a.mid", "b.mid"):
        assert main(["generate", str(gan_run), "--out", str(tmp_path / name), "--bars", "10", "--seed", "5"]) == 0
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    song = read_song(tmp_path / "a.mid", 4)
    assert song.notes[:, 3].max() <= 160 and song.notes[:, 2].max() >= 144  # 10 bars of 16 steps, the last one used
    mid = mido.MidiFile(tmp_path / "a.mid")
    names = [t.name for t in mid.tracks if t.name]
    assert names == [n for n, _, _ in LPD5_TRACKS]
    for track in mid.tracks:
        channels = {m.channel for m in track if m.type == "note_on"}
        programs = {m.program for m in track if m.type == "program_change"}
        if track.name == "Drums":
            assert channels <= {9}
        elif track.name in ("Bass", "Guitar", "Strings"):
            assert 9 not in channels and programs == {dict((n, p) for n, p, _ in LPD5_TRACKS)[track.name]}


def test_accompany_a_primer_bass_line_through_the_api(gan_run):
    model = musegan.load(gan_run)
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    bass = pretty_midi.Instrument(program=33, name="my bass")
    for i in range(8):  # two bars of quarter notes
        bass.notes.append(pretty_midi.Note(90, 40 + (i % 3), i * 0.5, i * 0.5 + 0.5))
    pm.instruments.append(bass)
    song = model.generate_song(bars=2, seed=0, primer=pm)
    notes = song.notes
    primer_bass = notes[(notes[:, 0] == 3) & (notes[:, 2] < 32)]
    assert [tuple(n[1:4]) for n in primer_bass] == [(40 + (i % 3), 4 * i, 4 * i + 4) for i in range(8)]
    assert (primer_bass[:, 4] == 90).all()  # the primer's own notes, velocities kept
    assert song.n_steps == 64


def test_evaluate_cli_writes_every_metric(gan_run, pop, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(gan_run), "--reference", str(pop), "--num", "3", "--bars", "2",
                 "--max-samples", "6", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["generated"]["samples"] == 3 and report["reference"]["samples"] == 6
    names = set(report["metrics"])
    for metric in ("EB/Drums", "DP/Drums", "EB/Bass", "UPC/Bass", "QN/Bass", "TD/Piano-Bass", "polyphony",
                   "pitch_class_entropy", "scale_consistency", "groove_consistency"):
        assert metric in names
    for m in report["metrics"].values():
        assert set(m) >= {"generated", "reference", "overlap"}
        assert m["overlap"] is None or 0 <= m["overlap"] <= 1
    printed = capsys.readouterr().out
    assert "UPC/Piano" in printed and "overlap" in printed
    # a folder of MIDI files as GENERATED
    folder = tmp_path / "gen"
    assert main(["generate", str(gan_run), "--out", str(folder / "s.mid"), "--num", "2", "--bars", "4"]) == 0
    assert main(["evaluate", str(folder), "--reference", str(pop), "--bars", "2", "--max-samples", "4"]) == 0
    report = json.loads((folder / "evaluation.json").read_text())
    assert report["generated"]["samples"] == 4 and "TD/Guitar-Strings" in report["metrics"]
