"""The GAN family: MuseGAN (Dong, Hsiao, Yang, Yang, AAAI 2018), multi-track phrases.

A batch of frames ``(B, T, F)`` is seen as phrases ``(B, tracks, bars, steps, pitches)``
of the note-active bits; the onset bits are not modelled: a generated note starts
where its pitch turns on (given cells keep their own onsets).

Generator: a *temporal* generator maps a latent to one latent per bar, and a *bar*
generator maps the latents of a bar to its piano-roll. Three modes (the paper's):

* ``jamming``: each track its own latents, temporal and bar generators;
* ``composer``: one latent, one temporal generator, one bar generator for all tracks;
* ``hybrid``: a shared latent (and its temporal generator) and private ones per track,
  one bar generator per track.

Conditioning (the paper's track-conditional variant, generalised): a *known* part of
the phrase, given by a mask over ``(tracks, bars)``, is encoded (a per-bar encoder and
a bidirectional GRU across bars) into per-bar vectors that every bar generator reads,
plus per-step feature maps added as skip connections; the known cells are kept as
they are and the generator fills the others. Training draws random masks (none; some
tracks known = accompaniment; the first bars known = continuation), so one model
generates from scratch, accompanies given tracks, and continues a phrase. Generation
of any length chains phrases: each new phrase overlaps the previous one by
``overlap_bars`` bars, which it receives as known.

Training: WGAN-GP (Gulrajani et al. 2017), gradient penalty ``gp_weight``,
``n_critic`` critic updates per generator update. BinaryMuseGAN (Dong & Yang, IJCNN
2018): the generator's probabilities pass through *binary neurons* before the critic
reads them (``binary_neurons``: ``deterministic``, a 0.5 threshold, or ``stochastic``,
Bernoulli draws; the straight-through estimator passes the gradient back as if they
were the identity), so the critic compares 0/1 phrases with 0/1 phrases and a fuzzy
output (many notes at 0.2-0.4, which sampling sprinkles everywhere) is no longer
rewarded; generation binarizes the same way (``binarize="auto"``). ``none``: the critic
reads the probabilities (MuseGAN's way, the behaviour before). ``key_logits`` (opt-in)
adds a pitch-class logit per phrase to every track's notes: one key for the phrase.
A new run also learns in one key (``data.key=common``: each piece moved to C major / A
minor, generation moves it back into a key of the corpus), keeps a voice (a track the
corpus shows monophonic) to its likeliest pitch per step (``voices``), lets the critic
read where notes start (``critic_onsets``) and adds the note starts per step and track
to the generator's loss (``onset_penalty``), against notes cut into sixteenths.
Each training step is a critic
phase on its batch; every ``n_critic``-th step adds a generator phase (``phases``). A new run takes
the paper's Adam settings and batch (``train_defaults``: lr 1e-3, betas 0.5/0.9, batch
64); ``--lr``, ``--batch-size`` and ``--set`` still override them.

Use::

    musegan train --model gan --corpus midi/ --set model.mode=jamming   # or composer, hybrid
    musegan generate runs/midi-gan --bars 32 --out song.mid             # any number of bars
    musegan generate runs/midi-gan --primer bassline.mid --bars 4 --out band.mid
        # accompaniment: the primer's tracks kept, the other tracks generated along
        # them, then 4 more bars of every track
    musegan evaluate runs/midi-gan --reference midi/                    # musical metrics

``temperature`` scales the latents (0: the mean latent, notes by threshold);
``model.truncation`` > 0 draws them from a truncated normal; ``model.binarize`` picks
Bernoulli sampling of the output or a 0.5 threshold (``auto``: as in training).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MuseganError
from .base import BatchNoise, Phase
from .voices import nucleus_bits

MODES = ("jamming", "composer", "hybrid")
BINARY_NEURONS = ("deterministic", "stochastic", "none")


def binary_neurons(probs: torch.Tensor, mode: str, uniform: torch.Tensor | None = None) -> torch.Tensor:
    """Binary neurons with the straight-through estimator (BinaryMuseGAN): forward 0/1
    notes (``deterministic``: ``probs > 0.5``; ``stochastic``: ``uniform < probs``),
    backward the gradient of ``probs`` as if the neuron were the identity. ``none``:
    ``probs`` as they are."""
    if mode == "none":
        return probs
    hard = probs > 0.5 if mode == "deterministic" else uniform < probs
    return probs + (hard.to(probs.dtype) - probs).detach()


@dataclass
class GANConfig:
    # set from the data by the trainer
    n_features: int = 0
    steps_per_bar: int = 0
    n_tracks: int = 0
    n_channels: int = 0
    n_pitches: int = 0
    n_bars: int = 0  # bars per phrase (data.window_bars)
    # the model
    mode: str = "hybrid"  # jamming | composer | hybrid
    z_dim: int = 32  # size of each latent (shared, private; time-independent and per bar)
    hidden: int = 64  # channels of each bar generator (composer: twice this)
    cond_dim: int = 48  # size of the encoding of the known part
    critic_hidden: int = 96
    pitch_dim: int = 32  # critic and encoder: each track's pitches first projected to this size
    # training (the paper's WGAN-GP settings)
    gp_weight: float = 10.0
    n_critic: int = 5
    beta1: float = 0.5
    beta2: float = 0.9
    cond_tracks_p: float = 0.5  # share of training phrases with some tracks given (accompaniment)
    cond_bars_p: float = 0.5  # share with the first bars given (phrase continuation)
    # BinaryMuseGAN (Dong & Yang 2018): the critic judges 0/1 phrases, the generator's
    # output through binary neurons (forward: 0/1; backward: straight-through)
    binary_neurons: str = "deterministic"  # deterministic (at 0.5) | stochastic (Bernoulli) | none (probabilities)
    key_logits: bool = False  # a logit per pitch class and phrase added to every track's notes (see Generator)
    mono_tracks: tuple = ()  # set from the data: 1 for a track the corpus shows monophonic (a voice)
    voice_changes: tuple = ()  # set from the data: per track, the share of steps where what it plays changes
    voices: bool = False  # a voice plays one pitch or rests, its likeliest path (see voice_path), in training and generation
    critic_onsets: bool = False  # the critic also reads where notes start (the chroma of onsets per step)
    onset_penalty: float = 0.0  # generator loss + this x note starts per step and track (against blips)
    # generation
    binarize: str = "auto"  # auto (as in training) | bernoulli (sample the output) | threshold (at 0.5)
    truncation: float = 0.0  # > 0: latents redrawn until inside +-truncation
    overlap_bars: int = 0  # bars each chained phrase receives from the previous one; 0: half a phrase

    # the paper's optimiser and batch; the trainer's settings for a new run of this family
    train_defaults: ClassVar[dict] = {"batch_size": 64, "lr": 1e-3, "warmup": 0, "grad_clip": 0.0}
    # a new run learns in one key (pieces moved to C major / A minor; generation moves them
    # back into the corpus's keys), with voices, a critic that reads note starts and the
    # onset penalty; the field defaults above are what runs from before these had
    # (Nottingham, ~1,400 CPU-s: scale consistency 0.885 -> 0.985, melody notes of a
    # sixteenth 63% -> 3%; pop: 0.786 -> 0.943; benchmarks/musical/README.md)
    data_defaults: ClassVar[dict] = {"key": "common", "transpose": 0}
    model_defaults: ClassVar[dict] = {"voices": True, "critic_onsets": True, "onset_penalty": 0.5}


def _check(c: GANConfig) -> None:
    if c.mode not in MODES:
        raise MuseganError(f"model.mode={c.mode!r}: expected one of {', '.join(MODES)}")
    if c.binarize not in ("auto", "bernoulli", "threshold"):
        raise MuseganError(f"model.binarize={c.binarize!r}: expected auto, bernoulli or threshold")
    if c.binary_neurons not in BINARY_NEURONS:
        raise MuseganError(f"model.binary_neurons={c.binary_neurons!r}: expected one of {', '.join(BINARY_NEURONS)}")
    if min(c.n_tracks, c.n_channels, c.n_pitches, c.steps_per_bar, c.n_bars) < 1:
        raise MuseganError("the GAN needs n_tracks, n_channels, n_pitches, steps_per_bar and n_bars from the data")
    if c.n_features != c.n_tracks * c.n_channels * c.n_pitches:
        raise MuseganError(f"model.n_features={c.n_features} is not tracks x channels x pitches")
    if c.n_bars > 1 and not 0 <= c.overlap_bars < c.n_bars:
        raise MuseganError(f"model.overlap_bars={c.overlap_bars}: expected 0..{c.n_bars - 1}")


def voice_path(probs: torch.Tensor, change: float) -> torch.Tensor:
    """The likeliest line of a voice (Viterbi): ``probs`` ``(N, T, pitches)`` are read as
    a categorical per step over a rest and the pitches (the notes' mass, capped at 1,
    shared among the pitches in proportion; the rest takes what is left) under a prior
    that the voice changes what it plays at ``change`` of its steps (its corpus's rate)
    and holds otherwise, as a pitch tracker smooths its frames. Returns ``(N, T)`` states:
    0 a rest, ``1 + i`` pitch ``i``. A GAN's bar generator draws each step apart; this
    keeps a held note from breaking into sixteenths where neighbouring pitches are close."""
    eps = 1e-6
    mass = probs.sum(-1, keepdim=True)
    share = probs / mass.clamp(min=eps)
    cat = torch.cat([(1 - mass).clamp(min=0), mass.clamp(max=1) * share], -1)
    emit = torch.log(cat.clamp(min=eps))  # (N, T, 1 + pitches)
    change = min(max(change, 1e-3), 0.999)
    stay, move = math.log(1 - change), math.log(change / (emit.shape[-1] - 1))
    score = emit[:, 0]
    back = []
    for t in range(1, emit.shape[1]):
        best, arg = score.max(-1, keepdim=True)
        held = score + stay
        moved = best + move
        back.append(torch.where(held >= moved, torch.arange(emit.shape[-1], device=emit.device), arg))
        score = torch.maximum(held, moved) + emit[:, t]
    state = score.argmax(-1)
    path = [state]
    for b in reversed(back):
        state = b.gather(-1, state[:, None])[:, 0]
        path.append(state)
    return torch.stack(path[::-1], 1)


def note_starts(roll: torch.Tensor) -> torch.Tensor:
    """Rolls ``(..., steps, pitches)`` of note-active values -> where a note starts: on,
    and off the step before (a note on at the first step starts there)."""
    return roll * (1 - F.pad(roll, (0, 0, 1, 0))[..., :-1, :])


class _Norm(nn.GroupNorm):
    """Layer norm over ``(C, T)`` of ``(N, C, T)``: no running statistics, so the
    generator acts the same in training and in generation."""

    def __init__(self, channels: int):
        super().__init__(1, channels)


class TrackPitchProjection(nn.Module):
    """Each track's pitches ``(N, K, S, pitches)`` -> ``d`` features per track and step,
    with weights of its own per track: ``(N, K * d, S)``."""

    def __init__(self, n_tracks: int, n_pitches: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_tracks, n_pitches, d) / math.sqrt(n_pitches))
        self.bias = nn.Parameter(torch.zeros(n_tracks, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("nksp,kpd->nkds", x, self.weight) + self.bias[None, :, :, None]
        return h.flatten(1, 2)


class BarGenerator(nn.Module):
    """Latent of a bar ``(N, d_in)`` and per-step conditioning ``(N, E, S)`` ->
    logits ``(N, out, S)``."""

    def __init__(self, d_in: int, cond_dim: int, hidden: int, steps: int, out: int):
        super().__init__()
        self.hidden, self.steps = hidden, steps
        self.fc = nn.Linear(d_in, hidden * steps)
        self.norm0 = _Norm(hidden)
        self.conv1 = nn.Conv1d(hidden + cond_dim, hidden, 3, padding=1)
        self.norm1 = _Norm(hidden)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.norm2 = _Norm(hidden)
        self.out = nn.Conv1d(hidden, out, 1)

    def forward(self, z: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm0(self.fc(z).view(-1, self.hidden, self.steps)))
        h = F.relu(self.norm1(self.conv1(torch.cat([h, skip], 1))))
        h = F.relu(self.norm2(self.conv2(h))) + h
        return self.out(h)


class TemporalGenerator(nn.Module):
    """A latent ``(B, z)`` -> one latent per bar ``(B, bars, z)``."""

    def __init__(self, z_dim: int, bars: int):
        super().__init__()
        self.bars, self.z_dim = bars, z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, 4 * z_dim), nn.ReLU(), nn.Linear(4 * z_dim, bars * z_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.bars, self.z_dim)


class ConditionEncoder(nn.Module):
    """The known part of a phrase -> per-bar vectors ``(B, bars, E)`` and per-step
    maps ``(B * bars, E, S)``. Input: rolls ``(B, K, bars, S, pitches)`` (zeros where
    not known) and the mask ``(B, K, bars)``."""

    def __init__(self, c: GANConfig):
        super().__init__()
        K, E = c.n_tracks, c.cond_dim
        self.pitch = TrackPitchProjection(K, c.n_pitches, c.pitch_dim)
        self.conv1 = nn.Conv1d(K * c.pitch_dim + K, E, 3, padding=1)
        self.conv2 = nn.Conv1d(E, E, 3, padding=1)
        self.gru = nn.GRU(E, E // 2, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * (E // 2), E)

    def forward(self, roll: torch.Tensor, mask: torch.Tensor):
        B, K, P, S, _ = roll.shape
        x = self.pitch(roll.transpose(1, 2).flatten(0, 1))  # (B*P, K*d, S)
        m = mask.transpose(1, 2).reshape(B * P, K, 1).expand(-1, -1, S)
        h = F.leaky_relu(self.conv1(torch.cat([x, m.to(x.dtype)], 1)), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2) + h  # (B*P, E, S)
        bars, _ = self.gru(h.mean(-1).view(B, P, -1))
        return self.proj(bars), h


class Generator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        K, P, S, Z, D = c.n_tracks, c.n_bars, c.steps_per_bar, c.z_dim, c.n_pitches
        self.encoder = ConditionEncoder(c)
        shared, private = c.mode in ("composer", "hybrid"), c.mode in ("jamming", "hybrid")
        self.temporal = TemporalGenerator(Z, P) if shared else None
        self.temporal_private = nn.ModuleList(TemporalGenerator(Z, P) for _ in range(K)) if private else None
        d_in = c.cond_dim + (2 * Z if shared else 0) + (2 * Z if private else 0)
        if c.mode == "composer":
            self.bars = nn.ModuleList([BarGenerator(d_in, c.cond_dim, c.hidden * 2, S, K * D)])
        else:
            self.bars = nn.ModuleList(BarGenerator(d_in, c.cond_dim, c.hidden, S, D) for _ in range(K))
        # ``key_logits``: the key of a phrase, a logit per pitch class from its latents and
        # known part, added to every note of that pitch class in every bar (times a gain per
        # track); zeros at first
        self.key = self.key_gain = None
        if c.key_logits:
            self.key = nn.Linear(d_in, 12)
            nn.init.zeros_(self.key.weight), nn.init.zeros_(self.key.bias)
            self.key_gain = nn.Parameter(torch.ones(K))

    def add_key(self, logits: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K, P, S, pitches)`` + the phrase's key logits (from the mean latent)."""
        if self.key is None:
            return logits
        key = self.key(latent.mean((1, 2)))  # (B, 12)
        per_pitch = key[:, torch.arange(logits.shape[-1], device=key.device) % 12]  # (B, pitches)
        return logits + self.key_gain[None, :, None, None, None] * per_pitch[:, None, None, None, :]

    def latent_shapes(self, batch: int) -> dict:
        """The paper's four latents: shared (inter-track) and private (per track), each
        time-independent and one through a temporal generator; the mode picks."""
        c = self.c
        shapes = {}
        if c.mode in ("composer", "hybrid"):
            shapes["shared"] = shapes["shared_t"] = (batch, c.z_dim)
        if c.mode in ("jamming", "hybrid"):
            shapes["private"] = shapes["private_t"] = (batch, c.n_tracks, c.z_dim)
        return shapes

    def forward(self, z: dict, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Latents, known rolls ``(B, K, P, S, pitches)`` (zeros elsewhere), mask
        ``(B, K, P)`` -> logits ``(B, K, P, S, pitches)``."""
        B, K, P, S, D = known.shape
        cond, skip = self.encoder(known, mask)  # (B, P, E), (B*P, E, S)
        parts = [cond[:, None].expand(-1, K, -1, -1)]  # (B, K, P, E)
        if "shared" in z:
            shared = torch.cat([z["shared"][:, None].expand(-1, P, -1), self.temporal(z["shared_t"])], -1)
            parts.append(shared[:, None].expand(-1, K, -1, -1))
        if "private" in z:
            private = [torch.cat([z["private"][:, k, None].expand(-1, P, -1), g(z["private_t"][:, k])], -1)
                       for k, g in enumerate(self.temporal_private)]
            parts.append(torch.stack(private, 1))
        latent = torch.cat(parts, -1)  # (B, K, P, d_in)
        if self.c.mode == "composer":
            out = self.bars[0](latent[:, 0].reshape(B * P, -1), skip)  # (B*P, K*D, S)
            return self.add_key(out.view(B, P, K, D, S).permute(0, 2, 1, 4, 3), latent)
        outs = [g(latent[:, k].reshape(B * P, -1), skip).view(B, P, D, S) for k, g in enumerate(self.bars)]
        return self.add_key(torch.stack(outs, 1).transpose(-1, -2), latent)


class Critic(nn.Module):
    """Phrases ``(B, K, P, S, pitches)`` -> scores ``(B,)``. Each bar is read by
    convolutions over its steps (each track's pitches projected, and the chroma of its
    notes: their counts per pitch class); a convolution across bars reads the phrase."""

    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        K, H = c.n_tracks, c.critic_hidden
        self.pitch = TrackPitchProjection(K, c.n_pitches, c.pitch_dim)
        self.bar = nn.Sequential(
            nn.Conv1d(K * (c.pitch_dim + (24 if c.critic_onsets else 12)), H, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(H, H, 3, padding=1, stride=2), nn.LeakyReLU(0.2),
            nn.Conv1d(H, H, 3, padding=1, stride=2), nn.LeakyReLU(0.2),
        )
        self.phrase = nn.Sequential(nn.Conv1d(2 * H, H, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Linear(H * c.n_bars, 1)

    @staticmethod
    def chroma(x: torch.Tensor) -> torch.Tensor:
        """``(..., pitches)`` -> ``(..., 12)`` active notes per pitch class (of the pitch
        index: the same shift for every pitch)."""
        return F.pad(x, (0, (-x.shape[-1]) % 12)).unflatten(-1, (-1, 12)).sum(-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, K, P, S, _ = x.shape
        bars = x.transpose(1, 2).flatten(0, 1)  # (B*P, K, S, pitches)
        chroma = self.chroma(bars).permute(0, 1, 3, 2).flatten(1, 2)  # (B*P, K*12, S)
        parts = [self.pitch(bars), chroma]
        if self.c.critic_onsets:  # note starts (a note sounding at a bar's start starts there): rhythm in view
            parts.append(self.chroma(note_starts(bars)).permute(0, 1, 3, 2).flatten(1, 2))
        h = self.bar(torch.cat(parts, 1))  # (B*P, H, S')
        h = torch.cat([h.mean(-1), h.amax(-1)], -1).view(B, P, -1).transpose(1, 2)  # (B, 2H, P)
        return self.out(self.phrase(h).flatten(1)).squeeze(-1)


class WGANGP(nn.Module):
    """WGAN-GP training (Gulrajani et al. 2017) for a GAN family: a subclass has
    ``config`` (``gp_weight``, ``n_critic``, ``beta1``, ``beta2``), ``critic``,
    ``generator``, ``real(batch)`` (the batch as the critic reads it) and
    ``fake(real, noise)`` (generated counterparts, from ``BatchNoise``)."""

    has_likelihood = False  # no validation NLL: the trainer keeps the latest weights as best.pt
    conditions_on_future = False  # phrase by phrase: it accompanies given tracks, but cannot infill a span
    valid_unit = ""  # no validation NLL
    default_temperature = 1.0  # sampling, when none is given

    def __init__(self):
        super().__init__()
        self.register_buffer("critic_steps", torch.zeros((), dtype=torch.long))  # resumes with the weights
        self.register_buffer("last_g_loss", torch.zeros(()))

    def configure_optimizers(self, train) -> dict:
        betas = (self.config.beta1, self.config.beta2)
        return {
            "critic": torch.optim.Adam(self.critic.parameters(), lr=train.lr, betas=betas),
            "generator": torch.optim.Adam(self.generator.parameters(), lr=train.lr, betas=betas),
        }

    def phases(self) -> list[Phase]:
        """The next training step: a critic phase; every ``n_critic``-th step, then a
        generator phase (new latents)."""
        self.critic_steps += 1
        out = [Phase("critic", "critic")]
        if int(self.critic_steps) % self.config.n_critic == 0:
            out.append(Phase("generator", "generator"))
        return out

    def forward(self, batch: torch.Tensor, phase: str = "critic", noise: BatchNoise | None = None) -> dict:
        """The losses of one phase: ``critic``: ``D(fake) - D(real) + gp_weight * GP``;
        ``generator``: ``-D(fake)``. The trainer does backward and the update."""
        noise = noise or BatchNoise.local(batch)
        real = self.real(batch)
        if phase == "generator":
            fake = self.fake(real, noise)
            g_loss = -self.critic(fake).float().mean()
            self.last_g_loss.fill_(float(g_loss.detach()))
            return {"loss": g_loss + self.generator_penalty(fake), "g_loss": g_loss.detach()}
        with torch.no_grad():
            fake = self.fake(real, noise)
        d_real, d_fake = self.critic(real).float().mean(), self.critic(fake).float().mean()
        gp = self.gradient_penalty(real.float(), fake.float(), noise)
        return {"loss": d_fake - d_real + self.config.gp_weight * gp, "wasserstein": (d_real - d_fake).detach(),
                "gp": gp.detach(), "g_loss": self.last_g_loss.clone()}

    def generator_penalty(self, fake: torch.Tensor) -> torch.Tensor | float:
        """What a family adds to the generator's loss for its phrases ``fake`` (per
        phrase, so that a batch split across processes adds up the same); none here."""
        return 0.0

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, noise: BatchNoise | None = None):
        """``(|grad D(mix)| - 1)^2`` on random mixes of real and fake, in full precision."""
        noise = noise or BatchNoise.local(real)
        alpha = noise.rand(*([1] * (real.dim() - 1)))
        mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        with torch.autocast(mix.device.type, enabled=False):
            (grad,) = torch.autograd.grad(self.critic(mix).sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class GANModel(WGANGP):
    family = "gan"

    def __init__(self, config: GANConfig):
        super().__init__()
        _check(config)
        self.config = config
        self.generator = Generator(config)
        self.critic = Critic(config)

    # -- shapes ----------------------------------------------------------------------
    @property
    def overlap(self) -> int:
        c = self.config
        return c.overlap_bars or c.n_bars // 2

    def split(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, bars * S, F)`` -> ``(B, K, bars, S, channels, pitches)`` (a view)."""
        c = self.config
        B, T, _ = frames.shape
        x = frames.view(B, T // c.steps_per_bar, c.steps_per_bar, c.n_tracks, c.n_channels, c.n_pitches)
        return x.permute(0, 3, 1, 2, 4, 5)

    def to_phrases(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, bars * S, F)`` -> note-active bits ``(B, K, bars, S, pitches)``."""
        return self.split(frames)[..., 0, :]

    # -- sampling pieces -------------------------------------------------------------
    def sample_latents(self, batch: int, device, generator=None, temperature: float = 1.0) -> dict:
        out = {}
        t = self.config.truncation
        for name, shape in self.generator.latent_shapes(batch).items():
            z = torch.randn(shape, device=device, generator=generator)
            if t > 0:  # the truncation trick: redraw what falls outside +-t
                for _ in range(100):
                    bad = z.abs() > t
                    if not bad.any():
                        break
                    z = torch.where(bad, torch.randn(shape, device=device, generator=generator), z)
                z = z.clamp(-t, t)
            out[name] = z * temperature
        return out

    def random_mask(self, noise: BatchNoise) -> torch.Tensor:
        """Training masks ``(B, K, P)``: some tracks given, and/or the first bars given;
        never everything given."""
        c = self.config
        K, P = c.n_tracks, c.n_bars
        tracks = (noise.rand(K) < 0.5) & (noise.rand(1) < c.cond_tracks_p)
        full = tracks.all(1)
        free = noise.randint(0, K)
        tracks[full, free[full]] = False  # free one track
        first = noise.randint(1, max(P, 2), 1)
        use_bars = (noise.rand(1) < c.cond_bars_p) & (P > 1)
        bars = (torch.arange(P, device=tracks.device)[None] < first) & use_bars  # (B, P)
        return tracks[:, :, None] | bars[:, None, :]

    def training_latents(self, noise: BatchNoise) -> dict:
        return {name: noise.randn(*shape[1:]) for name, shape in self.generator.latent_shapes(1).items()}

    def compose(self, real: torch.Tensor, mask: torch.Tensor, z: dict) -> torch.Tensor:
        """Probabilities of a phrase ``(B, K, P, S, pitches)``: the known cells of
        ``real`` as they are, the generator's output elsewhere."""
        m = mask[..., None, None].to(real.dtype)
        known = real * m
        probs = torch.sigmoid(self.generator(z, known, mask).float())
        if self.config.voices and any(self.config.mono_tracks):
            probs = self.voice_notes(probs)
        return known + (1 - m) * probs

    def voice_notes(self, probs: torch.Tensor) -> torch.Tensor:
        """``probs`` ``(B, K, P, S, pitches)`` with each voice track's replaced by its path
        (:func:`voice_path`): 1 on the pitch it plays and 0 elsewhere; backward, the
        identity (straight-through, as the binary neurons)."""
        c = self.config
        B, K, P, S, D = probs.shape
        out = []
        for k in range(K):
            if not (k < len(c.mono_tracks) and c.mono_tracks[k]):
                out.append(probs[:, k])
                continue
            change = float(c.voice_changes[k]) if k < len(c.voice_changes) else 0.25
            path = voice_path(probs[:, k].reshape(B, P * S, D).detach(), change).view(B, P, S)
            played = F.one_hot(path, D + 1)[..., 1:].to(probs.dtype)  # state 0: a rest
            out.append(probs[:, k] + (played - probs[:, k]).detach())
        return torch.stack(out, 1)

    # -- the trainer's interface ----------------------------------------------------
    @torch.no_grad()
    def init_from_data(self, batch: torch.Tensor) -> None:
        """Start the output biases at the data's note frequencies (notes are on ~1% of
        the time; sigmoid(0) = 0.5 would fill the first samples with noise)."""
        c = self.config
        p = self.to_phrases(batch.reshape(1, -1, c.n_features)).float().mean((0, 2, 3)).clamp(1e-3, 1 - 1e-3)
        logit = torch.log(p) - torch.log1p(-p)  # (K, pitches)
        if c.mode == "composer":
            self.generator.bars[0].out.bias.copy_(logit.reshape(-1))
        else:
            for k, g in enumerate(self.generator.bars):
                g.out.bias.copy_(logit[k])

    def real(self, batch: torch.Tensor) -> torch.Tensor:
        return self.to_phrases(batch.float())

    def fake(self, real: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        """A random mask (none; some tracks; the first bars) over ``real`` and the
        generator's phrases around what it keeps."""
        return self.binary(self.compose(real, self.random_mask(noise), self.training_latents(noise)), noise)

    def binary(self, probs: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        """The phrases the critic judges: ``probs`` through the binary neurons
        (``model.binary_neurons``; the stochastic ones draw their uniforms from ``noise``)."""
        mode = self.config.binary_neurons
        uniform = noise.rand(*probs.shape[1:]).to(probs.dtype) if mode == "stochastic" else None
        return binary_neurons(probs, mode, uniform)

    def generator_penalty(self, fake: torch.Tensor) -> torch.Tensor | float:
        """``onset_penalty`` x note starts per step and track (against notes cut into sixteenths)."""
        if not self.config.onset_penalty:
            return 0.0
        return self.config.onset_penalty * note_starts(fake.flatten(2, 3)).sum(-1).mean()

    @torch.no_grad()
    def valid_step(self, batch: torch.Tensor, autocast, generator: torch.Generator | None = None) -> dict:
        """The critic's estimate of the Wasserstein distance on held-out phrases (a
        diagnostic; there is no likelihood). Latents from ``generator`` (a CPU one)."""
        real = self.to_phrases(batch.float())
        mask = torch.zeros(real.shape[:3], dtype=torch.bool, device=real.device)
        noise = BatchNoise(generator, len(real), 0, len(real), real.device)
        with autocast():
            fake = self.binary(self.compose(real, mask, self.training_latents(noise)), noise)
            w = self.critic(real).float().mean() - self.critic(fake).float().mean()
        return {"wasserstein": float(w), "phrases": real.shape[0]}

    # -- generation ----------------------------------------------------------------
    @property
    def sampling(self) -> str:
        """How generation turns probabilities into notes: ``model.binarize``, or with
        ``auto`` the way the critic saw them in training."""
        c = self.config
        if c.binarize != "auto":
            return c.binarize
        return "threshold" if c.binary_neurons == "deterministic" else "bernoulli"

    def binarize(self, probs: torch.Tensor, temperature: float, generator=None, top_p: float = 1.0) -> torch.Tensor:
        """0/1 notes from the generator's probabilities: by threshold, or drawn (``top_p``
        < 1: a note whose likelier value holds ``top_p`` of the mass takes it). ``auto``: as
        the binary neurons of training (a threshold after deterministic ones)."""
        if self.sampling == "threshold" or temperature <= 0:
            return (probs > 0.5).to(probs.dtype)
        return torch.bernoulli(nucleus_bits(probs, top_p), generator=generator)

    @torch.no_grad()
    def generate(self, n: int, steps: int, primer: torch.Tensor | None = None, temperature: float = 1.0,
                 generator: torch.Generator | None = None, top_p: float = 1.0,
                 sounding_start: bool = False) -> torch.Tensor:
        """``n`` pieces of ``steps`` frames after an optional primer ``(T_p, F)``:
        ``(n, T_p + steps, F)`` 0/1 frames on the CPU. (``sounding_start``: the phrases
        of a GAN are drawn whole; a silent start is up to the model.)

        Phrases are chained: each starts ``bars - overlap`` bars after the one before
        and receives the overlap as known, so it continues it. Within the primer, its
        tracks that have notes are kept exactly (known cells) and the other tracks are
        generated to fit them: accompaniment. After the primer every track goes on.
        ``temperature`` scales the latents (0: the mean latent, notes by threshold);
        with Bernoulli sampling (``sampling``) the notes are drawn from the output."""
        c = self.config
        S, K = c.steps_per_bar, c.n_tracks
        t_p = 0 if primer is None else int(primer.shape[0])
        frames = torch.zeros(n, t_p + steps, c.n_features)
        known = torch.zeros(n, t_p + steps, K, dtype=torch.bool)
        if t_p:
            bars_p = math.ceil(t_p / S)
            frames[:, :t_p] = primer.float()
            padded = torch.zeros(1, bars_p * S, c.n_features)
            padded[:, :t_p] = primer.float()
            has_notes = self.to_phrases(padded)[0].flatten(1).amax(1) > 0  # (K,)
            known[:, : min(bars_p * S, t_p + steps), has_notes] = True
        return self.complete(frames, known, temperature, generator, top_p)

    @torch.no_grad()
    def complete(self, frames: torch.Tensor, known: torch.Tensor, temperature: float = 1.0,
                 generator: torch.Generator | None = None, top_p: float = 1.0, iterations=None) -> torch.Tensor:
        """Frames ``(B, T, F)`` with the cells of ``known`` ``(B, T, K)`` kept: a track's
        bar is given to the generator when all its steps are known (the others of that
        bar are drawn). Phrases are chained as in ``generate``; ``(B, T, F)`` on the CPU."""
        c = self.config
        device = next(self.parameters()).device
        S, P, K = c.steps_per_bar, c.n_bars, c.n_tracks
        n, total = frames.shape[0], frames.shape[1]
        starts = [0]
        while starts[-1] + P < math.ceil(total / S):
            starts.append(starts[-1] + max(1, P - self.overlap))
        alloc = starts[-1] + P
        given_frames = frames.to(device).float()
        frames = torch.zeros(n, alloc * S, c.n_features, device=device)
        frames[:, :total] = given_frames
        cells_known = torch.ones(n, alloc * S, K, dtype=torch.bool, device=device)
        cells_known[:, :total] = known.to(device).bool()
        cells_known[:, total:] = cells_known[:, total - 1 : total] if total else True  # the last bar's padding
        known = cells_known.view(n, alloc, S, K).all(2).transpose(1, 2)  # (n, K, bars)
        given = known.clone()  # the given cells: kept with their own onsets
        cells = self.split(frames)  # a view: writing it writes frames
        roll = cells[..., 0, :]
        done = 0  # bars [0, done) are complete for every track
        for s in starts:
            mask = known[:, :, s : s + P] | (torch.arange(P, device=device) < done - s)
            if not mask.all():
                probs = self.compose(roll[:, :, s : s + P], mask, self.sample_latents(n, device, generator, temperature))
                notes = self.binarize(probs, temperature, generator, top_p)
                roll[:, :, s : s + P] = torch.where(mask[..., None, None], roll[:, :, s : s + P], notes)
            done = s + P
        if c.n_channels > 1:  # a generated note starts where its pitch turns on
            active = roll.flatten(2, 3)  # (n, K, T, pitches)
            onset = note_starts(active).view_as(roll)
            cells[..., 1, :] = torch.where(given[..., None, None], cells[..., 1, :], onset)
        return frames[:, :total].cpu()
