"""Voices as one categorical per step: the head is a proper distribution over frames,
a voice never sounds two pitches, held notes stay whole, and the corpus says which
tracks are voices."""
import itertools

import numpy as np
import pytest
import torch

import musegan
from musegan.config import DataConfig
from musegan.data.dataset import PreparedCorpus
from musegan.data.prepare import prepare_corpus
from musegan.kinds.pianoroll import monophonic_tracks
from musegan.models.voices import HOLD, REST, VoiceHead, nucleus, nucleus_bits

from conftest import link_files

K, C, P = 2, 2, 3


def head(mono=(1, 1), poly="bernoulli", sustain=False):
    torch.manual_seed(0)
    h = VoiceHead(8, K, C, P, mono, poly, head_hidden=5, sustain=sustain)
    with torch.no_grad():  # weights large enough to matter
        for p in h.parameters():
            p.normal_(0, 0.7)
    return h


def track_frames(mono: bool, before=None):
    """Every value one track can take in one step after ``before`` (its notes the step
    before; none by default): a voice's rest and pitches (with their onsets), or any
    notes of a polyphonic track, a new note with its onset, a sustained one with or
    without."""
    if mono:
        out = [torch.zeros(C, P)]
        for p in range(P):
            x = torch.zeros(C, P)
            x[:, p] = 1
            out.append(x)
        return out
    before = torch.zeros(P) if before is None else before
    out = []
    for notes in itertools.product((0, 1), repeat=P):
        notes = torch.tensor(notes, dtype=torch.float32)
        sustained = (notes * before).nonzero()[:, 0].tolist()
        for again in itertools.product((0, 1), repeat=len(sustained)):
            onsets = notes * (1 - before)
            onsets[sustained] = torch.tensor(again, dtype=torch.float32)
            out.append(torch.stack([notes, onsets]))
    return out


@pytest.mark.parametrize("mono", [(1, 1), (1, 0), (0, 1)])
def test_the_probabilities_of_every_possible_frame_sum_to_one(mono):
    h = head(mono, poly="nade" if 0 in mono else "bernoulli")
    state = torch.randn(1, 1, 8)
    frames = [torch.cat([a.flatten(), b.flatten()]) for a in track_frames(mono[0]) for b in track_frames(mono[1])]
    x = torch.stack(frames)[:, None]  # (N, T=1, F)
    total = torch.exp(-h.nll(state.expand(len(x), -1, -1), x)).sum()
    assert float(total.detach()) == pytest.approx(1.0, abs=1e-4)


def test_after_a_note_a_voice_may_hold_it_and_the_sum_is_still_one():
    h = head()
    first = torch.zeros(K, C, P)
    first[0, :, 1] = 1  # voice 0 plays pitch 1; voice 1 rests
    held = first.clone()
    held[0, 1] = 0  # the same pitch, no onset: hold
    seconds = [torch.cat([a.flatten(), b.flatten()]) for a in track_frames(True) + [held[0]]
               for b in track_frames(True)]
    x = torch.stack([torch.stack([first.flatten(), s]) for s in seconds])  # (N, 2, F)
    nll = h.nll(torch.randn(1, 2, 8).expand(len(x), -1, -1), x)
    assert float(torch.exp(-nll[:, 1]).sum()) == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(nll[:, 0], nll[0, 0])  # the first step is the same frame in every row


@pytest.mark.parametrize("poly,sustain", [("bernoulli", False), ("nade", False), ("bernoulli", True), ("nade", True)])
def test_after_a_chord_the_hold_gate_keeps_the_sum_at_one(poly, sustain):
    h = head((1, 0), poly, sustain)
    first = torch.zeros(K, C, P)
    first[1, :, 0] = first[1, :, 2] = 1  # the polyphonic track plays two notes
    seconds = [torch.cat([a.flatten(), b.flatten()]) for a in track_frames(True)
               for b in track_frames(False, first[1, 0])]
    x = torch.stack([torch.stack([first.flatten(), s]) for s in seconds])
    nll = h.nll(torch.randn(1, 2, 8).expand(len(x), -1, -1), x)
    assert float(torch.exp(-nll[:, 1]).sum().detach()) == pytest.approx(1.0, abs=1e-4)
    held = first.clone()
    held[1, 1] = 0  # both notes go on, no onsets: the gate's frame
    with torch.no_grad():
        h.hold["1"].weight.zero_()
        h.hold["1"].bias.fill_(6.0)  # a gate that holds: sampling keeps the chord
    frame = h.sample(torch.randn(64, 8), 1.0, torch.Generator().manual_seed(0), prev=first.flatten().expand(64, -1))
    kept = (frame.view(64, K, C, P)[:, 1] == held[1]).flatten(1).all(-1)
    assert kept.float().mean() > 0.9


