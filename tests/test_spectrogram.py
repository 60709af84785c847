"""Spectrograms: normalization undone exactly, mel inverted by least squares, fast Griffin-Lim."""
import numpy as np
import pytest
import torch
import torchaudio

from musegan.io.audio import read_audio
from musegan.representations import spectrogram as S

SR = 44100


def chirp(seconds=0.5, channels=1):
    t = torch.arange(int(seconds * SR)) / SR
    y = 0.3 * torch.sin(2 * np.pi * (200 + 800 * t) * t) + 0.1 * torch.sin(2 * np.pi * 3000 * t)
    return torch.stack([y * (k + 1) / channels for k in range(channels)])


@pytest.fixture(scope="module")
def amen(data_dir):
    y, sr = read_audio(data_dir / "wav" / "sonic_pi_samples" / "samples" / "loop_amen.wav")
    return torch.from_numpy(y[0, : SR])  # the first second


@pytest.mark.parametrize("kind", ["stft", "mel"])
@pytest.mark.parametrize("norm", ["meanstd", "minmax"])
def test_to_spectrogram_shapes_and_undo(kind, norm):
    y = chirp(0.3, channels=2)
    spec, stats = S.to_spectrogram(y, SR, n_fft=1024, hop_length=256, n_mels=64, kind=kind, norm=norm)
    bins = 64 if kind == "mel" else 513
    assert spec.shape == (2, bins, 1 + y.shape[-1] // 256)
    if norm == "meanstd":
        assert abs(float(spec.mean())) < 1e-4 and abs(float(spec.std()) - 1) < 1e-3
    else:
        assert float(spec.min()) == pytest.approx(0, abs=1e-6) and float(spec.max()) == pytest.approx(1, abs=1e-6)
    assert all(isinstance(v, (int, float, str)) for v in stats.values())
    mag = S.from_spectrogram(spec, stats)
    direct = S.magnitude(y, 1024, 256)
    if kind == "mel":
        direct = torchaudio.transforms.MelSpectrogram(SR, n_fft=1024, hop_length=256, n_mels=64, power=1.0,
                                                      norm="slaney", mel_scale="slaney")(y)
        torch.testing.assert_close(S.to_mel(S.magnitude(y, 1024, 256), SR, 64), direct, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mag, direct, rtol=1e-3, atol=1e-4)
    again, _ = S.to_spectrogram(y[:1], SR, n_fft=1024, hop_length=256, n_mels=64, kind=kind, stats=stats)
    torch.testing.assert_close(again, spec[:1])  # a corpus's stats normalize another clip alike


def test_mel_to_linear_least_squares(amen):
    lin = S.magnitude(amen)
    mel = S.to_mel(lin, SR, 128)
    est = S.mel_to_linear(mel, SR, 2048)
    assert est.shape == lin.shape and float(est.min()) >= 0
    # consistent with the mel it came from, and far closer to the truth than a flat guess
    assert float(S.spectral_convergence(mel, S.to_mel(est, SR, 128))) < 0.05
    flat = torch.ones_like(lin) * lin.mean()
    assert float(S.spectral_convergence(lin, est)) < 0.6 * float(S.spectral_convergence(lin, flat))


def test_stft_istft_round_trip_batched():
    y = chirp(0.2, channels=3)
    back = S.istft(S.stft(y, 512, 128), 512, 128, length=y.shape[-1])
    torch.testing.assert_close(back, y, atol=1e-5, rtol=1e-4)


def test_spectral_convergence():
    a = torch.rand(2, 5, 7)
    assert torch.allclose(S.spectral_convergence(a, a), torch.zeros(2))
    assert float(S.spectral_convergence(a, torch.zeros_like(a))[0]) == pytest.approx(1.0)


def test_fast_griffin_lim_converges_and_beats_plain_on_a_real_recording(amen):
    mag = S.magnitude(amen)
    sc = {}
    for momentum in (0.0, 0.99):
        for n in (4, 24):
            y = S.griffin_lim(mag, n, momentum, length=amen.shape[-1], init="random")  # PGHI start: test_phase.py
            assert y.shape == amen.shape and torch.isfinite(y).all()
            sc[momentum, n] = float(S.spectral_convergence(mag, S.magnitude(y)))
    assert sc[0.99, 24] < sc[0.99, 4] and sc[0.0, 24] < sc[0.0, 4]  # more iterations, better
    assert sc[0.99, 24] < 0.85 * sc[0.0, 24]  # momentum: better at equal iterations
    assert sc[0.99, 24] < 0.2


def test_griffin_lim_batched_and_seeded():
    y = chirp(0.2, channels=2)
    mag = S.magnitude(y, 512, 128)
    out = S.griffin_lim(mag, 8, hop_length=128, seed=1)
    assert out.shape == (2, (mag.shape[-1] - 1) * 128)
    torch.testing.assert_close(out, S.griffin_lim(mag, 8, hop_length=128, seed=1))
    zeros = S.griffin_lim(mag[0], 8, hop_length=128, init="zeros")
    assert float(S.spectral_convergence(mag[0], S.magnitude(zeros, 512, 128))) < 0.5
    short = S.griffin_lim(torch.rand(1025, 2), 4, length=300)  # shorter than half a window
    assert short.shape == (300,) and torch.isfinite(short).all()
