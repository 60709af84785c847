"""Audio end to end: WAV folder -> prepared spectrogram shards -> each family trained ->
WAV generated at 44.1 kHz; and the pieces: the encoder, the dataset, the Gaussian head,
the Frechet distance."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

import musegan
from musegan.cli import main
from musegan.config import DataConfig
from musegan.data.audio import SpectrogramDataset, corpus_stats, encode_audio_file, spectrogram_settings
from musegan.data.dataset import PreparedCorpus
from musegan.data.prepare import prepare_corpus
from musegan.io.midi import UnreadableFile
from musegan.metrics import frechet_distance
from musegan.models.base import GaussianHead

from conftest import link_files

SR = 44100
AUDIO = DataConfig(kind="audio")


def tone(path, seconds=0.5, sr=SR, freq=440.0, channels=1, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    y = np.stack([amp * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(channels)], axis=1)
    sf.write(path, y.astype(np.float32), sr)
    return path


def test_encoder_gives_log_mel_frames_at_44k_and_their_sums(tmp_path):
    frames, header = encode_audio_file(tone(tmp_path / "a.wav", 0.5, sr=48000), AUDIO)
    n = round(0.5 * SR)  # resampled to 44.1 kHz first
    assert frames.dtype == np.float16 and frames.shape == (1 + n // 512, 128) == (header["n_frames"], 128)
    assert header["seconds"] == pytest.approx(0.5, abs=1e-3)
    f = frames.astype(np.float64)  # the sums are of the float32 values: close to the stored float16 ones
    assert header["sum"] == pytest.approx(f.sum(), rel=1e-3)
    assert header["sum_sq"] == pytest.approx((f * f).sum(), rel=1e-3)
    loudest = np.argmax(frames[len(frames) // 2])  # 440 Hz sits in a low mel band
    assert 5 < loudest < 40


def test_encoder_keeps_channels_by_config_and_refuses_silence(tmp_path):
    stereo = DataConfig(kind="audio", channels=2, spectrogram="stft", n_fft=512, hop_length=128)
    frames, header = encode_audio_file(tone(tmp_path / "mono.wav"), stereo)
    assert frames.shape[1] == 2 * 257 and header["source_channels"] == 1
    np.testing.assert_array_equal(frames[:, :257], frames[:, 257:])  # mono copied to both channels
    frames, _ = encode_audio_file(tone(tmp_path / "st.wav", channels=2), stereo)
    assert not np.array_equal(frames[:, :257], frames[:, 257:])
    frames, header = encode_audio_file(tone(tmp_path / "click.wav", 0.01), AUDIO)  # 441 samples < n_fft / 2
    assert frames.shape == (1 + (2048 // 2 + 1) // 512, 128) and np.isfinite(frames.astype(np.float32)).all()
    sf.write(tmp_path / "silent.wav", np.zeros(1000, np.float32), SR)
    with pytest.raises(UnreadableFile, match="silent"):
        encode_audio_file(tmp_path / "silent.wav", AUDIO)


def test_prepare_audio_folder_shards_manifest_stats_and_cache(tmp_path):
    src = tmp_path / "wavs"
    src.mkdir()
    for i, (secs, freq) in enumerate([(0.3, 220.0), (2.0, 330.0), (0.8, 880.0)]):
        tone(src / f"t{i}.wav", secs, freq=freq)
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    m = prepare_corpus(src, tmp_path / "prep", AUDIO, progress=False)
    assert m["encoding"]["kind"] == "audio" and m["summary"]["ok"] == 3 and m["summary"]["skipped"] == 1
    bad = [e for e in m["files"] if e["status"] == "skipped"][0]
    assert bad["path"].endswith("broken.wav") and bad["reason"]
    corpus = PreparedCorpus(tmp_path / "prep")
    assert corpus.kind == "audio"
    frames = [np.asarray(corpus.rows(i), np.float64) for i in range(len(corpus))]
    assert [len(f) for f in frames] == [e["n_frames"] for e in corpus.entries]
    allf = np.concatenate(frames)
    stats = corpus_stats(corpus.entries, spectrogram_settings(AUDIO))
    assert stats["shift"] == pytest.approx(allf.mean(), abs=1e-2) and stats["scale"] == pytest.approx(allf.std(), rel=1e-2)
    again = prepare_corpus(src, tmp_path / "prep", AUDIO, progress=False)  # cached: the same entries
    assert [e.get("shard") for e in again["files"]] == [e.get("shard") for e in m["files"]]


def test_spectrogram_windows_run_across_files_and_the_end_is_padded_with_silence(tmp_path):
    src = tmp_path / "wavs"
    src.mkdir()
    tone(src / "a_short.wav", 0.2)
    tone(src / "b_long.wav", 3.0, freq=300.0)
    prepare_corpus(src, tmp_path / "prep", AUDIO, progress=False)
    corpus = PreparedCorpus(tmp_path / "prep")
    stats = corpus_stats(corpus.entries, spectrogram_settings(AUDIO))
    a, b = (np.asarray(corpus.rows(i), np.float32) for i in (0, 1))
    stream = (np.concatenate([a, b]) - stats["shift"]) / stats["scale"]
    ds = SpectrogramDataset(corpus, [0, 1], 64, 32, stats)
    assert len(ds) == (len(stream) - 64) // 32 + 1
    for i in range(len(ds)):  # each window is the stream's, whichever files it spans
        np.testing.assert_allclose(ds[i].numpy(), stream[32 * i:32 * i + 64], rtol=1e-5, atol=1e-5)
    short = SpectrogramDataset(corpus, [0], 64, 32, stats)  # shorter than a window: silence after it
    x, n = short[0].numpy(), len(a)
    assert len(short) == 1 and x.shape == (64, 128)
    np.testing.assert_allclose(x[:n], stream[:n], rtol=1e-5, atol=1e-5)
    silence = (np.log(stats["eps"]) - stats["shift"]) / stats["scale"]
    np.testing.assert_allclose(x[n:], silence, rtol=1e-6)
    jit = SpectrogramDataset(corpus, [0, 1], 64, 32, stats, jitter=True, seed=1)
    assert torch.equal(jit[0], jit[0]) and not all(torch.equal(jit[i], jit[i + len(jit)]) for i in range(len(jit)))
    for i in range(len(jit)):  # a window of the stream that starts within its hop
        x = jit[i].numpy()
        assert any(np.allclose(x, stream[s:s + 64], atol=1e-5) for s in range(32 * i, min(32 * i + 32, len(stream) - 63)))


def test_gaussian_head_nll_is_the_normal_density_and_t0_is_the_mean():
    torch.manual_seed(0)
    head = GaussianHead(8, 5)
    h, x = torch.randn(2, 3, 8), torch.randn(2, 3, 5)
    mean, log_scale = head.params(h)
    expect = -torch.distributions.Normal(mean, log_scale.exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(head.nll(h, x), expect)
    torch.testing.assert_close(head.sample(h[:, 0], temperature=0), mean[:, 0])
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([head.sample(h[:, 0], 1.0, g) for _ in range(4000)])
    torch.testing.assert_close(draws.std(0), log_scale[:, 0].exp(), rtol=0.06, atol=0)


def test_frechet_distance_closed_form_in_one_dimension():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (20000, 1)), rng.normal(2, 3, (20000, 1))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(2**2 + (1 - 3) ** 2, rel=0.03)  # |dmu|^2 + (s_a - s_b)^2
    c = rng.normal(0, 1, (5000, 16))
    assert frechet_distance(c, c + 0.5) == pytest.approx(16 * 0.25, rel=1e-6)


# ------------------------------------------------------------------ end to end, real WAVs

TINY = ["model.hidden_size=32", "model.num_layers=1", "train.batch_size=4", "train.valid_batches=2",
        "train.samples=1", "train.sample_seconds=0.5", "data.window_frames=64", "data.n_mels=64",
        "train.checkpoint_every=6", "train.valid_every=6"]


@pytest.fixture(scope="module")
def wavs(data_dir, tmp_path_factory):
    files = sorted((data_dir / "wav" / "sonic_pi_samples" / "samples").glob("*.wav"))[::13]
    return link_files(files, tmp_path_factory.mktemp("sonic") / "wavs")


@pytest.fixture(scope="module")
def runs(wavs, tmp_path_factory):
    root = tmp_path_factory.mktemp("audio_runs")
    sets = {"lstm": TINY, "conv": TINY[1:] + ["model.hidden_size=16", "model.num_layers=2"],
            "gan": ["model.dim=4", "train.batch_size=4", "train.samples=1", "train.sample_seconds=0.5",
                    "data.window_frames=64", "data.n_mels=64", "train.checkpoint_every=6"]}
    out = {}
    for family, overrides in sets.items():
        config = musegan.make_config(family, corpus=wavs, overrides=overrides, steps=6)
        out[family] = musegan.train(wavs, root / family, config, progress=False, log=lambda *_: None)
    return out


@pytest.mark.parametrize("family", ["lstm", "conv", "gan"])
def test_each_family_trains_on_wavs_and_generates_44k_audio(runs, family, tmp_path):
    run = runs[family]
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["kind"] == "audio"
    assert [p.name for p in sorted((run / "samples").glob("*.wav"))] == ["step000006-0.wav"]
    for name, seed in (("a.wav", 0), ("b.wav", 0), ("c.wav", 1)):
        assert main(["generate", str(run), "--out", str(tmp_path / name), "--seconds", "1.5", "--seed", str(seed)]) == 0
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.wav", "b.wav", "c.wav"))
    assert a == b and a != c  # same seed, same file
    y, sr = sf.read(tmp_path / "a.wav")
    assert sr == 44100 and y.ndim == 1 and len(y) == round(1.5 * 44100)
    assert 0 < np.abs(y).max() <= 1.0


def test_api_returns_waveform_and_rate(runs):
    model = musegan.load(runs["lstm"])
    assert isinstance(model, musegan.AudioModel)
    y, sr = model.generate(seconds=0.75, seed=2, temperature=0.5)
    assert sr == 44100 and y.dtype == np.float32 and y.shape == (round(0.75 * 44100),)
    y2, _ = model.generate(seconds=0.75, seed=2, temperature=0.5)
    np.testing.assert_array_equal(y, y2)


def test_resume_continues_an_audio_run(runs, wavs, tmp_path):
    config = musegan.make_config("lstm", corpus=wavs, overrides=TINY, steps=9)
    out = musegan.train(wavs, runs["lstm"], config, resume=True, progress=False, log=lambda *_: None)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 9


def test_audio_cli_errors_are_one_line(runs, wavs, tmp_path, capsys):
    run = str(runs["lstm"])
    assert main(["generate", run, "--out", str(tmp_path / "x.mid")]) == 2
    assert "expected a .wav file" in capsys.readouterr().err
    assert main(["generate", run, "--out", str(tmp_path / "x.wav"), "--bars", "4"]) == 2
    err = capsys.readouterr().err
    assert "--seconds" in err and len(err.strip().splitlines()) == 1
    assert main(["generate", run, "--out", str(tmp_path / "x.wav"), "--seconds", "0"]) == 2
    assert main(["train", "--corpus", str(wavs), "--set", "data.kind=midi", "--out", str(tmp_path / "r")]) == 2
    assert "found from its files" in capsys.readouterr().err


def test_evaluate_audio_reports_frechet_distances(runs, wavs, tmp_path):
    assert main(["evaluate", str(runs["lstm"]), "--reference", str(wavs), "--num", "2", "--seconds", "1",
                 "--out", str(tmp_path / "ev.json")]) == 0
    r = json.loads((tmp_path / "ev.json").read_text())
    assert r["generated"]["clips"] == 2 and r["reference"]["files"] >= 10
    assert r["generated_vs_reference"]["all_frames"] > 0 and r["reference_half_vs_half"]["all_frames"] > 0