@pytest.mark.parametrize("poly", ["bernoulli", "nade"])
def test_with_sustain_frames_are_drawn_as_often_as_the_likelihood_says(poly):
    """Sampling (the head pulled towards the notes of the step before) and the NLL
    describe one distribution: over every frame after a two-note chord, the share of
    20,000 draws matches exp(-NLL)."""
    h = head((1, 0), poly, sustain=True)
    first = torch.zeros(K, C, P)
    first[1, :, 0] = first[1, :, 2] = 1
    seconds = [torch.cat([a.flatten(), b.flatten()]) for a in track_frames(True)
               for b in track_frames(False, first[1, 0])]
    x = torch.stack([torch.stack([first.flatten(), s]) for s in seconds])
    state = torch.randn(1, 2, 8, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        p = torch.exp(-h.nll(state.expand(len(x), -1, -1), x)[:, 1])
        n = 20_000
        draws = h.sample(state[:, 1].expand(n, -1), 1.0, torch.Generator().manual_seed(6),
                         prev=first.flatten().expand(n, -1))
    index = {tuple(s.tolist()): i for i, s in enumerate(seconds)}
    counts = torch.bincount(torch.tensor([index[tuple(d.tolist())] for d in draws]), minlength=len(seconds))
    assert float((counts / n - p).abs().max()) < 0.015
    assert float(p.max()) > 0.05  # not a flat distribution, where any sampler would pass


def test_with_sustain_the_notes_of_the_step_before_are_pulled_on_each_by_its_own_offset():
    """A piano part whose gate opens: with sustain, the two notes of the step before are
    pulled on by their own offsets, so a head that would drop them does not cut them;
    without it the head re-draws them and drops them."""
    before = torch.zeros(512, K, C, P)
    before[:, 1, 0, :2] = 1
    kept = {}
    for sustain in (False, True):
        h = head((1, 0), "nade", sustain)
        with torch.no_grad():
            h.hold["1"].weight.zero_()
            h.hold["1"].bias.fill_(-8.0)  # the gate never holds
            h.out[1].bias_v.weight.zero_()
            h.out[1].bias_v.bias.fill_(-3.0)  # the head rarely turns a note on
            h.out[1].V.zero_()
            if sustain:
                h.sustain["1"].weight.zero_()
                h.sustain["1"].bias.fill_(8.0)  # a note of the step before goes on with p 0.993
        frame = h.sample(torch.randn(512, 8, generator=torch.Generator().manual_seed(2)), 1.0,
                         torch.Generator().manual_seed(3), prev=before.flatten(1)).view(512, K, C, P)[:, 1, 0]
        kept[sustain] = float(frame[:, :2].mean())
    assert kept[True] > 0.97 and kept[False] < 0.15


def test_a_polyphonic_track_starts_new_notes_with_onsets_and_strikes_sustained_ones_by_choice():
    h = head((1, 0))
    before = torch.zeros(256, K, C, P)
    before[:, 1, 0, :2] = 1  # two notes sounding
    frame = h.sample(torch.randn(256, 8, generator=torch.Generator().manual_seed(2)), 1.0,
                     torch.Generator().manual_seed(3), prev=before.flatten(1)).view(256, K, C, P)[:, 1]
    notes, onsets = frame[:, 0], frame[:, 1]
    new = notes * (1 - before[:, 1, 0])
    assert (onsets <= notes).all() and torch.equal(onsets * (1 - before[:, 1, 0]), new)
    sustained = notes * before[:, 1, 0]
    again = (onsets * sustained).sum() / sustained.sum()
    assert 0 < again < 1  # some sustained notes struck again, some held


def test_classes_and_bits_are_inverse():
    h = head()
    prev = torch.zeros(4, C, P)
    prev[1, 0, 2] = prev[3, 0, 0] = 1
    now = torch.zeros(4, C, P)
    now[1, 0, 2] = 1  # held
    now[2, :, 1] = 1  # a new note
    now[3, :, 0] = 1  # the same pitch struck again
    cls = h.classes(now, prev)
    assert cls.tolist() == [REST, HOLD, 2 + 1, 2 + 0]
    assert torch.equal(h.bits(cls, prev), now)


def test_sampled_voices_never_sound_two_pitches_and_hold_only_what_sounded():
    h = head()
    prev = torch.zeros(256, K * C * P)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        frame = h.sample(torch.randn(256, 8, generator=gen), 1.0, gen, prev=prev)
        tracks = frame.view(256, K, C, P)
        assert (tracks[:, :, 0].sum(-1) <= 1).all()
        assert (tracks[:, :, 1] <= tracks[:, :, 0]).all()  # onsets only on sounding notes
        held = (tracks[:, :, 0].sum(-1) == 1) & (tracks[:, :, 1].sum(-1) == 0)
        assert (tracks[:, :, 0] <= prev.view(256, K, C, P)[:, :, 0])[held].all()
        prev = frame


def test_temperature_zero_and_a_tiny_nucleus_take_the_likeliest_class():
    h = head((1, 0))
    state = torch.randn(64, 8)
    greedy = h.sample(state, 0.0)
    tiny = h.sample(state, 1.0, torch.Generator().manual_seed(1), top_p=1e-6)
    assert torch.equal(greedy, tiny)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert torch.allclose(nucleus(probs, 0.8), torch.tensor([[0.625, 0.375, 0, 0]]))
    assert torch.equal(nucleus_bits(torch.tensor([0.97, 0.5, 0.02]), 0.95), torch.tensor([1.0, 0.5, 0.0]))


def test_the_corpus_says_which_tracks_are_voices(data_dir, tmp_path):
    bach = sorted((data_dir / "midi" / "bach_chorales" / "midis").glob("*.mid"))[:30]
    config = DataConfig(tracks="keep", track_names=("soprano", "alto", "tenor", "bass"), pitch_low=28,
                        pitch_high=91)
    prepare_corpus(link_files(bach, tmp_path / "bach"), tmp_path / "p1", config, workers=1, progress=False)
    assert monophonic_tracks(PreparedCorpus(tmp_path / "p1"), config) == [1, 1, 1, 1]
    notts = sorted((data_dir / "midi" / "nottingham" / "MIDI").glob("*.mid"))[:30]
    config = DataConfig(tracks="keep", max_tracks=2)
    prepare_corpus(link_files(notts, tmp_path / "notts"), tmp_path / "p2", config, workers=1, progress=False)
    assert monophonic_tracks(PreparedCorpus(tmp_path / "p2"), config) == [1, 0]  # melody, chords


@pytest.mark.parametrize("family", ["lstm", "conv"])
def test_a_chorale_model_writes_voices_that_each_sound_one_pitch(data_dir, tmp_path, family):
    bach = sorted((data_dir / "midi" / "bach_chorales" / "midis").glob("*.mid"))[:40]
    corpus = link_files(bach, tmp_path / "bach")
    sets = ["data.tracks=keep", "data.track_names=soprano,alto,tenor,bass", "data.pitch_low=28",
            "data.pitch_high=91", "data.window_bars=2", "model.hidden_size=32", "model.num_layers=2",
            "train.batch_size=8", "train.samples=0", "train.valid_batches=2"]
    config = musegan.make_config(family, corpus=corpus, overrides=sets, steps=30, device="cpu")
    out = musegan.train(corpus, tmp_path / "run", config, progress=False, log=lambda *_: None)
    model = musegan.load(out)
    assert type(model.model.head).__name__ == "VoiceHead" and model.config.model_config.mono_tracks == (1, 1, 1, 1)
    song = model.generate_song(bars=8, seed=0, top_p=0.95)
    for k in range(4):
        notes = song.notes[song.notes[:, 0] == k]
        steps = np.zeros(song.n_steps, int)
        for _, _, start, end, _ in notes:
            steps[start:end] += 1
        assert steps.max() <= 1  # never two pitches at once
