"""Phase reconstruction (PGHI, PGHI-started fast Griffin-Lim) and the round-trip distances."""
import numpy as np
import pytest
import torch

from musegan.representations import spectrogram as S

torch.set_num_threads(1)
SR = 44100


def mixture(seconds=1.0, seed=0):
    """A chirp, two steady sines and a few decaying clicks."""
    t = torch.arange(int(seconds * SR), dtype=torch.float32) / SR
    y = 0.3 * torch.sin(2 * np.pi * (200 + 800 * t) * t) + 0.1 * torch.sin(2 * np.pi * 3000 * t)
    y = y + 0.05 * torch.sin(2 * np.pi * 440 * t + 1.0)
    g = torch.Generator().manual_seed(seed)
    for start in (0.2, 0.55):
        i = int(start * seconds * SR)
        burst = torch.randn(2000, generator=g) * torch.exp(-torch.arange(2000) / 300.0)
        y[i:i + 2000] += 0.2 * burst
    return y


@pytest.fixture(scope="module")
def mag():
    return S.magnitude(mixture())


def sc_of(mag, y):
    return float(S.spectral_convergence(mag, S.magnitude(y)))


def test_pghi_alone_is_close_to_32_random_start_iterations(mag):
    length = (mag.shape[-1] - 1) * S.HOP_LENGTH
    pghi_only = sc_of(mag, S.griffin_lim(mag, 0, init="pghi", length=length))
    assert pghi_only < 0.15, pghi_only  # no iteration at all
    assert pghi_only < 0.25 * sc_of(mag, S.griffin_lim(mag, 0, init="random", length=length))
    assert pghi_only < 0.7 * sc_of(mag, S.griffin_lim(mag, 8, init="random", length=length))
    assert pghi_only < 1.3 * sc_of(mag, S.griffin_lim(mag, 32, init="random", length=length))


def test_pghi_started_griffin_lim_beats_random_start_at_equal_iterations(mag):
    length = (mag.shape[-1] - 1) * S.HOP_LENGTH
    for n_iter in (8, 32):
        pg = sc_of(mag, S.griffin_lim(mag, n_iter, init="pghi", length=length))
        rnd = sc_of(mag, S.griffin_lim(mag, n_iter, init="random", length=length))
        assert pg < 0.6 * rnd, (n_iter, pg, rnd)
    assert sc_of(mag, S.griffin_lim(mag, 32, length=length)) < 0.06  # the default start is PGHI


def test_pghi_phase_gradient_signs():
    """A steady sine: PGHI's phase advances by 2 pi f hop / sr per frame, as the true one."""
    f = 1000.0
    t = torch.arange(SR // 2, dtype=torch.float32) / SR
    spec = S.stft(torch.sin(2 * np.pi * f * t))
    k = int(round(f * S.N_FFT / SR))
    phase = S.pghi(spec.abs())
    true_step = torch.angle(spec[k, 11:30] * spec[k, 10:29].conj())
    est_step = torch.angle(torch.polar(torch.ones(19), phase[k, 11:30] - phase[k, 10:29]))
    assert torch.allclose(est_step, true_step, atol=0.05)
    # across frequency at one frame the phase of a sine's main lobe alternates by about pi (frames start n_fft/2 early)
    d = torch.angle(spec[k + 1, 20] * spec[k, 20].conj())
    e = torch.angle(torch.polar(torch.tensor(1.0), phase[k + 1, 20] - phase[k, 20]))
    assert abs(float(torch.angle(torch.polar(torch.tensor(1.0), d - e)))) < 0.3


def test_pghi_batched_and_silence():
    y = torch.stack([mixture(0.3), torch.zeros(int(0.3 * SR))])
    mag = S.magnitude(y)
    phase = S.pghi(mag)
    assert phase.shape == mag.shape and torch.isfinite(phase).all()
    assert torch.allclose(phase[0], S.pghi(mag[0]))
    out = S.griffin_lim(mag, 4, length=y.shape[-1])
    assert out.shape == y.shape and float(out[1].abs().max()) < 1e-6


def test_higher_redundancy_helps_pghi():
    y = mixture()
    scores = {}
    for hop in (512, 256):
        mag = S.magnitude(y, 2048, hop)
        rebuilt = S.griffin_lim(mag, 0, hop_length=hop, length=len(y))
        scores[hop] = float(S.spectral_convergence(mag, S.magnitude(rebuilt, 2048, hop)))
    assert scores[256] < scores[512], scores


def test_log_spectral_distance():
    y = mixture(0.5)
    m = S.magnitude(y)
    assert float(S.log_spectral_distance(m, m)) == 0.0
    assert float(S.log_spectral_distance(m, m * 10 ** (6 / 20))) > 5  # +6 dB everywhere: about 6 dB
    assert float(S.log_spectral_distance(m, m * 10 ** (6 / 20))) < 6.1


def test_multi_resolution_stft_distance_zero_then_grows_with_noise():
    y = mixture(0.5)
    assert float(S.multi_resolution_stft_distance(y, y)) == pytest.approx(0.0, abs=1e-6)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(y.shape, generator=g)
    d = [float(S.multi_resolution_stft_distance(y, y + a * noise)) for a in (0.001, 0.01, 0.1)]
    assert 0 < d[0] < d[1] < d[2], d
    total, parts = S.multi_resolution_stft_distance(y, y + 0.01 * noise, details=True)
    assert sorted(parts) == [512, 1024, 2048]
    assert float(total) == pytest.approx(float(sum(a + b for a, b in parts.values())) / 3, rel=1e-5)
    batch = S.multi_resolution_stft_distance(torch.stack([y, y]), torch.stack([y, y + 0.1 * noise]))
    assert batch.shape == (2,) and float(batch[0]) < 1e-6 < float(batch[1])
