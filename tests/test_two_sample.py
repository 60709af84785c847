"""The classifier two-sample test of ``musegan evaluate``: segment features on hand-built
songs, the test on samples of one distribution and of clearly different ones (synthetic,
and real Bach against itself chopped into sixteenths), and the CLI's report and line."""
import json

import numpy as np
import pytest

from musegan.cli import main
from musegan.config import DataConfig
from musegan.data.default_corpus import VOICES
from musegan.errors import MuseganError
from musegan.evaluation import collect, rescale
from musegan.io.midi import write_midi
from musegan.metrics import classifier_two_sample_test, segment_features
from musegan.representations.pianoroll import Song, Track

TREES = 100  # enough to tell these apart; fast


def hand_built() -> Song:
    """Two bars of 4/4 at 4 steps per quarter: a soprano that sounds half the time
    (C D E B, a quarter each, a rest after each); an alto holding C through both bars,
    with E above it for the first half bar and two sixteenth blips (D) in bar 2; no bass."""
    soprano = [(0, 72, 0, 4), (0, 74, 8, 12), (0, 76, 16, 20), (0, 71, 24, 28)]
    alto = [(1, 60, 0, 32), (1, 64, 0, 8), (1, 62, 17, 18), (1, 62, 19, 20)]
    notes = [(t, p, s, e, 80) for t, p, s, e in soprano + alto]
    return Song(np.array(notes), [Track("soprano"), Track("alto"), Track("bass")], 4, n_steps=32)


def test_segment_features_on_a_hand_built_song():
    f = segment_features(hand_built())
    expected = {
        "soprano sounding share": 0.5, "soprano <=1/16 note share": 0.0, "soprano 2+ pitch step share": 0.0,
        "soprano note length (quarters)": 1.0, "soprano notes per bar": 2.0, "soprano pitch range": 5.0,
        "soprano mean pitch": 73.25, "soprano mean leap": 3.0, "soprano onsets on beats share": 1.0,
        "soprano pitch classes per bar": 2.0, "soprano max pitch classes in a bar": 2.0,
        "soprano scale consistency": 1.0,
        "alto sounding share": 1.0, "alto <=1/16 note share": 0.5, "alto 2+ pitch step share": 10 / 32,
        "alto notes per bar": 2.0, "alto onsets on beats share": 0.5, "alto pitch classes per bar": 2.0,
        "alto mean leap": 1.0,  # the tops of the onsets: E (64, over the C), D, D
        "polyphony": 58 / 32, "silent step share": 0.0, "empty bar share": 0.0,
        "all pitch classes per bar": 3.5, "all max pitch classes in a bar": 4.0,
    }
    for name, value in expected.items():
        assert f[name] == pytest.approx(value), name
    assert f["alto note length (quarters)"] == pytest.approx((8 + 2 + 0.25 + 0.25) / 4)
    assert all(v == 0 for k, v in f.items() if k.startswith("bass "))  # absent, but keyed like the others
    # the same music at 24 steps per quarter has the same features (sixteenths are 6 steps there)
    assert segment_features(rescale(hand_built(), 24)) == pytest.approx(f)


def test_a_bar_without_notes_and_a_drum_track():
    song = Song(np.array([(0, 36, 0, 1, 90), (0, 38, 4, 5, 90), (0, 36, 8, 9, 90), (0, 38, 14, 15, 90)]),
                [Track("Drums", 0, True), Track("Bass", 32)], 4, n_steps=32)
    f = segment_features(song)
    assert f["empty bar share"] == 0.5 and f["silent step share"] == pytest.approx(28 / 32)
    assert f["Drums onsets on beats share"] == 0.75 and f["Drums <=1/16 note share"] == 1.0
    assert f["Drums pitch classes per bar"] == 0 and f["polyphony"] == 0  # drums have no pitch classes
    assert set(f) == set(segment_features(Song(np.zeros((0, 5)), song.tracks, 4, n_steps=32)))


def chorale(rng: np.random.Generator, bars: int = 4) -> Song:
    """Four voices of quarter and half notes on the C major scale, each in its range."""
    scale = np.flatnonzero(np.tile([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], 11)[:128])
    notes = []
    for k, low in enumerate((67, 60, 53, 43)):
        t = 0
        while t < bars * 16:
            length = min(rng.choice([4, 4, 8]), bars * 16 - t)
            notes.append((k, rng.choice(scale[(scale >= low) & (scale < low + 12)]), t, t + length, 80))
            t += length
    return Song(np.array(notes), [Track(v) for v in VOICES], 4, n_steps=bars * 16)


