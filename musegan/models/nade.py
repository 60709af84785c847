"""The NADE output head: the notes of a frame modelled jointly.

A Bernoulli head treats the notes of a frame as independent given the past, so it
cannot say "a C major chord, or an A minor one, but not a mix". The NADE head
(Larochelle & Murray 2011; conditioned on the sequence state as in the RNN-NADE of
Boulanger-Lewandowski et al. 2012) factorises the frame over its features, lowest
first::

    p(v | s) = prod_i p(v_i | v_<i, s)
    h_i      = sigmoid(b_h(s) + sum_{j<i} v_j W_j)
    p(v_i = 1 | v_<i, s) = sigmoid(b_v(s)_i + V_i . h_i)

with the biases ``b_v``, ``b_h`` produced from the sequence state ``s``. The NLL is
exact (one pass, a cumulative sum over the features); sampling goes feature by
feature. It has the same small interface as :class:`~musegan.models.base.BernoulliHead`
(``nll``, ``sample``, ``init_from_data``), so every family and generation can use it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NADEHead(nn.Module):
    def __init__(self, hidden_size: int, n_features: int, nade_hidden: int = 150):
        super().__init__()
        self.bias_v = nn.Linear(hidden_size, n_features)
        self.bias_h = nn.Linear(hidden_size, nade_hidden)
        self.W = nn.Parameter(torch.randn(n_features, nade_hidden) / n_features ** 0.5)  # v_j -> hidden
        self.V = nn.Parameter(torch.randn(n_features, nade_hidden) * 0.01)  # hidden -> logit of v_i

    @torch.no_grad()
    def init_from_data(self, mean_frame: torch.Tensor) -> None:
        """With ``V`` near zero every conditional starts at the feature's frequency."""
        p = mean_frame.float().clamp(1e-4, 1 - 1e-4)
        self.bias_v.bias.copy_(torch.log(p) - torch.log1p(-p))

    def logits(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(..., H)`` states, ``(..., F)`` 0/1 frames -> ``(..., F)`` the logit of
        ``p(x_i = 1 | x_<i, state)``. The hidden pre-activations are the running sums
        ``b_h + v_0 W_0 + ... + v_{i-1} W_{i-1}``, added in the order ``sample`` adds them."""
        terms = x.float()[..., :, None] * self.W  # (..., F, Hn)
        terms = torch.cat([self.bias_h(h).float()[..., None, :], terms[..., :-1, :]], dim=-2)
        hid = torch.sigmoid(torch.cumsum(terms, dim=-2))
        return (hid * self.V).sum(-1) + self.bias_v(h).float()

    def nll(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, H)``, ``(B, T, F)`` -> ``(B, T)`` exact NLL per frame in nats."""
        return F.binary_cross_entropy_with_logits(self.logits(h, x), x.float(), reduction="none").sum(-1)

    @torch.no_grad()
    def sample_with_logits(self, h: torch.Tensor, temperature: float = 1.0, generator=None):
        """``(..., H)`` -> a ``(..., F)`` 0/1 frame drawn feature by feature, and the
        conditional logits (before temperature) it was drawn from. Temperature 0 takes
        the likelier value of each feature in turn."""
        acc = self.bias_h(h).float()
        bias_v = self.bias_v(h).float()
        frame = torch.zeros_like(bias_v)
        logits = torch.zeros_like(bias_v)
        for i in range(frame.shape[-1]):
            logit = (torch.sigmoid(acc) * self.V[i]).sum(-1) + bias_v[..., i]
            if temperature <= 0:
                v = (logit > 0).float()
            else:
                v = torch.bernoulli(torch.sigmoid(logit / temperature), generator=generator)
            frame[..., i], logits[..., i] = v, logit
            acc = acc + v[..., None] * self.W[i]
        return frame, logits

    def sample(self, h: torch.Tensor, temperature: float = 1.0, generator=None) -> torch.Tensor:
        """``(B, H)`` -> ``(B, F)`` 0/1 frame."""
        return self.sample_with_logits(h, temperature, generator)[0]
