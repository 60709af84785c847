"""The conv family: causal dilated convolutions over frames (TCN, Bai et al. 2018).

The previous frames (plus the bar position) are projected to ``hidden_size``
channels, then go through ``num_layers`` residual blocks; block ``i`` holds two
causal convolutions of ``kernel_size`` taps dilated by ``2**i`` (normalisation,
ReLU and dropout after each) and adds its input back. The state for frame ``t``
sees frames ``t - receptive_field .. t - 1``.

Generation of any length runs one frame at a time: every convolution keeps a cache
of the last ``(kernel_size - 1) * dilation`` inputs it has seen (zeros at the start,
as the causal padding of the whole-sequence pass), so a step costs one output per
layer and gives the very states of the teacher-forced pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..errors import MuseganError
from .base import FrameModel, make_head


@dataclass
class ConvConfig:
    n_features: int = 0  # set from the data: tracks x channels x pitches
    steps_per_bar: int = 0  # set from the data: 0 disables bar-position inputs
    n_tracks: int = 0  # set from piano-roll data: the layout of a frame (tracks x channels x pitches)
    n_channels: int = 0
    n_pitches: int = 0
    mono_tracks: tuple = ()  # set from the data: 1 for a track the corpus shows monophonic (a voice)
    voices: bool = True  # voices as one categorical per step (rest, hold, pitch); see voices.py
    hidden_size: int = 256
    num_layers: int = 6  # residual blocks, dilations 1, 2, 4, ...
    kernel_size: int = 3
    dropout: float = 0.2
    norm: str = "weight"  # weight | layer | none
    head: str = "bernoulli"  # bernoulli | nade
    head_hidden: int = 150  # NADE hidden units
    sustain: bool = False  # with voices: a polyphonic track's sounding notes go on or stop one by one (see voices.py)


def receptive_field(config: ConvConfig) -> int:
    """Frames the state of one step sees (the previous ``receptive_field`` frames)."""
    return 1 + 2 * (config.kernel_size - 1) * (2 ** config.num_layers - 1)


class _ChannelNorm(nn.LayerNorm):
    """Layer norm over the channels of ``(B, C, T)`` or ``(B, C)``."""

    def forward(self, x):
        return super().forward(x.transpose(1, -1)).transpose(1, -1)


class CausalConv(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, norm: str):
        super().__init__()
        conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.conv = weight_norm(conv) if norm == "weight" else conv
        self.context = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor, cache: torch.Tensor | None = None):
        """``(B, C, T)`` -> ``(B, C, T)`` (zeros before the start); with ``cache``
        ``(B, C, context)``, ``x`` is one step ``(B, C)``: returns its output and the
        new cache."""
        if cache is None:
            return self.conv(F.pad(x, (self.context, 0)))
        window = torch.cat([cache, x[..., None]], dim=-1)
        return self.conv(window)[..., 0], window[..., 1:]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float, norm: str):
        super().__init__()
        self.convs = nn.ModuleList(CausalConv(channels, kernel_size, dilation, norm) for _ in range(2))
        self.norms = nn.ModuleList(_ChannelNorm(channels) if norm == "layer" else nn.Identity() for _ in range(2))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: list | None = None):
        """Whole sequences ``(B, C, T)``, or one step ``(B, C)`` with the per-conv
        caches (then returns the output and the new caches)."""
        y, new_cache = x, []
        for k, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if cache is None:
                y = conv(y)
            else:
                y, c = conv(y, cache[k])
                new_cache.append(c)
            y = self.drop(F.relu(norm(y)))
        out = F.relu(x + y)
        return out if cache is None else (out, new_cache)


class ConvModel(FrameModel):
    family = "conv"

    def __init__(self, config: ConvConfig):
        super().__init__(config)
        c = config
        if c.kernel_size < 1 or c.num_layers < 1 or c.hidden_size < 1:
            raise MuseganError("model.kernel_size, model.num_layers and model.hidden_size must be at least 1")
        if c.norm not in ("weight", "layer", "none"):
            raise MuseganError(f"model.norm={c.norm!r}: expected weight, layer or none")
        self.inp = nn.Linear(c.n_features + c.steps_per_bar, c.hidden_size)
        self.blocks = nn.ModuleList(ResidualBlock(c.hidden_size, c.kernel_size, 2 ** i, c.dropout, c.norm)
                                    for i in range(c.num_layers))
        self.head = make_head(c, c.hidden_size)

    def hidden(self, x_prev: torch.Tensor, t0: int = 0) -> torch.Tensor:
        z = self.inp(self.frame_inputs(x_prev, t0)).transpose(1, 2)
        for block in self.blocks:
            z = block(z)
        return z.transpose(1, 2)

    def init_state(self, batch_size: int, device):
        return [[torch.zeros(batch_size, self.config.hidden_size, conv.context, device=device)
                 for conv in block.convs] for block in self.blocks]

    def step(self, frame: torch.Tensor, state, t: int):
        z = self.inp(self.frame_inputs(frame[:, None], t))[:, 0]
        new_state = []
        for block, cache in zip(self.blocks, state):
            z, cache = block(z, cache)
            new_state.append(cache)
        return z, new_state
