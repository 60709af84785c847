"""Infill, harmonize and steering (issue 11): the coconet family, the given notes kept
exactly, the refusals, and the clamp of the sequence families. A synthetic corpus of
three named tracks (a melody voice, chords, a bass voice), so no shared data is needed."""
import numpy as np
import pretty_midi
import pytest
import symusic
import torch

import musegan
from musegan.arrange import estimate_key, fit_octaves, parse_key, shift_to_key
from musegan.cli import main
from musegan.errors import MuseganError
from musegan.models.coconet import CoconetConfig, CoconetModel
from musegan.models.base import BatchNoise

SCALE = [0, 2, 4, 5, 7, 9, 11]
NAMES = ("melody", "chords", "bass")
SETS = ["data.tracks=keep", "data.max_tracks=3", "data.track_names=melody,chords,bass", "data.window_bars=2",
        "data.transpose=0", "data.pitch_low=36", "data.pitch_high=84", "train.batch_size=8", "train.valid_batches=2",
        "train.samples=0", "train.checkpoint_every=20", "train.valid_every=20"]
SIZES = {"coconet": ["model.hidden_size=32", "model.num_layers=2", "model.iterations=8"],
         "lstm": ["model.hidden_size=32", "model.num_layers=1"],
         "gan": ["model.z_dim=8", "model.hidden=16", "model.cond_dim=16", "model.critic_hidden=16",
                 "model.pitch_dim=8"]}


