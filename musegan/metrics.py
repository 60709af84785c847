"""Metrics: pure functions of arrays (no files, no models)."""
from __future__ import annotations

import torch


def bernoulli_nll(p: torch.Tensor, x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """NLL in nats per frame of frames ``x (..., F)`` under independent Bernoullis
    ``p (F,)`` or ``(..., F)``: the sum over features of the log-loss, ``(...)``."""
    p = p.double().clamp(eps, 1 - eps)
    x = x.double()
    return -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1)


def frequency_baseline_nll(train: torch.Tensor, valid: torch.Tensor, eps: float = 1e-7) -> float:
    """The "note 1-gram" baseline: NLL per frame of ``valid (N, F)`` when every feature
    is an independent Bernoulli with its frequency in ``train (M, F)``."""
    p = train.double().mean(0)
    return float(bernoulli_nll(p, valid, eps).mean())
