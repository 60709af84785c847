"""The SpecGAN family: image shapes, size checks, the per-bin normalization and its
inverse, the WGAN-GP update order, crossfaded generation of any length, and a small
learning check."""
import contextlib

import pytest
import torch
from torch import nn

from musegan.errors import MuseganError
from musegan.models.specgan import SpecGANConfig, SpecGANModel
from musegan.training import Trainer

C, H, T = 2, 32, 64  # channels, bins, frames per patch


def small(channels=C, bins=H, frames=T, **kw):
    kw = {"z_dim": 8, "dim": 2, **kw}
    c = SpecGANConfig(n_features=channels * bins, n_channels=channels, n_bins=bins, n_frames=frames, **kw)
    torch.manual_seed(0)
    return SpecGANModel(c)


def patches(b, frames=T, seed=0):
    """Frames ``(b, frames, C * H)`` whose per-bin means and spreads differ."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.linspace(-2, 2, C * H)
    std = torch.linspace(0.2, 1.5, C * H)
    return mean + std * torch.randn(b, frames, C * H, generator=g)


def train_config(lr=1e-3):
    return type("T", (), {"lr": lr})()


@pytest.mark.parametrize("channels, bins, frames", [(1, 32, 32), (2, 64, 32), (1, 32, 96)])
def test_shapes(channels, bins, frames):
    m = small(channels, bins, frames)
    x = torch.randn(3, frames, channels * bins)
    images = m.to_images(x)
    assert images.shape == (3, channels, bins, frames)
    assert images[1, channels - 1, 5, 7] == x[1, 7, (channels - 1) * bins + 5]  # channel-major features
    assert torch.equal(m.to_frames(images), x)
    fake = m.generator(m.sample_latents((3,), "cpu"))
    assert fake.shape == (3, channels, bins, frames) and fake.abs().max() <= 1
    assert m.critic(fake).shape == (3,)
    assert set(m.valid_step(x, contextlib.nullcontext)) == {"wasserstein", "patches"}
    assert m.generate(2, 5).shape == (2, 5, channels * bins)


@pytest.mark.parametrize("change, setting", [({"n_bins": 48, "n_features": 96}, "n_bins"),
                                             ({"n_frames": 40}, "n_frames"),
                                             ({"n_features": 60}, "n_features"),
                                             ({"crossfade": T // 2 + 1}, "crossfade")])
def test_bad_sizes_raise(change, setting):
    c = SpecGANConfig(**{"n_features": C * H, "n_channels": C, "n_bins": H, "n_frames": T, **change})
    with pytest.raises(MuseganError, match=setting):
        SpecGANModel(c)


def test_a_patch_of_another_length_or_a_primer_is_refused():
    m = small()
    with pytest.raises(MuseganError, match="n_frames"):
        m.normalize(torch.zeros(1, T + 32, C * H))
    with pytest.raises(MuseganError, match="primer"):
        m.generate(1, T, primer=torch.zeros(4, C * H))


def test_per_bin_normalization_round_trips_and_is_saved():
    m = small(clip_std=3.0)
    x = patches(16)
    m.init_from_data(x[None].flatten(1, 2))
    assert torch.allclose(m.bin_mean.flatten(), torch.linspace(-2, 2, C * H), atol=0.2)
    y = m.normalize(x)
    assert y.abs().max() <= 1 and (y.abs() == 1).any()  # some values clipped at 3 std
    per_bin = y.permute(1, 2, 0, 3).flatten(2)  # (C, H, B * T)
    assert per_bin.mean(-1).abs().max() < 0.05 and torch.allclose(per_bin.std(-1), torch.full((C, H), 1 / 3), atol=0.03)
    back = m.denormalize(y)
    inside = (y.abs() < 1)
    assert torch.allclose(back[m.to_frames(inside)], x[m.to_frames(inside)], atol=1e-5)

    fresh = small(clip_std=3.0)
    assert {"bin_mean", "bin_std"} <= set(m.state_dict())
    fresh.load_state_dict(m.state_dict())
    assert torch.equal(fresh.normalize(x), y)


def test_wgan_gp_updates_the_critic_each_step_and_the_generator_every_n_critic():
    m = small(n_critic=3)
    m.init_from_data(patches(8)[None].flatten(1, 2))
    opts = m.configure_optimizers(train_config())
    assert opts["critic"].defaults["betas"] == (0.5, 0.9) and SpecGANConfig.train_defaults["lr"] == 1e-4
    order = []
    for name, opt in opts.items():
        real_step = opt.step
        opt.step = lambda *a, _n=name, _s=real_step, **k: (order.append(_n), _s(*a, **k))[1]
    x = patches(4)
    results = []
    trainer = Trainer(m, opts, torch.device("cpu"))
    for i in range(6):
        g0 = [p.clone() for p in m.generator.parameters()]
        c0 = [p.clone() for p in m.critic.parameters()]
        results.append(trainer.step(x, 1e-4))
        assert any(not torch.equal(a, b) for a, b in zip(c0, m.critic.parameters()))
        g_moved = any(not torch.equal(a, b) for a, b in zip(g0, m.generator.parameters()))
        assert g_moved == (i % 3 == 2)
    assert order == ["critic", "critic", "critic", "generator"] * 2
    assert set(results[0]) == {"loss", "wasserstein", "gp", "g_loss", "stop"} and results[0]["gp"] >= 0
    assert len({r["wasserstein"] for r in results}) == 6  # the critic's estimate moves
    assert results[1]["g_loss"] == 0 and results[2]["g_loss"] != 0
    assert int(m.critic_steps) == 6  # saved with the weights: a resumed run keeps the rhythm


class _Counter(nn.Module):
    """A stand-in generator: its i-th call returns patches filled with i."""

    def __init__(self, shape):
        super().__init__()
        self.shape, self.calls = shape, 0
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        self.calls += 1
        return torch.full((z.shape[0], *self.shape), float(self.calls - 1))


def test_patches_are_joined_with_a_linear_crossfade():
    m = small(clip_std=1.0, crossfade=8)  # unit statistics and clip: generate returns the patches as they are
    m.generator = _Counter((C, H, T))
    out = m.generate(2, 150)  # patches start every 56 frames: 3 patches
    assert out.shape == (2, 150, C * H) and m.generator.calls == 3
    level = out[0, :, 0]
    assert torch.equal(out, level[None, :, None].expand_as(out))
    ramp = torch.arange(1, 9) / 9
    assert torch.equal(level[:56], torch.zeros(56))
    assert torch.allclose(level[56:64], ramp) and torch.equal(level[64:112], torch.ones(48))
    assert torch.allclose(level[112:120], 1 + ramp) and torch.equal(level[120:], torch.full((30,), 2.0))
    m.generator.calls = 0
    assert m.generate(1, T).shape == (1, T, C * H) and m.generator.calls == 1


def test_generate_any_length_repeats_with_a_seed():
    m = small()
    m.init_from_data(patches(8)[None].flatten(1, 2))
    out = m.generate(2, 100, generator=torch.Generator().manual_seed(3))
    assert out.shape == (2, 100, C * H) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert torch.equal(out, m.generate(2, 100, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(out, m.generate(2, 100, generator=torch.Generator().manual_seed(4)))
    cold = [m.generate(1, 100, temperature=0, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    assert torch.equal(*cold)  # the zero latent
    # generated frames are in the space of the batches: their per-bin means follow the data's
    profile = m.generate(8, T).mean((0, 1))
    assert torch.corrcoef(torch.stack([profile, torch.linspace(-2, 2, C * H)]))[0, 1] > 0.9


def test_the_generator_learns_a_loudness_envelope():
    """Patches that start loud and fade (after the per-bin normalization, a pattern over
    time that only learning can give): after 30 generator updates the generated patches
    follow the envelope (correlation 0.46 to 0.98 over the trainer's noise seeds 0-7, six
    of eight above 0.85; 0.975 with this one)."""
    m = small(1, 32, 32, dim=4, n_critic=2)
    envelope = torch.linspace(2, -2, 32)
    x = envelope[None, :, None] + 0.3 * torch.randn(256, 32, 32, generator=torch.Generator().manual_seed(0))
    m.init_from_data(x[None].flatten(1, 2))
    opts = m.configure_optimizers(train_config(5e-3))

    def correlation():
        made = m.generate(64, 32, generator=torch.Generator().manual_seed(0)).mean((0, 2))
        return float(torch.corrcoef(torch.stack([made, envelope]))[0, 1])

    before = correlation()
    trainer = Trainer(m, opts, torch.device("cpu"), seed=3)
    for i in range(60):
        trainer.step(x[i % 16 * 16 : i % 16 * 16 + 16], 5e-3)
    after = correlation()
    assert after > 0.7 and after > before + 0.3
