"""The LSTM family: a polyphonic piano-roll LSTM.

Each step reads the previous frame (all tracks, all pitches, note and onset bits, plus
the position in the bar) and predicts the next frame's notes across the tracks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import BernoulliHead, FrameModel, position_features


@dataclass
class LSTMConfig:
    n_features: int = 0  # set from the data: tracks x channels x pitches
    steps_per_bar: int = 0  # set from the data: 0 disables bar-position inputs
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2


class LSTMModel(FrameModel):
    family = "lstm"

    def __init__(self, config: LSTMConfig):
        super().__init__(config)
        c = config
        self.lstm = nn.LSTM(c.n_features + c.steps_per_bar, c.hidden_size, c.num_layers,
                            batch_first=True, dropout=c.dropout if c.num_layers > 1 else 0.0)
        self.drop = nn.Dropout(c.dropout)
        self.head = BernoulliHead(c.hidden_size, c.n_features)

    def _inputs(self, x_prev: torch.Tensor, t0: int) -> torch.Tensor:
        pos = position_features(t0, x_prev.shape[1], self.config.steps_per_bar, x_prev.device)
        return torch.cat([x_prev, pos.expand(x_prev.shape[0], -1, -1)], dim=-1)

    def hidden(self, x_prev: torch.Tensor, t0: int = 0) -> torch.Tensor:
        out, _ = self.lstm(self._inputs(x_prev, t0))
        return self.drop(out)

    def init_state(self, batch_size: int, device):
        return None  # nn.LSTM starts from zeros

    def step(self, frame: torch.Tensor, state, t: int):
        out, state = self.lstm(self._inputs(frame[:, None], t), state)
        return out[:, 0], state
