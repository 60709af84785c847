"""The model interface every family implements, and the shared building blocks.

Sequence families (LSTM, conv) are autoregressive models of binary frames
``x: (batch, time, n_features)``: ``p(x_t | x_<t)``. A family supplies only its body:

* ``hidden(x_prev, t0)``: ``(B, T, F)`` previous frames -> ``(B, T, H)`` states, where
  ``x_prev[:, t]`` is frame ``t - 1`` (zeros before the first frame);
* ``init_state(batch)`` and ``step(frame, state, t)``: the same, one frame at a time,
  for generation of any length.

An output head turns states into a per-frame negative log-likelihood and samples
(``nll``, ``sample``, ``init_from_data``); a family's config names it (``head``:
``bernoulli``, independent notes, or ``nade``, the notes of a frame jointly, see
``nade.py``), and ``make_head`` builds it. ``forward`` / ``valid_step`` take an
optional mask of the real frames of a padded batch (the polyphonic benchmark).

A family returns its losses and never updates itself (nanoGPT's way): the trainer calls
``configure_optimizers``, then for each step ``phases()`` (which optimizer updates on
which loss, in order: one phase here, critic then generator for a GAN) and
``forward(batch, phase=..., noise=...)``, and does backward, clipping and the
optimizer step; ``valid_step`` scores held-out batches.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MuseganError
from .voices import VoiceHead, draw_bits, draw_classes


class Phase(NamedTuple):
    """One part of a training step: the family's ``forward(batch, phase=name)`` gives its
    losses, and the trainer updates with the optimizer named ``optimizer``."""

    name: str
    optimizer: str


class BatchNoise:
    """The random numbers of one training batch, drawn on the CPU (diffusers' way) from a
    generator that every process holds in the same state: each draw makes one row per
    sample of the *global* batch and each process keeps its own rows ``lo:hi``. So a
    sample gets the same numbers whatever the number of processes, and a run on two
    GPUs follows the run on one. ``BatchNoise.local(batch)`` draws from torch's global
    generator for a batch used alone (tests, notebooks)."""

    def __init__(self, generator: torch.Generator | None, total: int, lo: int, hi: int, device):
        self.generator, self.total, self.lo, self.hi, self.device = generator, total, lo, hi, device

    @classmethod
    def local(cls, batch: torch.Tensor) -> "BatchNoise":
        return cls(None, len(batch), 0, len(batch), batch.device)

    def _rows(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.lo : self.hi].to(self.device)

    def rand(self, *shape) -> torch.Tensor:
        """Uniform in [0, 1): ``(rows, *shape)``."""
        return self._rows(torch.rand(self.total, *shape, generator=self.generator))

    def randn(self, *shape) -> torch.Tensor:
        return self._rows(torch.randn(self.total, *shape, generator=self.generator))

    def randint(self, low: int, high: int, *shape) -> torch.Tensor:
        return self._rows(torch.randint(low, high, (self.total, *shape), generator=self.generator))


class BernoulliHead(nn.Module):
    """Every feature of a frame an independent Bernoulli given the state."""

    def __init__(self, hidden_size: int, n_features: int):
        super().__init__()
        self.proj = nn.Linear(hidden_size, n_features)

    @torch.no_grad()
    def init_from_data(self, mean_frame: torch.Tensor) -> None:
        """Start from the data's per-feature frequencies: with notes on ~1% of the
        features, a zero bias (p = 0.5) costs Adam thousands of steps to unlearn."""
        p = mean_frame.float().clamp(1e-4, 1 - 1e-4)
        self.proj.bias.copy_(torch.log(p) - torch.log1p(-p))

    def nll(self, h: torch.Tensor, x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, H)``, ``(B, T, F)`` -> ``(B, T)`` NLL per frame in nats; ``offset`` is
        added to the logits."""
        logits = self.proj(h).float() if offset is None else self.proj(h).float() + offset
        return F.binary_cross_entropy_with_logits(logits, x.float(), reduction="none").sum(-1)

    def sample(self, h: torch.Tensor, temperature: float = 1.0, generator=None, prev=None,
               top_p: float = 1.0, offset: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H)`` -> ``(B, F)`` 0/1 frame (``top_p``: see ``voices.nucleus_bits``);
        ``offset`` is added to the logits."""
        logits = self.proj(h).float() if offset is None else self.proj(h).float() + offset
        return draw_bits(logits, temperature, generator, top_p)


class GaussianHead(nn.Module):
    """Continuous frames (audio: normalized log-spectrogram frames): every feature an
    independent Gaussian given the state, with its own mean and scale."""

    MIN_LOG_SCALE = -7.0

    def __init__(self, hidden_size: int, n_features: int):
        super().__init__()
        self.n_features = n_features
        self.proj = nn.Linear(hidden_size, 2 * n_features)

    @torch.no_grad()
    def init_from_data(self, mean_frame: torch.Tensor, std_frame: torch.Tensor | None = None) -> None:
        """Start from the data's per-feature mean and standard deviation."""
        self.proj.bias[: self.n_features].copy_(mean_frame.float())
        if std_frame is not None:
            self.proj.bias[self.n_features:].copy_(std_frame.float().clamp_min(1e-3).log())

    def params(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_scale = self.proj(h).float().chunk(2, dim=-1)
        return mean, log_scale.clamp_min(self.MIN_LOG_SCALE)

    def nll(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, H)``, ``(B, T, F)`` -> ``(B, T)`` NLL per frame in nats (a density:
        it can be negative)."""
        mean, log_scale = self.params(h)
        z = (x.float() - mean) * torch.exp(-log_scale)
        return (0.5 * z * z + log_scale + 0.5 * math.log(2 * math.pi)).sum(-1)

    def sample(self, h: torch.Tensor, temperature: float = 1.0, generator=None, prev=None,
               top_p: float = 1.0) -> torch.Tensor:
        """``(B, H)`` -> ``(B, F)``: the mean plus ``temperature`` times the scale times
        standard normal noise (0: the mean). ``top_p`` < 1 clips the noise to the
        central ``top_p`` of each Gaussian."""
        mean, log_scale = self.params(h)
        if temperature <= 0:
            return mean
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        if top_p < 1:
            bound = math.sqrt(2) * torch.erfinv(torch.tensor(top_p)).item()
            noise = noise.clamp(-bound, bound)
        return mean + temperature * torch.exp(log_scale) * noise


class CategoricalHead(nn.Module):
    """One-hot frames (discrete tokens: ``kinds/tokens.py``): one categorical over the
    ``n_features`` classes of a frame given the state."""

    def __init__(self, hidden_size: int, n_features: int):
        super().__init__()
        self.proj = nn.Linear(hidden_size, n_features)

    @torch.no_grad()
    def init_from_data(self, mean_frame: torch.Tensor) -> None:
        """Start from the data's token frequencies (the log of each class's share)."""
        p = mean_frame.float().clamp_min(0) + 1e-6
        self.proj.bias.copy_(torch.log(p / p.sum()))

    def nll(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, H)``, ``(B, T, V)`` one-hot -> ``(B, T)`` NLL per frame in nats."""
        return -(F.log_softmax(self.proj(h).float(), -1) * x.float()).sum(-1)

    def sample(self, h: torch.Tensor, temperature: float = 1.0, generator=None, prev=None,
               top_p: float = 1.0, banned: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H)`` -> ``(B, V)`` one-hot: drawn from the softmax of the logits divided
        by ``temperature`` (0: the likeliest class), only from the nucleus of ``top_p``
        of the mass (see ``voices.nucleus``). ``banned`` ``(B, V)`` bool: classes given
        probability 0 (the rest renormalized) unless a row bans every class, which is
        then drawn unconstrained."""
        logits = self.proj(h).float()
        if banned is not None:
            logits = logits.masked_fill(banned & ~banned.all(-1, keepdim=True), float("-inf"))
        return F.one_hot(draw_classes(logits, temperature, generator, top_p), logits.shape[-1]).float()


HEADS = {"bernoulli": "binary", "nade": "binary", "gaussian": "continuous", "categorical": "tokens"}


def make_head(config, hidden_size: int) -> nn.Module:
    """The output head a family's config names: ``head = "bernoulli"`` (independent
    notes), ``"nade"`` (the notes of a frame modelled jointly, see ``nade.py``), or
    ``"gaussian"`` (continuous frames: audio) or ``"categorical"`` (one-hot frames:
    audio tokens). With ``voices`` and tracks from the data
    (``mono_tracks``, set for piano-rolls), the head goes track by track (``voices.py``):
    monophonic tracks as one categorical per step, the others with ``head`` behind a hold
    gate and with re-strikes of their own (and, with ``sustain``, a pull of their own
    towards each note that sounded the step before)."""
    kind = getattr(config, "head", "bernoulli")
    if kind in ("bernoulli", "nade") and getattr(config, "voices", False) and len(getattr(config, "mono_tracks", ())):
        from .voices import VoiceHead

        return VoiceHead(hidden_size, config.n_tracks, config.n_channels, config.n_pitches, config.mono_tracks,
                         kind, config.head_hidden, config.sustain)
    if kind == "bernoulli":
        return BernoulliHead(hidden_size, config.n_features)
    if kind == "gaussian":
        return GaussianHead(hidden_size, config.n_features)
    if kind == "categorical":
        return CategoricalHead(hidden_size, config.n_features)
    if kind == "nade":
        from .nade import NADEHead

        return NADEHead(hidden_size, config.n_features, config.head_hidden)
    raise MuseganError(f"model.head={kind!r}: expected {', '.join(HEADS)}")


def position_features(t0: int, length: int, steps_per_bar: int, device=None) -> torch.Tensor:
    """One-hot position within the bar, ``(length, steps_per_bar)``; empty if 0."""
    if steps_per_bar <= 0:
        return torch.zeros(length, 0, device=device)
    pos = (torch.arange(length, device=device) + t0) % steps_per_bar
    return F.one_hot(pos, steps_per_bar).float()


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """Frames ``(B, T, F)`` -> previous frames: ``out[:, t] = x[:, t - 1]``, zeros at t = 0."""
    return F.pad(x, (0, 0, 1, 0))[:, :-1]


class FrameModel(nn.Module):
    """Base of the autoregressive frame families; see the module docstring."""

    family = "frame"
    has_likelihood = True  # the trainer validates the NLL and keeps the best weights
    conditions_on_future = False  # draws left to right: it continues and accompanies, but cannot infill
    steerable = True  # complete(..., steer=...) takes logit offsets frame by frame (musegan.steering)
    valid_unit = "per frame"  # what the validation NLL counts
    default_temperature = 1.0  # sampling, when none is given

    def __init__(self, config):
        super().__init__()
        self.config = config

    # -- what a family implements -------------------------------------------------
    def hidden(self, x_prev: torch.Tensor, t0: int = 0) -> torch.Tensor:
        raise NotImplementedError

    def init_state(self, batch_size: int, device):
        raise NotImplementedError

    def step(self, frame: torch.Tensor, state, t: int):
        """``frame`` ``(B, F)`` is frame ``t - 1``; returns the state ``(B, H)`` that
        predicts frame ``t``, and the new recurrent state."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------
    def frame_inputs(self, x_prev: torch.Tensor, t0: int) -> torch.Tensor:
        """Previous frames ``(B, T, F)`` with the bar position appended (when
        ``config.steps_per_bar`` > 0): ``(B, T, F + steps_per_bar)``."""
        pos = position_features(t0, x_prev.shape[1], self.config.steps_per_bar, x_prev.device)
        return torch.cat([x_prev, pos.expand(x_prev.shape[0], -1, -1)], dim=-1)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(B, T, F)`` -> NLL per frame ``(B, T)`` (every frame scored; the first
        one from the empty start)."""
        return self.head.nll(self.hidden(shift_right(x)), x)

    def init_from_data(self, batch: torch.Tensor) -> None:
        """Called once on a new run with a batch of training data ``(B, T, F)``."""
        frames = batch.reshape(-1, batch.shape[-1]).float()
        if isinstance(self.head, GaussianHead):
            self.head.init_from_data(frames.mean(0), frames.std(0))
        else:
            self.head.init_from_data(frames.mean(0))

    def configure_optimizers(self, train) -> dict:
        return {"model": torch.optim.AdamW(self.parameters(), lr=train.lr, weight_decay=train.weight_decay)}

    def phases(self) -> list[Phase]:
        """One phase per update: the NLL, on the one optimizer."""
        return [Phase("model", "model")]

    def forward(self, batch: torch.Tensor, phase: str = "model", noise=None,
                mask: torch.Tensor | None = None) -> dict:
        """The losses of a batch ``(B, T, F)``: ``loss`` is the mean NLL per frame; ``mask``
        ``(B, T)`` marks the real frames of a padded batch (None: all are real). The
        trainer does the backward pass and the update."""
        nll = self.nll(batch)
        return {"loss": nll.mean() if mask is None else (nll * mask).sum() / mask.sum()}

    @torch.no_grad()
    def valid_step(self, batch: torch.Tensor, autocast, mask: torch.Tensor | None = None) -> dict:
        with autocast():
            nll = self.nll(batch)
        if mask is None:
            return {"nll_sum": float(nll.sum()), "frames": nll.numel()}
        return {"nll_sum": float((nll * mask).sum()), "frames": int(mask.sum())}

    @torch.no_grad()
    def generate(self, n: int, steps: int, primer: torch.Tensor | None = None, temperature: float = 1.0,
                 generator: torch.Generator | None = None, top_p: float = 1.0,
                 sounding_start: bool = False, forbid=None, steer=None) -> torch.Tensor:
        """Sample ``steps`` frames after an optional primer ``(T_p, F)``; returns
        ``(n, T_p + steps, F)`` frames (0/1, or values for a continuous head) on the CPU.
        ``sounding_start``: without a primer, the first frame is drawn again (up to 50
        times) while it is silent (for a corpus whose pieces start with a note).
        ``forbid``, ``steer``: see :meth:`complete`."""
        n_features = self.config.n_features
        t_p = 0 if primer is None else len(primer)
        frames = torch.zeros(n, t_p + steps, n_features)
        known = torch.zeros(n, t_p + steps, max(1, self.config.n_tracks), dtype=torch.bool)  # 1: whole frames
        if t_p:
            frames[:, :t_p] = primer.float()
            known[:, :t_p] = True
        return self.complete(frames, known, temperature, generator, top_p, sounding_start=sounding_start,
                             forbid=forbid, steer=steer)

    @torch.no_grad()
    def complete(self, frames: torch.Tensor, known: torch.Tensor, temperature: float = 1.0,
                 generator: torch.Generator | None = None, top_p: float = 1.0, iterations=None,
                 sounding_start: bool = False, forbid=None, steer=None) -> torch.Tensor:
        """Frames ``(B, T, F)`` with the cells of ``known`` ``(B, T, K)`` (track by step;
        ``K = 1``: whole frames) kept as given and the others drawn, left to right: a
        sequence model sees only the past, so a known cell informs what comes after it
        (and, within a frame, the tracks drawn after it), never what comes before.
        ``sounding_start``: a first frame with nothing known is drawn again (up to 50
        times) while it is silent. ``forbid`` (categorical head only): called with the
        frames so far (a list of ``(B, F)``), returns the classes the next frame may not
        take ``(B, F)`` bool, or None (e.g. ``representations.tokens.CopyGuard``).
        ``steer`` (binary heads): called with each frame as it is drawn or given (zeros
        before the first), returns offsets ``(B, F)`` added to the logits of the next
        frame's bits, or None (``musegan.steering.Steering``); its ``within``, if not None,
        is handed to the head for offsets track by track inside a frame. Returns ``(B, T, F)``
        on the CPU."""
        if forbid is not None and not isinstance(self.head, CategoricalHead):
            raise MuseganError(f"model.head={self.config.head!r}: forbidden classes need the categorical head")
        if steer is not None and isinstance(self.head, (CategoricalHead, GaussianHead)):
            raise MuseganError(f"model.head={self.config.head!r}: steering needs note bits (a binary head)")
        device = next(self.parameters()).device
        frames, known = frames.to(device).float(), known.to(device).bool()
        B, T, n_features = frames.shape
        size = n_features // known.shape[-1]
        state = self.init_state(B, device)
        prev = torch.zeros(B, n_features, device=device)
        within = None if steer is None else getattr(steer, "within", None)  # pulls inside a frame
        if within is not None and not isinstance(self.head, VoiceHead):
            raise MuseganError(f"model.head={self.config.head!r} without voices: pulls inside a frame (chord) "
                               "need a head that draws the tracks one after another")
        out = []
        for t in range(T):
            h, state = self.step(prev, state, t)
            offset = None if steer is None else steer(prev)
            kt = known[:, t]
            if kt.all():
                prev = frames[:, t]
            else:
                banned = None if forbid is None else forbid(out)
                new = self._draw(h, prev, frames[:, t], kt, size, temperature, generator, top_p, banned, offset,
                                 within)
                for _ in range(50 if sounding_start and t == 0 and not kt.any() else 0):
                    silent = new.abs().sum(-1) == 0
                    if not silent.any():
                        break
                    new = torch.where(silent[:, None], self._draw(h, prev, frames[:, t], kt, size, temperature,
                                                                  generator, top_p, banned, offset, within), new)
                prev = new
            out.append(prev)
        return torch.stack(out, 1).cpu() if out else frames.cpu()

    def _draw(self, h, prev, frame, known, size: int, temperature, generator, top_p, banned=None,
              offset=None, within=None) -> torch.Tensor:
        """One frame from the state ``h``, its known tracks (``known`` ``(B, K)``) as in
        ``frame``; ``banned``: classes the categorical head may not draw; ``offset``:
        added to the logits of the frame's bits."""
        if isinstance(self.head, VoiceHead):  # track by track: later tracks see the clamped ones
            return self.head.sample(h, temperature, generator, prev=prev, top_p=top_p, given=(frame, known),
                                    offset=offset, within=within)
        extra = {} if banned is None else {"banned": banned}
        if offset is not None:
            extra["offset"] = offset
        new = self.head.sample(h, temperature, generator, prev=prev, top_p=top_p, **extra)
        return torch.where(known.repeat_interleave(size, 1), frame, new) if known.any() else new


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def set_lr(optimizers: dict, lr: float) -> None:
    """Set every optimizer's learning rate (times a group's own ``lr_scale``)."""
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)


def cosine_lr(step: int, total: int, warmup: int) -> float:
    """Multiplier of the base learning rate: linear warm-up, then cosine to 10%."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))
