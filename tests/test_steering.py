"""Pulls on the sampler (musegan.steering): each offset lands on the bits it names, and
a sequence model sampled with a strong pull does what the pull asks (no note cut after
one step; every note inside one major scale; the drums repeat the bar before)."""
import numpy as np
import pytest
import torch

from musegan.errors import MuseganError
from musegan.models.lstm import LSTMConfig, LSTMModel
from musegan.steering import Steering, check_pulls

K, C, P, LOW = 2, 2, 24, 48  # two tracks (drums, piano), note and onset bits, pitches 48-71
DRUMS = (0,)


def frame(notes=(), onsets=(), B=1):
    """A frame ``(B, K * C * P)`` from ``(track, pitch index)`` pairs."""
    f = torch.zeros(B, K, C, P)
    for k, p in notes:
        f[:, k, 0, p] = 1
    for k, p in onsets:
        f[:, k, 1, p] = 1
    return f.flatten(1)


def parts(offset):
    return offset.view(-1, K, C, P)


def test_a_just_started_note_is_held_and_not_struck_again_then_let_go():
    s = Steering(K, C, P, LOW, DRUMS, hold=3.0, min_steps=2)
    s(torch.zeros(1, K * C * P))
    off = parts(s(frame(notes=[(1, 5)], onsets=[(1, 5)])))  # piano starts pitch index 5
    assert off[0, 1, 0, 5] == 3.0 and off[0, 1, 1, 5] == -3.0
    assert float(off.abs().sum()) == 6.0  # nothing else
    assert s(frame(notes=[(1, 5)])) is None  # two steps old: free to stop


def test_notes_outside_the_scale_of_the_piece_are_pushed_down_on_pitched_tracks_only():
    s = Steering(K, C, P, LOW, DRUMS, key=2.0, min_notes=8, half_life=1e9)
    c_major = [0, 2, 4, 5, 7, 9, 11, 12]  # pitch indices from 48 (a C): C D E F G A B C
    assert s(torch.zeros(1, K * C * P)) is None
    out = None
    for p in c_major:  # one note a step, each a new onset
        out = s(frame(notes=[(1, p)], onsets=[(1, p)]))
    off = parts(out)[0]
    outside = [p for p in range(P) if (p % 12) not in (0, 2, 4, 5, 7, 9, 11)]
    assert torch.all(off[1, 0, outside] == -2.0)
    inside = [p for p in range(P) if p not in outside]
    assert torch.all(off[1, 0, inside] == 0.0)
    assert torch.all(off[0] == 0.0) and torch.all(off[1, 1] == 0.0)  # drums and onset bits untouched


def test_the_drums_are_pulled_towards_the_hits_of_the_bar_before():
    spb = 4
    s = Steering(K, C, P, LOW, DRUMS, groove=1.5, steps_per_bar=spb)
    s(torch.zeros(1, K * C * P))
    bar = [frame(notes=[(0, 3)], onsets=[(0, 3)]), frame(), frame(notes=[(0, 7)], onsets=[(0, 7)]), frame()]
    outs = [s(f) for f in bar]
    assert all(o is None for o in outs[:-1])  # nothing to repeat in the first bar
    off = parts(outs[-1])[0]  # for step 4, the first of bar 2: the bar before hit pitch 3 there
    assert off[0, 0, 3] == 1.5 and off[0, 1, 3] == 1.5
    assert torch.all(off[0, :, [p for p in range(P) if p != 3]] == -1.5)
    assert torch.all(off[1] == 0.0)  # pitched tracks untouched


def test_pull_names_and_values_are_checked():
    assert check_pulls({"hold": 4, "key": "1.5"}) == {"hold": 4.0, "key": 1.5}
    for bad in ({"swing": 1}, {"hold": -1}, {"key": float("nan")}, {"groove": "a lot"}):
        with pytest.raises(MuseganError, match="pull"):
            check_pulls(bad)


def model():
    torch.manual_seed(0)
    cfg = LSTMConfig(n_features=K * C * P, steps_per_bar=8, n_tracks=K, n_channels=C, n_pitches=P,
                     mono_tracks=(0, 0), hidden_size=16, num_layers=1, dropout=0.0, head="nade", head_hidden=8)
    m = LSTMModel(cfg).eval()
    with torch.no_grad():
        m.head.init_from_data(torch.full((K * C * P,), 0.08))  # busy: about two notes a step per track
    return m


