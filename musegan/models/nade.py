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
exact and cheap (a frame with ``k`` notes has only ``k + 1`` distinct hidden
vectors, see ``logits``); sampling goes feature by feature. It has the same small interface as :class:`~musegan.models.base.BernoulliHead`
(``nll``, ``sample``, ``init_from_data``), so every family and generation can use it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .voices import nucleus_bits


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
        ``p(x_i = 1 | x_<i, state)``.

        The hidden pre-activation of feature ``i`` is ``b_h + sum_{j<i} v_j W_j``: it
        only changes after a feature that is on, so a frame with ``k`` notes has ``k + 1``
        distinct hidden vectors (the running sums over its notes, added in the order
        ``sample`` adds them). Each feature reads the one before it: a few small matrix
        products instead of a ``(frames, F, hidden)`` tensor."""
        shape = x.shape
        x = x.reshape(-1, shape[-1]).float()
        h = h.reshape(-1, h.shape[-1])
        n, f = x.shape
        k = int(x.sum(-1).max()) if n else 0
        rank, notes = (x * torch.arange(f, 0, -1, device=x.device)).topk(k, dim=-1)  # notes, lowest first
        steps = self.W[notes] * (rank > 0)[..., None].float()  # (n, k, Hn); zero past a frame's last note
        run = self.bias_h(h).float()
        sums = [run]
        for j in range(k):
            run = run + steps[:, j]
            sums.append(run)
        sums = torch.stack(sums, 1)  # (n, k + 1, Hn)
        per_sum = torch.sigmoid(sums) @ self.V.t()  # (n, k + 1, F): the logit part of each hidden vector
        before = (torch.cumsum(x, -1) - x).long()  # notes below each feature: which running sum it reads
        logits = per_sum.gather(1, before[:, None]).squeeze(1) + self.bias_v(h).float()
        return logits.reshape(shape)

    def nll(self, h: torch.Tensor, x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, H)``, ``(B, T, F)`` -> ``(B, T)`` exact NLL per frame in nats; ``offset``
        ``(B, T, F)`` is added to the visible biases (see ``sample_with_logits``)."""
        logits = self.logits(h, x) if offset is None else self.logits(h, x) + offset
        return F.binary_cross_entropy_with_logits(logits, x.float(), reduction="none").sum(-1)

    @torch.no_grad()
    def sample_with_logits(self, h: torch.Tensor, temperature: float = 1.0, generator=None, top_p: float = 1.0,
                           offset: torch.Tensor | None = None):
        """``(B, H)`` -> a ``(B, F)`` 0/1 frame drawn feature by feature, lowest first,
        and the conditional logits (before temperature) it was drawn from. Temperature 0
        takes the likelier value of each feature in turn. ``offset`` ``(B, F)`` is added to
        the visible biases ``b_v(s)`` (e.g. a pull towards the notes of the step before).

        The conditionals only change after a note, so each round computes the logits of
        every feature still to decide from the current hidden vector, finds the first
        feature that comes out on (its uniform below its probability), and moves past
        it: as many rounds as notes, not as features."""
        acc = self.bias_h(h).float()
        bias_v = self.bias_v(h).float() if offset is None else self.bias_v(h).float() + offset
        n, f = bias_v.shape
        uniform = torch.rand(n, f, generator=generator, device=h.device) if temperature > 0 else None
        frame, logits = torch.zeros_like(bias_v), torch.zeros_like(bias_v)
        index = torch.arange(f, device=h.device)
        start = torch.zeros(n, dtype=torch.long, device=h.device)  # the next feature to decide, per row
        active = torch.ones(n, dtype=torch.bool, device=h.device)
        while active.any():
            now = torch.sigmoid(acc) @ self.V.t() + bias_v  # logits if no further note came
            on = now > 0 if uniform is None else uniform < nucleus_bits(torch.sigmoid(now / temperature), top_p)
            open_ = (index >= start[:, None]) & active[:, None]
            on &= open_
            hit = on.any(-1)
            first = torch.where(hit, on.float().argmax(-1), torch.full_like(start, f))
            decided = open_ & (index <= first[:, None])
            logits = torch.where(decided, now, logits)
            rows = hit.nonzero()[:, 0]
            frame[rows, first[rows]] = 1.0
            acc[rows] = acc[rows] + self.W[first[rows]]
            start = first + 1
            active = hit & (start < f)
        return frame, logits

    def sample(self, h: torch.Tensor, temperature: float = 1.0, generator=None, prev=None,
               top_p: float = 1.0, offset: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H)`` -> ``(B, F)`` 0/1 frame; ``top_p`` per unit (see ``voices.nucleus_bits``);
        ``offset``: see ``sample_with_logits``."""
        return self.sample_with_logits(h, temperature, generator, top_p, offset)[0]
