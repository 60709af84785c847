"""The LSTM family: a polyphonic piano-roll LSTM.

Each step reads the previous frame (all tracks, all pitches, note and onset bits, plus
the position in the bar) and predicts the next frame's notes across the tracks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import FrameModel, make_head


@dataclass
class LSTMConfig:
    n_features: int = 0  # set from the data: tracks x channels x pitches
    steps_per_bar: int = 0  # set from the data: 0 disables bar-position inputs
    n_tracks: int = 0  # set from piano-roll data: the layout of a frame (tracks x channels x pitches)
    n_channels: int = 0
    n_pitches: int = 0
    mono_tracks: tuple = ()  # set from the data: 1 for a track the corpus shows monophonic (a voice)
    voices: bool = True  # voices as one categorical per step (rest, hold, pitch); see voices.py
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2
    head: str = "bernoulli"  # bernoulli | nade (see nade.py)
    head_hidden: int = 150  # NADE hidden units
    sustain: bool = False  # with voices: a polyphonic track's sounding notes go on or stop one by one (see voices.py)


class LSTMModel(FrameModel):
    family = "lstm"

    def __init__(self, config: LSTMConfig):
        super().__init__(config)
        c = config
        self.lstm = nn.LSTM(c.n_features + c.steps_per_bar, c.hidden_size, c.num_layers,
                            batch_first=True, dropout=c.dropout if c.num_layers > 1 else 0.0)
        self.drop = nn.Dropout(c.dropout)
        self.head = make_head(c, c.hidden_size)

    def hidden(self, x_prev: torch.Tensor, t0: int = 0) -> torch.Tensor:
        out, _ = self.lstm(self.frame_inputs(x_prev, t0))
        return self.drop(out)

    def init_state(self, batch_size: int, device):
        zeros = [torch.zeros(batch_size, self.config.hidden_size, device=device)] * self.config.num_layers
        return zeros, zeros

    def step(self, frame: torch.Tensor, state, t: int):
        """One frame through the layers by ``torch.lstm_cell``: the numbers of ``nn.LSTM``
        on a sequence of one (in eval mode), without its per-call cost (8x less at batch 1)."""
        x = self.frame_inputs(frame[:, None], t)[:, 0]
        hs, cs = [], []
        for layer, (h, c) in enumerate(zip(*state)):
            h, c = torch.lstm_cell(x, (h, c), *(getattr(self.lstm, f"{w}_l{layer}") for w in
                                                ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
            hs.append(h)
            cs.append(c)
            x = h
        return x, (hs, cs)