def chopped(song: Song) -> Song:
    """Every note cut into sixteenths (one step at 4 steps per quarter note, in general
    ``resolution // 4``)."""
    step = song.resolution // 4
    pieces = [(k, p, t, min(t + step, e), v) for k, p, s, e, v in song.notes for t in range(s, e, step)]
    return Song(np.array(pieces), song.tracks, song.resolution, song.tempos, song.time_signatures, song.n_steps)


def test_the_test_cannot_tell_one_distribution_from_itself_but_tells_chopped_notes():
    rng = np.random.default_rng(0)
    a = [segment_features(chorale(rng)) for _ in range(60)]
    b = [segment_features(chorale(rng)) for _ in range(60)]
    same = classifier_two_sample_test(a, b, trees=TREES)
    assert same["accuracy"] < 0.65 and same["segments"] == 60 and same["folds"] == 5
    c = [segment_features(chopped(chorale(rng))) for _ in range(60)]
    apart = classifier_two_sample_test(c, b, trees=TREES)
    assert apart["accuracy"] > 0.9
    top = apart["features"][0]
    assert top["importance"] > apart["features"][-1]["importance"]
    mean = {f["feature"]: f for f in apart["features"]}["soprano <=1/16 note share"]
    assert mean["real"] == 0 and mean["generated"] == 1


def test_the_larger_side_is_subsampled_and_a_small_sample_is_refused():
    rng = np.random.default_rng(1)
    a = [segment_features(chorale(rng, 1)) for _ in range(9)]
    b = [segment_features(chorale(rng, 1)) for _ in range(30)]
    with pytest.raises(MuseganError, match="9 generated and 30 real segments; it needs at least 10") as e:
        classifier_two_sample_test(a, b)
    assert "\n" not in str(e.value)
    with pytest.raises(MuseganError, match="fewer than 5 pieces"):
        classifier_two_sample_test(b, b, generated_groups=[i % 4 for i in range(30)], real_groups=range(30))
    assert classifier_two_sample_test(a + a[:3], b, folds=3, trees=10)["segments"] == 12


def test_real_bach_against_its_segments_chopped_into_sixteenths(data_dir):
    data = DataConfig(tracks="keep", track_names=VOICES)
    samples, _, songs = collect(data_dir / "midi" / "bach_chorales" / "midis", data, 24, 4, 60, 0)
    real = [segment_features(s) for s in samples]
    fake = [segment_features(chopped(s)) for s in samples]
    r = classifier_two_sample_test(fake, real, generated_groups=songs, real_groups=songs, trees=TREES)
    assert r["accuracy"] > 0.9 and r["segments"] == len(fake)
    best = {f["feature"] for f in r["features"][:5]}
    assert any("1/16" in name or "note length" in name or "notes per bar" in name for name in best), best


def write_corpus(folder, rng, n: int, chop: bool):
    folder.mkdir()
    for i in range(n):
        song = chorale(rng, 16)
        write_midi(folder / f"{i}.mid", chopped(song) if chop else song)
    return folder


def test_evaluate_writes_the_test_and_prints_its_line(tmp_path, capsys):
    rng = np.random.default_rng(2)
    real, fake = write_corpus(tmp_path / "real", rng, 6, False), write_corpus(tmp_path / "fake", rng, 6, True)
    args = ["evaluate", str(fake), "--reference", str(real), "--tracks", "keep", "--bars", "8", "--num", "12",
            "--max-samples", "12"]
    assert main(args) == 0
    c2st = json.loads((fake / "evaluation.json").read_text())["classifier_two_sample_test"]
    assert c2st["segments"] == 24 and c2st["segment_bars"] == 4 and c2st["folds"] == 5
    assert c2st["accuracy"] > 0.9 and set(c2st["features"][0]) == {"feature", "importance", "real", "generated"}
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("classifier two-sample test")]
    assert line == [line[0]] and f"accuracy {c2st['accuracy']:.2f} +- " in line[0]
    assert "(24 generated / 24 real segments of 4 bars; 0.5 = indistinguishable); it relied on: " in line[0]
    assert f"{c2st['features'][0]['feature']} (real " in line[0]
    # too few segments: the metrics are still written, the test says why it did not run
    assert main(args[:-4] + ["--num", "2", "--max-samples", "2"]) == 0
    c2st = json.loads((fake / "evaluation.json").read_text())["classifier_two_sample_test"]
    assert "needs at least 10" in c2st["skipped"] and "skipped: classifier" in capsys.readouterr().out