def draw(m, steering=None, n=4, steps=64):
    kw = {} if steering is None else {"steer": steering}
    return m.generate(n, steps, generator=torch.Generator().manual_seed(1), **kw).view(n, steps, K, C, P)


def one_step_notes(x) -> int:
    """Notes of the piano that start and stop after one step (onset, then off or struck again)."""
    notes, onsets = x[:, :, 1, 0], x[:, :, 1, 1]
    started = onsets[:, :-1] > 0
    cut = (notes[:, 1:] == 0) | (onsets[:, 1:] > 0)
    return int((started & cut).sum())


def test_an_untrained_model_cuts_notes_after_one_step_and_a_strong_hold_pull_does_not():
    m = model()
    assert one_step_notes(draw(m)) > 20
    assert one_step_notes(draw(m, Steering(K, C, P, LOW, DRUMS, hold=40.0, min_steps=2))) == 0


def test_with_a_strong_key_pull_the_piano_stays_in_one_major_scale():
    m = model()

    def outside_best_scale(x) -> float:
        pcs = (torch.nonzero(x[:, 16:, 1, 1])[:, -1] + LOW) % 12  # onsets after the first two bars
        counts = np.bincount(pcs.numpy(), minlength=12)
        best = max(sum(counts[(r + i) % 12] for i in (0, 2, 4, 5, 7, 9, 11)) for r in range(12))
        return 1 - best / counts.sum()

    free = draw(m, n=1)
    pulled = draw(m, Steering(K, C, P, LOW, DRUMS, key=40.0, min_notes=8, half_life=1e9), n=1)
    assert outside_best_scale(free) > 0.15
    assert outside_best_scale(pulled) == 0.0


def test_a_family_that_draws_whole_pieces_refuses_pulls(tmp_path):
    from musegan.generation import MusicModel

    class Whole:  # stands for the GAN / coconet: no frame-by-frame steering
        steerable = False

    player = MusicModel.__new__(MusicModel)
    player.model = Whole()
    player.config = type("C", (), {"model": "gan"})()
    assert player.steering({"hold": 0}) is None  # all off: nothing to refuse
    with pytest.raises(MuseganError, match="gan family"):
        player.steering({"hold": 2})


def test_a_trained_run_takes_pulls_through_the_api_and_the_cli(data_dir, tmp_path, capsys):
    """A tiny pop LSTM (drums and pitched tracks): all pulls at 0 draw the very piece
    drawn without them; a strong key pull through ``musegan generate --pull`` keeps
    every pitched note after the first bar inside one major scale, which the free
    draw does not."""
    import musegan
    from musegan.cli import main
    from musegan.io.midi import read_song
    from musegan.representations.pianoroll import PITCH, START, TRACK

    from conftest import link_files

    songs = sorted((data_dir / "midi" / "pop_multitrack" / "midis").glob("*.mid"))[:3]
    corpus = link_files(songs, tmp_path / "pop")
    sets = ["model.hidden_size=16", "model.num_layers=1", "model.head_hidden=8", "train.batch_size=4",
            "train.samples=0", "train.valid_batches=1", "data.window_bars=1"]
    config = musegan.make_config("lstm", corpus=corpus, overrides=sets, steps=4, device="cpu")
    run = musegan.train(corpus, tmp_path / "run", config, progress=False, log=lambda *_: None)
    model = musegan.load(run)
    free = model.generate_song(bars=4, seed=0)
    assert np.array_equal(free.notes, model.generate_song(bars=4, seed=0, pulls={"hold": 0, "key": 0}).notes)

    def outside_best_scale(song) -> float:
        spb = song.steps_per_bar
        pitched = [k for k, t in enumerate(song.tracks) if not t.is_drum]
        n = song.notes[np.isin(song.notes[:, TRACK], pitched) & (song.notes[:, START] >= spb)]
        counts = np.bincount(n[:, PITCH] % 12, minlength=12)
        best = max(sum(counts[(r + i) % 12] for i in (0, 2, 4, 5, 7, 9, 11)) for r in range(12))
        return 1 - best / counts.sum()

    assert outside_best_scale(free) > 0.1
    out = tmp_path / "pulled.mid"
    assert main(["generate", str(run), "--out", str(out), "--bars", "4", "--seed", "0", "--pull", "key=40"]) == 0
    assert outside_best_scale(read_song(out, model.config.data.resolution)) == 0.0