def chorale(seed: int, bars: int = 8) -> pretty_midi.PrettyMIDI:
    """A melody of quarters and halves in C major over whole-bar triads and a bass of halves."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    mel, cho, bas = (pretty_midi.Instrument(p, name=n) for p, n in ((73, "Melody"), (0, "Chords"), (32, "Bass")))
    q = 0.5
    degree = 4
    for bar in range(bars):
        root = [0, 3, 4, 0, 5, 3, 4, 0][bar % 8]
        for k in (0, 2, 4):
            cho.notes.append(pretty_midi.Note(70, 60 + SCALE[(root + k) % 7], bar * 4 * q, (bar + 1) * 4 * q))
        for h in range(2):
            bas.notes.append(pretty_midi.Note(80, 36 + SCALE[root], (bar * 4 + 2 * h) * q, (bar * 4 + 2 * h + 2) * q))
        t = 0
        while t < 4:
            d = int(rng.choice([1, 2])) if t < 3 else 1
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, 9))
            pitch = 72 + SCALE[degree % 7] + 12 * (degree // 7)
            mel.notes.append(pretty_midi.Note(90, pitch, (bar * 4 + t) * q, (bar * 4 + t + d) * q))
            t += d
    pm.instruments += [mel, cho, bas]
    return pm


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic") / "midi"
    folder.mkdir()
    for i in range(16):
        chorale(i).write(str(folder / f"piece{i:02d}.mid"))
    return folder


def train(corpus, out, model, steps=40):
    config = musegan.make_config(model, corpus="x", overrides=SETS + SIZES[model], steps=steps, device="cpu")
    musegan.train(corpus, out, config, progress=False, log=lambda *_: None)
    return out


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {m: train(corpus, root / m, m, steps) for m, steps in (("coconet", 60), ("lstm", 20), ("gan", 4))}


@pytest.fixture
def given(tmp_path) -> str:
    """A piece to edit with what a DAW file has: off-grid timing, varied velocities, two
    tempos, 3/4 after 4/4, other programs, and a track the model does not know."""
    pm = chorale(99, bars=8)
    rng = np.random.default_rng(0)
    for inst in pm.instruments:
        for n in inst.notes:
            n.velocity = int(rng.integers(30, 120))
            n.start += float(rng.choice([0.0, 0.013]))
    pm.instruments[1].program = 5
    extra = pretty_midi.Instrument(40, name="Violin")
    extra.notes.append(pretty_midi.Note(64, 79, 3.0, 5.0))
    pm.instruments.append(extra)
    path = tmp_path / "given.mid"
    pm.write(str(path))
    s = symusic.Score(str(path))
    s.tempos.append(symusic.Tempo(s.ticks_per_quarter * 20, 96.0))
    s.dump_midi(str(path))
    return str(path)


def notes_of(path) -> dict:
    s = symusic.Score(str(path))
    return {t.name: [(n.time, n.duration, n.pitch, n.velocity) for n in t.notes] for t in s.tracks}, s


# -- the model ---------------------------------------------------------------------------
def small_model(mono=(1, 0, 1)):
    c = CoconetConfig(n_features=3 * 2 * 12, steps_per_bar=4, n_tracks=3, n_channels=2, n_pitches=12,
                      mono_tracks=mono, hidden_size=16, num_layers=2, iterations=5)
    return CoconetModel(c)


def test_voice_classes_round_trip_bits():
    m = small_model()
    cls = torch.tensor([[0, 3, 3 + 12, 3, 5, 0, 0, 1 + 12 + 4, 5]])  # rest, strike 2, strike 2 again, hold ...
    bits = m.voice_bits(cls)
    assert torch.equal(m.classes(bits), torch.tensor([[0, 3 + 12, 3 + 12, 3, 5 + 12, 0, 0, 5 + 12, 5]]))
    assert bits[0, :, 0].sum(-1).max() == 1  # never two pitches
    assert bits[0, 2, 1, 2] == 1 and bits[0, 3, 1].sum() == 0  # struck again, then held


def test_random_erasure_covers_every_kind_and_never_nothing():
    m = small_model()
    noise = BatchNoise(torch.Generator().manual_seed(0), 400, 0, 400, "cpu")
    erased = m.random_erasure(noise, 16)
    share = erased.float().mean((1, 2))
    assert erased.flatten(1).any(1).all()
    assert (share == 1).float().mean() > 0.05  # everything erased sometimes
    per_track = erased.all(1)  # whole tracks
    assert ((per_track.sum(1) >= 1) & (per_track.sum(1) < 3) & (share < 1)).any()
    assert ((share > 0) & (share < 0.3)).any()


def test_complete_keeps_known_cells_and_is_seeded():
    torch.manual_seed(0)
    m = small_model().eval()
    frames = (torch.rand(2, 16, 72) < 0.1).float()
    known = torch.rand(2, 16, 3) < 0.5
    a = m.complete(frames, known, generator=torch.Generator().manual_seed(1))
    b = m.complete(frames, known, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    cells = lambda x: x.view(2, 16, 3, 24)  # noqa: E731
    assert torch.equal(cells(a)[known], cells(frames)[known])
    voice = cells(a)[:, :, 0].view(2, 16, 2, 12)[..., 0, :]
    assert voice.sum(-1)[~known[:, :, 0]].max() <= 1  # a drawn voice cell: one pitch at most


def test_masked_training_learns(runs):
    import csv

    rows = list(csv.DictReader(open(runs["coconet"] / "metrics.csv")))
    valid = [float(r["valid_nll"]) for r in rows if r["valid_nll"]]
    assert len(valid) == 3 and valid[-1] < valid[0]


# -- infill --------------------------------------------------------------------------------
def test_infill_keeps_every_note_outside_the_span_exactly(runs, given, tmp_path, capsys):
    out = tmp_path / "new.mid"
    assert main(["generate", str(runs["coconet"]), "--primer", given, "--infill", "3-4", "--tracks", "melody,bass",
                 "--out", str(out)]) == 0
    before, a = notes_of(given)
    after, b = notes_of(out)
    tpq = a.ticks_per_quarter
    lo, hi = 2 * 4 * tpq, 4 * 4 * tpq
    step = tpq // 4
    # a note belongs to the bar where it starts (on the model's grid: rounded to the step)
    inside = lambda n: lo <= (n[0] + step // 2) // step * step < hi  # noqa: E731
    assert set(after) == set(before)
    for name in before:
        if name in ("Melody", "Bass"):
            assert [n for n in after[name] if not inside(n)] == [n for n in before[name] if not inside(n)]
            new = [n for n in after[name] if inside(n)]
            assert new and all(lo <= n[0] < hi and n[0] + n[1] <= hi for n in new)
        else:  # chords and the violin: not chosen, kept whole
            assert after[name] == before[name]
    assert [(t.time, t.qpm) for t in b.tempos] == [(t.time, t.qpm) for t in a.tempos]
    assert [(t.time, t.numerator, t.denominator) for t in b.time_signatures] == \
        [(t.time, t.numerator, t.denominator) for t in a.time_signatures]
    assert [(t.name, t.program, t.is_drum) for t in b.tracks] == [(t.name, t.program, t.is_drum) for t in a.tracks]


def test_infill_api_returns_pretty_midi_and_voices_stay_single(runs, given):
    model = musegan.load(runs["coconet"])
    pm = model.infill(given, bars=(2, 5), seed=3)
    assert isinstance(pm, pretty_midi.PrettyMIDI)
    mel = next(i for i in pm.instruments if i.name == "Melody")
    starts = sorted((n.start, n.end) for n in mel.notes if 2.0 <= n.start < 10.0)
    assert starts and all(e0 <= s1 + 1e-6 for (_, e0), (s1, _) in zip(starts, starts[1:]))  # one pitch at a time


@pytest.mark.parametrize("family", ["lstm", "gan"])
def test_families_that_cannot_see_the_future_refuse_infill_in_one_line(runs, given, tmp_path, capsys, family):
    assert main(["generate", str(runs[family]), "--primer", given, "--infill", "3-4", "--out",
                 str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot infill" in err and "coconet" in err
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize("args,message", [
    (["--infill", "5-3"], "expected 1 <= FIRST <= LAST"),
    (["--infill", "x"], "FIRST-LAST"),
    (["--infill", "2-3", "--tracks", "viola"], "the model's tracks are melody, chords, bass"),
    (["--infill", "2-3", "--bars", "4"], "as long as the given piece"),
    (["--tracks", "bass"], "--tracks chooses the tracks of --infill"),
    (["--infill", "1-2", "--key", "D"], "keeps the key"),
])
def test_bad_infill_flags_get_one_line(runs, given, tmp_path, capsys, args, message):
    assert main(["generate", str(runs["coconet"]), "--primer", given, "--out", str(tmp_path / "y.mid"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message.lower() in err.lower()


# -- harmonize -----------------------------------------------------------------------------
@pytest.fixture
def melody(tmp_path) -> str:
    pm = chorale(7, bars=6)
    pm.instruments = [pm.instruments[0]]
    pm.instruments[0].name = "Tune"  # matches no track name: by program (73, the melody's)
    path = tmp_path / "melody.mid"
    pm.write(str(path))
    return str(path)


@pytest.mark.parametrize("family", ["coconet", "lstm", "gan"])
def test_harmonize_keeps_the_melody_and_writes_the_other_tracks_throughout(runs, melody, tmp_path, family):
    out = tmp_path / f"{family}.mid"
    assert main(["generate", str(runs[family]), "--harmonize", melody, "--out", str(out), "--seed", "1"]) == 0
    before, a = notes_of(melody)
    after, b = notes_of(out)
    assert after["Tune"] == before["Tune"]
    written = [t for t in b.tracks if t.name != "Tune"]
    assert {t.name for t in written} == {"Chords", "Bass"}
    end = max(n.time + n.duration for n in a.tracks[0].notes)
    assert all(max(n.time + n.duration for n in t.notes) > end * 0.6 for t in written if len(t.notes))
    assert sum(len(t.notes) for t in written) > 0


def test_harmonize_as_and_octave_warning(runs, melody, tmp_path, capsys):
    low = tmp_path / "low.mid"
    pm = pretty_midi.PrettyMIDI(melody)
    for n in pm.instruments[0].notes:
        n.pitch -= 36  # far below the melody, partly below the model's range
    pm.write(str(low))
    out = tmp_path / "h.mid"
    assert main(["generate", str(runs["coconet"]), "--harmonize", str(low), "--as", "melody", "--out", str(out)]) == 0
    err = capsys.readouterr().err  # read once: a second read is empty
    assert "moved +24 semitones" in err or "moved +36 semitones" in err
    after, _ = notes_of(out)
    assert after["Tune"] == notes_of(low)[0]["Tune"]


def test_keep_tracks_of_a_multitrack_primer(runs, given, tmp_path):
    out = tmp_path / "k.mid"
    assert main(["generate", str(runs["coconet"]), "--primer", given, "--keep-tracks", "melody,bass",
                 "--out", str(out), "--program", "chords=48", "--tempo", "100"]) == 0
    before, _ = notes_of(given)
    after, b = notes_of(out)
    assert after["Melody"] == before["Melody"] and after["Bass"] == before["Bass"]
    assert after["Chords"] != before["Chords"] and after["Violin"] == before["Violin"]
    assert next(t.program for t in b.tracks if t.name == "Chords") == 48
    assert [round(t.qpm) for t in b.tempos] == [100]


def test_sequence_family_clamps_known_tracks_while_drawing(runs):
    model = musegan.load(runs["lstm"])
    K, T = 3, 32
    frames = torch.zeros(1, T, model.spec.n_features)
    cells = frames.view(1, T, K, model.spec.n_channels, model.spec.n_pitches)
    cells[0, :, 2, 0, 0] = 1.0  # the bass holds its lowest pitch throughout
    cells[0, 0, 2, 1, 0] = 1.0
    known = torch.zeros(1, T, K, dtype=torch.bool)
    known[:, :, 2] = True
    out = model.model.complete(frames, known, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.view_as(cells)[0, :, 2], cells[0, :, 2])


# -- steering ------------------------------------------------------------------------------
def test_keys_are_parsed_estimated_and_reached():
    assert parse_key("Bb") == (10, False) and parse_key("c# minor") == (1, True) and parse_key("Am") == (9, True)
    with pytest.raises(MuseganError, match="expected a key"):
        parse_key("H")
    c_major = np.array([[0, p, i * 4, i * 4 + 4, 80] for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])])
    assert estimate_key(c_major) == (0, False)
    assert shift_to_key(c_major, (2, False)) == 2 and shift_to_key(c_major, (7, False)) == -5
    chromatic = np.array([[0, 60 + p, 4 * p, 4 * p + 4, 80] for p in range(12)])  # all twelve alike: no key
    assert shift_to_key(chromatic, (2, False)) == 0
    assert fit_octaves(c_major, 36, 84) == 0 and fit_octaves(c_major - [0, 36, 0, 0, 0], 36, 84) == 12


def test_generate_steering_flags(runs, tmp_path, capsys):
    out = tmp_path / "s.mid"
    assert main(["generate", str(runs["coconet"]), "--bars", "4", "--key", "D", "--tempo", "90", "--program",
                 "bass=33", "--time-signature", "4/4", "--out", str(out)]) == 0
    s = symusic.Score(str(out))
    assert [round(t.qpm) for t in s.tempos] == [90]
    assert next(t.program for t in s.tracks if t.name.lower() == "bass") == 33
    assert main(["generate", str(runs["coconet"]), "--time-signature", "3/4", "--out", str(tmp_path / "t.mid")]) == 2
    assert "trained on 4/4" in capsys.readouterr().err
    assert main(["generate", str(runs["coconet"]), "--program", "bass=200", "--out", str(tmp_path / "t.mid")]) == 2
