"""Audio metrics: hand-made features, their Frechet distance and two-sample test, nearest neighbours."""
import json

import numpy as np
import pytest
import torch

from musegan.evaluation import COPY_THRESHOLD, evaluate_audio, log_mel_frames
from musegan.generation import AudioModel
from musegan.io.audio import write_wav
from musegan.metrics import (
    audio_features,
    audio_segments,
    classifier_two_sample_test,
    feature_frechet_distance,
    nearest_neighbour_distances,
    pooled_log_mel,
)

torch.set_num_threads(1)
SR = 44100
FLOOR = np.log(1e-5)


def noise(rng, seconds=0.4):
    return (rng.uniform(0.05, 0.3) * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def sine(rng, seconds=0.4):
    t = np.arange(int(seconds * SR)) / SR
    return (rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(200, 800) * t)).astype(np.float32)


def test_features_tell_noise_from_a_sine():
    rng = np.random.default_rng(0)
    n, s = audio_features(noise(rng), SR), audio_features(sine(rng), SR)
    assert set(n) == set(s) and len(n) == 2 * 13 + 2 * 4 + 1
    assert n["flatness_mean"] > s["flatness_mean"] + 2  # log10: white noise is flat, a sine is not
    assert n["centroid_mean"] > 5 * s["centroid_mean"]
    assert all(np.isfinite(list(n.values()))) and all(np.isfinite(list(s.values())))
    clicks = np.zeros(SR, np.float32)
    clicks[::SR // 8] = 1.0
    assert audio_features(clicks, SR)["onset_rate"] >= 4 > audio_features(sine(rng, 1.0), SR)["onset_rate"]


def test_segments():
    y = np.zeros((2, 2 * SR + int(0.3 * SR)), np.float32)
    assert [len(s) for s in audio_segments(y, SR)] == [SR, SR, int(0.3 * SR)]
    assert audio_segments(np.zeros(SR // 10), SR) == []


@pytest.fixture(scope="module")
def feature_sets():
    rng = np.random.default_rng(1)
    return {"noise_a": [audio_features(noise(rng), SR) for _ in range(30)],
            "noise_b": [audio_features(noise(rng), SR) for _ in range(30)],
            "sine": [audio_features(sine(rng), SR) for _ in range(30)]}


def test_classifier_two_sample_test_on_audio_features(feature_sets):
    same = classifier_two_sample_test(feature_sets["noise_a"], feature_sets["noise_b"], trees=100)
    other = classifier_two_sample_test(feature_sets["noise_a"], feature_sets["sine"], trees=100)
    assert same["accuracy"] < 0.75, same["accuracy"]
    assert other["accuracy"] > 0.95, other["accuracy"]


def test_feature_frechet_distance(feature_sets):
    same = feature_frechet_distance(feature_sets["noise_a"], feature_sets["noise_b"])
    other = feature_frechet_distance(feature_sets["sine"], feature_sets["noise_b"])
    assert 0 <= same < 0.1 * other, (same, other)
    assert np.isnan(feature_frechet_distance(feature_sets["sine"][:1], feature_sets["noise_b"]))


def test_nearest_neighbour_distance_flags_an_exact_copy():
    rng = np.random.default_rng(2)
    corpus_waves = [noise(rng, 1.5), sine(rng, 2.0), sine(rng, 0.3)]
    corpus = [pooled_log_mel(log_mel_frames(y, SR), floor=FLOOR) for y in corpus_waves]
    # a copied stretch (frame-aligned, whole frames of the corpus), a fresh sine, fresh noise
    copy = corpus[1][20:107]
    fresh = [pooled_log_mel(log_mel_frames(y, SR), floor=FLOOR) for y in (sine(rng, 1.0), noise(rng, 1.0))]
    d = nearest_neighbour_distances([copy] + fresh, corpus, FLOOR, relative=True)
    assert d[0] < 1e-6
    assert d[1] > 2 * COPY_THRESHOLD and d[2] > 100 * d[0], d  # (white noise is near any white noise: a log-mel limit)
    # a one-shot shorter than the query, followed by silence, is found too
    shot = np.concatenate([corpus[2], np.full((87 - len(corpus[2]), corpus[2].shape[1]), FLOOR)])
    assert nearest_neighbour_distances([shot], corpus, FLOOR, relative=True)[0] < 1e-6
    # a waveform copy, re-analysed on its own: edge frames differ, still under the threshold
    resliced = pooled_log_mel(log_mel_frames(corpus_waves[1][SR // 2: SR // 2 + SR], SR)[2:-2], floor=FLOOR)
    assert nearest_neighbour_distances([resliced], corpus, FLOOR, relative=True)[0] < COPY_THRESHOLD
    absolute = nearest_neighbour_distances([copy] + fresh, corpus, FLOOR)
    assert absolute[0] < 1e-6 and (absolute[1:] > d[1:]).all()  # relative: over a height above -11.5 nats


class CopyingModel(AudioModel):
    """An 'audio model' that plays back a file of its corpus, then silence (or plays
    noise): what the report must catch."""

    def __init__(self, waves, copy=True):
        self.waves, self.copy = waves, copy
        self.stats = {"sr": SR}

    def generate(self, seconds=4.0, seed=0, temperature=None, top_p=1.0, **_):
        n = int(seconds * SR)
        if self.copy:
            y = self.waves[seed % len(self.waves)][:n]
            return np.pad(y, (0, n - len(y)))[None], SR
        return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)[None], SR


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("ref")
    waves = []
    for k in range(12):
        t = np.arange(int(rng.uniform(0.8, 1.6) * SR)) / SR
        y = (0.3 * np.exp(-3 * t) * np.sin(2 * np.pi * rng.uniform(100, 1000) * t)
             + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
        write_wav(root / f"s{k:02d}.wav", y, SR)
        waves.append(y)
    return root, waves


@pytest.mark.parametrize("copy", [True, False])
def test_evaluate_audio_reports_features_and_catches_copies(reference, tmp_path, copy):
    root, waves = reference
    from musegan.io.audio import read_audio

    played = [read_audio(p, SR)[0][0] for p in sorted(root.glob("*.wav"))]
    lines = []
    r = evaluate_audio(tmp_path, root, tmp_path / "ev.json", num=6, seconds=2.0, model=CopyingModel(played, copy),
                       log=lines.append)
    saved = json.loads((tmp_path / "ev.json").read_text())
    nn = saved["nearest_neighbour"]["generated_to_reference"]
    assert nn["segments"] >= 6
    if copy:
        assert nn["copies"] >= nn["segments"] // 2 and nn["min"] < COPY_THRESHOLD
    else:
        assert nn["copies"] == 0 and nn["min"] > COPY_THRESHOLD
    f = saved["features"]
    assert f["frechet_generated_vs_reference"] >= 0 and f["frechet_reference_half_vs_half"] >= 0
    c = f["classifier_two_sample_test"]
    if not copy:  # noise against decaying tones: told apart
        assert c["accuracy"] > 0.8, c
    assert "nearest-neighbour distance" in lines[0] and r["generated_vs_reference"]["all_frames"] > 0