# -- the chord pull, inside a frame (three tracks: drums, piano, bass) --------------------
K3 = 3


def frame3(notes=(), B=1):
    f = torch.zeros(B, K3, C, P)
    for k, p in notes:
        f[:, k, 0, p] = 1
    return f.flatten(1)


def test_the_chord_pull_favours_the_pitch_classes_of_the_pitched_tracks_drawn_before():
    assert Steering(K3, C, P, LOW, DRUMS).within is None  # off: nothing to hand the head
    s = Steering(K3, C, P, LOW, DRUMS, chord=2.0)
    s(torch.zeros(1, K3 * C * P))
    before = frame3(notes=[(0, 1), (1, 0), (1, 16)])[:, : 2 * C * P]  # a drum, and the piano's C and E
    bits = s.within(2, before)
    chord = [p for p in range(P) if (p % 12) in (0, 4)]
    assert torch.all(bits[0, 0, chord] == 2.0)
    assert torch.all(bits[0, 0, [p for p in range(P) if p not in chord]] == 0.0)
    assert torch.all(bits[0, 1] == 0.0)  # onset bits untouched
    assert s.within(1, before[:, : C * P]) is None  # the piano: only drums before it
    assert s.within(0, before[:, :0]) is None  # drums are never pulled
    assert s.within(2, frame3(notes=[(0, 1)])[:, : 2 * C * P]) is None  # nothing pitched sounds


def model3():
    torch.manual_seed(0)
    cfg = LSTMConfig(n_features=K3 * C * P, steps_per_bar=8, n_tracks=K3, n_channels=C, n_pitches=P,
                     mono_tracks=(0, 0, 0), hidden_size=16, num_layers=1, dropout=0.0, head="nade",
                     head_hidden=8)
    m = LSTMModel(cfg).eval()
    with torch.no_grad():
        m.head.init_from_data(torch.full((K3 * C * P,), 0.08))
    return m


def test_with_a_chord_pull_the_bass_doubles_the_pitch_classes_the_piano_sounds():
    m = model3()
    pcs = torch.nn.functional.one_hot(torch.arange(P) % 12, 12).float()

    def draw3(steering=None):
        kw = {} if steering is None else {"steer": steering}
        return m.generate(4, 64, generator=torch.Generator().manual_seed(1), **kw).view(4, 64, K3, C, P)

    def shared(x) -> tuple[float, float]:
        """The share of the bass's note starts, while the piano sounds, on a pitch class
        the piano sounds at that step; and the bass's pitches sounding per step."""
        piano = (x[:, :, 1, 0] > 0).float() @ pcs > 0  # (B, T, 12)
        starts = (x[:, :, 2, 0] > 0) & (x[:, :, 2, 1] > 0) & piano.any(-1)[..., None]
        ok = piano.float() @ pcs.t() > 0  # (B, T, P)
        return float((starts & ok).sum() / starts.sum()), float((x[:, :, 2, 0] > 0).sum(-1).float().mean())

    free, free_notes = shared(draw3())
    pulled, pulled_notes = shared(draw3(Steering(K3, C, P, LOW, DRUMS, chord=3.0)))
    assert free < 0.3 and pulled > 0.55  # 0.19 and 0.61
    assert pulled_notes > 1.5 * free_notes  # the bass fills in the chord (2.1 and 4.2 pitches)


def test_the_chord_pull_needs_a_head_that_draws_track_by_track():
    cfg = LSTMConfig(n_features=K3 * C * P, steps_per_bar=8, n_tracks=K3, n_channels=C, n_pitches=P,
                     mono_tracks=(0, 0, 0), hidden_size=16, num_layers=1, head="nade", head_hidden=8, voices=False)
    m = LSTMModel(cfg).eval()
    with pytest.raises(MuseganError, match="chord"):
        m.generate(1, 4, steer=Steering(K3, C, P, LOW, DRUMS, chord=1.0))
    m.generate(1, 4, steer=Steering(K3, C, P, LOW, DRUMS, key=1.0))  # pulls between frames still work
