"""The audio GAN family: SpecGAN (Donahue, McAuley, Puckette, "Adversarial Audio
Synthesis", ICLR 2019), fixed-size spectrogram patches.

A batch of frames ``(B, T, F)`` (``T = n_frames``, ``F = n_channels * n_bins``,
channel-major: feature ``c * n_bins + k``) is seen as images ``(B, C, n_bins, T)``.
The frames are log-magnitude (log-mel) values already normalized by one corpus-wide
shift and scale; SpecGAN normalizes again per bin, as the paper does: each
(channel, bin) to zero mean and unit variance (statistics from the data in
``init_from_data``, kept as the buffers ``bin_mean`` and ``bin_std`` so a checkpoint
restores them), clipped to ``+-clip_std`` and scaled to ``[-1, 1]``.

Generator (DCGAN-like): a latent ``z`` (uniform in ``[-1, 1]``, as the paper's) ->
dense -> ``(16d, n_bins / 32, n_frames / 32)`` -> five transposed convolutions
(kernel 5, stride 2, ReLU; the last one tanh) -> ``(C, n_bins, n_frames)``. The critic
mirrors it: five strided convolutions (kernel 5, stride 2, LeakyReLU 0.2, no batch
norm) -> dense -> a score. The width ``d`` is ``dim``: the paper's 64 for a GPU; the
default 8 for a CPU (a training step of 64 patches of 128 x 128 on one thread: about
1.35 s at 8, 0.65 s at 4, 2.7 s at 16; the layers at full and half resolution, whose
cost grows only linearly with ``d``, take most of it).

Training: WGAN-GP (Gulrajani et al. 2017), the paper's settings: gradient penalty
``gp_weight`` 10, ``n_critic`` 5 critic updates per generator update, Adam lr 1e-4,
betas 0.5/0.9, batch 64 (``train_defaults`` for a new run). Each training step is a
critic phase on its batch; every ``n_critic``-th adds a generator phase (see
``gan.WGANGP``, shared with the MuseGAN).

Generation of any length: patches drawn independently, each overlapping the one
before by ``crossfade`` frames, joined with a linear crossfade and cut to length. The
SpecGAN does not continue a primer (``generate`` raises if given one); ``temperature``
scales the latents (0: the zero latent), and so does ``top_p`` (a spectrogram has no
discrete choices to cut).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MuseganError
from .base import BatchNoise
from .gan import WGANGP


@dataclass
class SpecGANConfig:
    # set from the data by the trainer
    n_features: int = 0
    n_channels: int = 0  # audio channels
    n_bins: int = 0  # frequency bins per channel: a multiple of 32
    n_frames: int = 0  # frames per patch: a multiple of 32
    # the model
    z_dim: int = 100
    dim: int = 8  # width d: channels d .. 16d (the paper's 64; 8 trains on a CPU)
    # training (the paper's WGAN-GP settings)
    gp_weight: float = 10.0
    n_critic: int = 5
    beta1: float = 0.5
    beta2: float = 0.9
    clip_std: float = 3.0  # per-bin normalized values clipped to +-clip_std, then scaled to [-1, 1]
    # generation
    crossfade: int = 8  # frames over which consecutive patches are crossfaded (0 .. n_frames / 2)

    # the paper's optimiser and batch; the trainer's settings for a new run of this family
    train_defaults: ClassVar[dict] = {"batch_size": 64, "lr": 1e-4, "warmup": 0, "grad_clip": 0.0}


def _check(c: SpecGANConfig) -> None:
    if min(c.n_channels, c.n_bins, c.n_frames) < 1:
        raise MuseganError("the SpecGAN needs n_channels, n_bins and n_frames from the data")
    if c.n_features != c.n_channels * c.n_bins:
        raise MuseganError(f"model.n_features={c.n_features} is not channels x bins ({c.n_channels} x {c.n_bins})")
    for name in ("n_bins", "n_frames"):
        if getattr(c, name) % 32:
            raise MuseganError(f"model.{name}={getattr(c, name)}: the SpecGAN needs a multiple of 32")
    if min(c.dim, c.z_dim, c.n_critic) < 1 or c.clip_std <= 0:
        raise MuseganError("model.dim, model.z_dim, model.n_critic and model.clip_std must be positive")
    if not 0 <= c.crossfade <= c.n_frames // 2:
        raise MuseganError(f"model.crossfade={c.crossfade}: expected 0..{c.n_frames // 2} (half a patch)")


class SpecGenerator(nn.Module):
    """Latents ``(B, z_dim)`` -> images ``(B, C, n_bins, n_frames)`` in ``[-1, 1]``."""

    def __init__(self, c: SpecGANConfig):
        super().__init__()
        d = c.dim
        self.start = (16 * d, c.n_bins // 32, c.n_frames // 32)
        self.fc = nn.Linear(c.z_dim, math.prod(self.start))
        chans = [16 * d, 8 * d, 4 * d, 2 * d, d, c.n_channels]
        self.convs = nn.ModuleList(nn.ConvTranspose2d(a, b, 5, stride=2, padding=2, output_padding=1)
                                   for a, b in zip(chans, chans[1:]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z).view(-1, *self.start))
        for conv in self.convs[:-1]:
            h = F.relu(conv(h))
        return torch.tanh(self.convs[-1](h))


class SpecCritic(nn.Module):
    """Images ``(B, C, n_bins, n_frames)`` -> scores ``(B,)``."""

    def __init__(self, c: SpecGANConfig):
        super().__init__()
        d = c.dim
        chans = [c.n_channels, d, 2 * d, 4 * d, 8 * d, 16 * d]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 5, stride=2, padding=2) for a, b in zip(chans, chans[1:]))
        self.out = nn.Linear(16 * d * (c.n_bins // 32) * (c.n_frames // 32), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        return self.out(x.flatten(1)).squeeze(-1)


class SpecGANModel(WGANGP):
    family = "specgan"

    def __init__(self, config: SpecGANConfig):
        super().__init__()
        _check(config)
        self.config = config
        self.generator = SpecGenerator(config)
        self.critic = SpecCritic(config)
        bins = (config.n_channels, config.n_bins, 1)
        self.register_buffer("bin_mean", torch.zeros(bins))  # per-bin statistics: saved with the weights
        self.register_buffer("bin_std", torch.ones(bins))

    # -- frames and images -----------------------------------------------------------
    def to_images(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, T, F)`` -> images ``(B, C, n_bins, T)``."""
        c = self.config
        B, T, _ = frames.shape
        return frames.reshape(B, T, c.n_channels, c.n_bins).permute(0, 2, 3, 1)

    @staticmethod
    def to_frames(images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, n_bins, T)`` -> frames ``(B, T, C * n_bins)``."""
        return images.permute(0, 3, 1, 2).flatten(2)

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, n_frames, F)`` -> images in ``[-1, 1]``: per bin to zero mean and
        unit variance, clipped to ``+-clip_std``, scaled by ``1 / clip_std``."""
        if frames.shape[1] != self.config.n_frames:
            raise MuseganError(f"the SpecGAN takes patches of model.n_frames={self.config.n_frames} frames, "
                               f"not {frames.shape[1]}")
        clip = self.config.clip_std
        return ((self.to_images(frames) - self.bin_mean) / self.bin_std).clamp(-clip, clip) / clip

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Images in ``[-1, 1]`` ``(B, C, n_bins, T)`` -> frames ``(B, T, F)``: the inverse of
        ``normalize`` (exact for values within the clip range)."""
        return self.to_frames(images * self.config.clip_std * self.bin_std + self.bin_mean)

    def sample_latents(self, shape: tuple, device, generator=None, temperature: float = 1.0) -> torch.Tensor:
        """Latents ``(*shape, z_dim)``, uniform in ``[-temperature, temperature]``."""
        u = torch.rand(*shape, self.config.z_dim, device=device, generator=generator)
        return (2 * u - 1) * temperature

    # -- the trainer's interface ----------------------------------------------------
    @torch.no_grad()
    def init_from_data(self, batch: torch.Tensor) -> None:
        """Per-bin mean and standard deviation of training frames ``(1, N, F)``."""
        x = batch.reshape(-1, self.config.n_features).float()
        self.bin_mean.copy_(x.mean(0).view_as(self.bin_mean))
        self.bin_std.copy_(x.std(0, correction=0).clamp_min(1e-3).view_as(self.bin_std))

    def real(self, batch: torch.Tensor) -> torch.Tensor:
        return self.normalize(batch.float())

    def fake(self, real: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        return self.generator((2 * noise.rand(self.config.z_dim) - 1))  # uniform latents in [-1, 1]

    @torch.no_grad()
    def valid_step(self, batch: torch.Tensor, autocast, generator: torch.Generator | None = None) -> dict:
        """The critic's estimate of the Wasserstein distance on held-out patches (a
        diagnostic; there is no likelihood). Latents from ``generator`` (a CPU one)."""
        real = self.normalize(batch.float())
        with autocast():
            fake = self.fake(real, BatchNoise(generator, len(real), 0, len(real), real.device))
            w = self.critic(real).float().mean() - self.critic(fake).float().mean()
        return {"wasserstein": float(w), "patches": real.shape[0]}

    # -- generation ----------------------------------------------------------------
    @torch.no_grad()
    def generate(self, n: int, steps: int, primer: torch.Tensor | None = None, temperature: float = 1.0,
                 generator: torch.Generator | None = None, top_p: float = 1.0, **_) -> torch.Tensor:
        """``n`` pieces of ``steps`` frames: ``(n, steps, F)`` float frames on the CPU, in
        the space of the training batches (the per-bin normalization undone).

        Patches of ``n_frames`` start every ``n_frames - crossfade`` frames; where two
        overlap, the earlier fades out linearly as the later fades in. All latents are
        drawn first, so a seeded ``generator`` gives the same output."""
        if primer is not None:
            raise MuseganError("the SpecGAN does not continue a primer")
        c = self.config
        device = next(self.parameters()).device
        W, X = c.n_frames, c.crossfade
        hop = W - X
        k = 1 + max(0, math.ceil((steps - W) / hop))  # patches
        z = self.sample_latents((k, n), device, generator, temperature * top_p)
        ramp = torch.arange(1, X + 1, device=device) / (X + 1)  # the later patch's weights over an overlap
        out = torch.zeros(n, c.n_channels, c.n_bins, W + (k - 1) * hop, device=device)
        for i in range(k):
            weight = torch.ones(W, device=device)
            if i > 0:
                weight[:X] = ramp
            if i < k - 1:
                weight[W - X :] = ramp.flip(0)
            out[..., i * hop : i * hop + W] += self.generator(z[i]).float() * weight
        return self.denormalize(out[..., :steps]).cpu()
