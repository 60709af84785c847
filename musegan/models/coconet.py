"""The coconet family: an orderless masked model of piano-rolls, sampled by annealed
blocked Gibbs sampling (Coconet: Huang, Cooijmans, Roberts, Courville & Eck, ISMIR 2017).

A piece is a grid of *cells*: one per track and step. The model sees the piece with some
cells erased (their bits zeroed, a mask bit set) and predicts every cell from both sides,
all erased cells independently given what is left:

* a *monophonic* track (a voice, ``mono_tracks``) is one categorical per cell over
  ``rest``, ``sustain p`` (pitch ``p`` goes on from the step before) and ``strike p``
  (pitch ``p`` starts here): a voice never sounds two pitches;
* a *polyphonic* track (chords, piano, drums) is independent bits per cell: its note and
  onset bits over the pitches.

Training erases random cells (the orderless NADE objective of Uria et al. 2014): cells
at a random rate, a random time span of random tracks (infill), whole tracks
(harmonization) or everything (generation from nothing); the loss is the mean NLL of the
erased cells. Because the model conditions on the future, it *infills*: ``complete``
fills any set of unknown cells given the known ones. It first draws the unknown cells in
``init_steps`` chunks in a random order, each chunk given the known cells and the chunks
drawn before it (ancestral sampling of an orderless NADE), then repeatedly erases a
random block of the unknown cells and draws it again (blocked Gibbs: ``iterations``
steps, or one per ``cells_per_iteration`` unknown cells if that is more); the block
shrinks from ``block_max`` to ``block_min`` of them over the first ``anneal`` of the
steps (Coconet's annealed schedule, Yao et al. 2014). With ``init_steps = 0``
it starts as Coconet does, from everything drawn at once, and the block from all of it.
(Measured on held-out chorales, ``benchmarks/infill.py``: drawn all at once, 17% of the
filled notes lasted one sixteenth, against Bach's 1%: neighbouring cells drawn together
disagree and cut each other's notes.)

The body is a stack of non-causal dilated residual convolutions over time (the conv
family's blocks without the causal shift): cheap on a CPU, with a receptive field of
``1 + 2 (kernel_size - 1) (2**num_layers - 1)`` steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..errors import MuseganError
from .base import Phase, position_features
from .conv import _ChannelNorm
from .voices import draw_bits, draw_classes

REST = 0  # a voice's classes: rest, 1 + p (sustain pitch p), 1 + P + p (strike pitch p)


@dataclass
class CoconetConfig:
    n_features: int = 0  # set from the data: tracks x channels x pitches
    steps_per_bar: int = 0  # set from the data
    n_tracks: int = 0  # set from piano-roll data
    n_channels: int = 0
    n_pitches: int = 0
    mono_tracks: tuple = ()  # set from the data: 1 for a track the corpus shows monophonic (a voice)
    hidden_size: int = 256
    num_layers: int = 8  # residual blocks, dilations 1, 2, 4, ...
    kernel_size: int = 3
    dropout: float = 0.1
    init_steps: int = 64  # sampling: first draw the unknown cells in this many chunks, in a random order, each
    # given the chunks before (ancestral, orderless NADE); 0: all at once, independently (Coconet's start)
    iterations: int = 32  # then at least this many Gibbs steps,
    cells_per_iteration: int = 5  # and at least one per this many unknown cells (16 bars of 4 voices: 204):
    # drawn from nothing with 32 steps, 14% of the bass notes lasted a sixteenth; with 200, 5%
    block_max: float = 0.3  # the share of the unknown cells drawn again in the first Gibbs step (1 after a 0 start)
    block_min: float = 0.05  # ... and in the last ones
    anneal: float = 0.75  # the share of the iterations over which the block shrinks
    temperature: float = 0.5  # sampling, when none is given: at 1, 10-19% of the notes it filled in held-out chorales
    # lasted one sixteenth (Bach: 1%); at 0.5, 5-9% (benchmarks/infill.py)


class _Block(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.convs = nn.ModuleList(weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                                                         padding=pad)) for _ in range(2))
        self.norms = nn.ModuleList(_ChannelNorm(channels) for _ in range(2))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv, norm in zip(self.convs, self.norms):
            y = self.drop(F.relu(norm(conv(y))))
        return F.relu(x + y)


class CoconetModel(nn.Module):
    family = "coconet"
    has_likelihood = True  # validated on the NLL of erased cells (fixed masks): the best weights are kept
    valid_unit = "per erased cell"  # what the validation figure counts (the frame families': per frame)
    conditions_on_future = True  # infills: see ``complete``

    @property
    def default_temperature(self) -> float:
        return self.config.temperature

    def __init__(self, config: CoconetConfig):
        super().__init__()
        c = self.config = config
        if c.kernel_size < 1 or c.kernel_size % 2 == 0 or c.num_layers < 1 or c.hidden_size < 1:
            raise MuseganError("coconet: model.kernel_size must be odd, model.num_layers and model.hidden_size >= 1")
        if not c.n_tracks or c.n_features != c.n_tracks * c.n_channels * c.n_pitches:
            raise MuseganError("coconet models piano-rolls (tracks x channels x pitches)")
        K, P = c.n_tracks, c.n_pitches
        self.mono = tuple(bool(m) for m in (c.mono_tracks or (0,) * K))
        self.inp = nn.Linear(c.n_features + K + c.steps_per_bar, c.hidden_size)
        self.blocks = nn.ModuleList(_Block(c.hidden_size, c.kernel_size, 2 ** i, c.dropout)
                                    for i in range(c.num_layers))
        self.out = nn.ModuleList(nn.Linear(c.hidden_size, 1 + 2 * P if m else c.n_channels * P) for m in self.mono)

    # -- cells and classes ----------------------------------------------------------
    def tracks(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` -> ``(B, T, K, C, P)``."""
        c = self.config
        return x.reshape(*x.shape[:2], c.n_tracks, c.n_channels, c.n_pitches)

    def classes(self, track: torch.Tensor) -> torch.Tensor:
        """A voice's bits ``(B, T, C, P)`` -> classes ``(B, T)``: its highest sounding pitch,
        struck when its onset bit is set or it did not sound the step before."""
        P = self.config.n_pitches
        active = track[..., 0, :] > 0.5
        pitch = (active * torch.arange(1, P + 1, device=track.device)).argmax(-1)
        sounding = active.any(-1)
        before = F.pad(active, (0, 0, 1, 0))[:, :-1].gather(-1, pitch[..., None])[..., 0]
        onset = track[..., 1, :].gather(-1, pitch[..., None])[..., 0] > 0.5 if track.shape[-2] > 1 else ~before
        struck = onset | ~before
        return torch.where(~sounding, REST, 1 + pitch + P * struck.long())

    def voice_bits(self, cls: torch.Tensor) -> torch.Tensor:
        """Classes ``(B, T)`` -> bits ``(B, T, C, P)``; a sustain whose pitch did not sound
        the step before is struck."""
        c = self.config
        P = c.n_pitches
        sounding = cls > REST
        pitch = torch.where(sounding, (cls - 1) % P, 0)
        struck = sounding & ((cls > P) | (F.pad(torch.where(sounding, pitch, -1), (1, 0), value=-1)[:, :-1] != pitch))
        out = torch.zeros(*cls.shape, c.n_channels, P, device=cls.device)
        out[..., 0, :] = F.one_hot(pitch, P) * sounding[..., None]
        if c.n_channels > 1:
            out[..., 1, :] = F.one_hot(pitch, P) * struck[..., None]
        return out

    @staticmethod
    def tidy(track: torch.Tensor) -> torch.Tensor:
        """A polyphonic track's bits ``(B, T, C, P)`` made consistent: an onset only on a
        sounding pitch, and on every pitch that did not sound the step before."""
        if track.shape[-2] == 1:
            return track
        active = track[..., 0, :]
        before = F.pad(active, (0, 0, 1, 0))[:, :-1]
        onset = torch.maximum(track[..., 1, :] * active, active * (1 - before))
        return torch.stack([active, onset], -2)

    # -- the network ----------------------------------------------------------------
    def logits(self, x: torch.Tensor, erased: torch.Tensor, t0: int = 0) -> list[torch.Tensor]:
        """Frames ``(B, T, F)`` and erased cells ``(B, T, K)`` (True: erased; their bits
        are ignored) -> per track the logits of every cell: ``(B, T, 1 + 2P)`` for a voice,
        ``(B, T, C * P)`` for a polyphonic track."""
        keep = (~erased).float()
        x = (self.tracks(x.float()) * keep[..., None, None]).flatten(2)
        pos = position_features(t0, x.shape[1], self.config.steps_per_bar, x.device).expand(x.shape[0], -1, -1)
        z = self.inp(torch.cat([x, erased.float(), pos], -1)).transpose(1, 2)
        for block in self.blocks:
            z = block(z)
        z = z.transpose(1, 2)
        return [head(z).float() for head in self.out]

    def cell_nll(self, x: torch.Tensor, erased: torch.Tensor) -> torch.Tensor:
        """The NLL of every cell ``(B, T, K)`` given the cells not erased."""
        tr = self.tracks(x.float())
        out = []
        for k, logits in enumerate(self.logits(x, erased)):
            if self.mono[k]:
                out.append(F.cross_entropy(logits.transpose(1, 2), self.classes(tr[:, :, k]), reduction="none"))
            else:
                target = tr[:, :, k].flatten(2)
                out.append(F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1))
        return torch.stack(out, -1)

    # -- training -------------------------------------------------------------------
    def random_erasure(self, noise, T: int) -> torch.Tensor:
        """Erased cells ``(B, T, K)`` drawn from ``noise`` (a :class:`BatchNoise`), per
        window one of: cells at a random rate (30%); a time span of random tracks (35%);
        whole tracks (25%); everything (10%). At least one cell is erased."""
        K = self.config.n_tracks
        kind, rate, ends = noise.rand(1), noise.rand(1), noise.rand(2)
        cells, which = noise.rand(T, K), noise.rand(K)
        steps = torch.arange(T, device=cells.device)
        lo = (ends.min(1).values * T).floor()[:, None]
        hi = torch.maximum((ends.max(1).values * T).ceil()[:, None], lo + 1)
        span = (steps >= lo) & (steps < hi)  # (B, T)
        tracks = which < 0.5
        tracks[torch.arange(len(tracks)), which.argmin(1)] = True  # at least one track
        whole = tracks.clone()
        whole[torch.arange(len(whole)), which.argmax(1)] = K == 1  # and, with several, not all of them
        erased = torch.where((kind < 0.3)[..., None], cells < rate[..., None],
                             torch.where((kind < 0.65)[..., None], span[..., None] & tracks[:, None],
                                         torch.where((kind < 0.9)[..., None], whole[:, None].expand(-1, T, -1),
                                                     torch.ones_like(cells, dtype=torch.bool))))
        none = ~erased.flatten(1).any(1)
        return erased | none[:, None, None]

    def configure_optimizers(self, train) -> dict:
        return {"model": torch.optim.AdamW(self.parameters(), lr=train.lr, weight_decay=train.weight_decay)}

    def phases(self) -> list[Phase]:
        return [Phase("model", "model")]

    def forward(self, batch: torch.Tensor, phase: str = "model", noise=None) -> dict:
        """The mean NLL per erased cell of a batch ``(B, T, F)`` under random erasures."""
        if noise is None:
            from .base import BatchNoise

            noise = BatchNoise.local(batch)
        erased = self.random_erasure(noise, batch.shape[1])
        nll = self.cell_nll(batch, erased)
        return {"loss": (nll * erased).sum() / erased.sum()}

    @torch.no_grad()
    def valid_step(self, batch: torch.Tensor, autocast, mask=None) -> dict:
        """The NLL of erased cells under erasures fixed by the batch's own content (the
        same every validation)."""
        from .base import BatchNoise

        gen = torch.Generator().manual_seed(int(batch.sum().item()) % (2 ** 31))
        noise = BatchNoise(gen, len(batch), 0, len(batch), batch.device)
        erased = self.random_erasure(noise, batch.shape[1])
        with autocast():
            nll = self.cell_nll(batch, erased)
        return {"nll_sum": float((nll * erased).sum()), "frames": int(erased.sum())}

    @torch.no_grad()
    def init_from_data(self, batch: torch.Tensor) -> None:
        """Output biases at the corpus's class and bit frequencies."""
        tr = self.tracks(batch.float())
        for k, head in enumerate(self.out):
            if self.mono[k]:
                counts = torch.bincount(self.classes(tr[:, :, k]).flatten(), minlength=head.bias.numel()).float()
                head.bias.copy_(torch.log((counts + 0.1) / (counts.sum() + 0.1 * counts.numel())))
            else:
                p = tr[:, :, k].flatten(2).mean((0, 1)).clamp(1e-4, 1 - 1e-4)
                head.bias.copy_(torch.log(p) - torch.log1p(-p))

    # -- sampling -------------------------------------------------------------------
    def _draw(self, logits: list, temperature: float, generator, top_p: float) -> list:
        return [draw_classes(lg, temperature, generator, top_p) if self.mono[k] else
                draw_bits(lg, temperature, generator, top_p) for k, lg in enumerate(logits)]

    def _bits(self, state: list) -> torch.Tensor:
        """Per-track state (voice classes, or polyphonic bits) -> frames ``(B, T, F)``."""
        c = self.config
        parts = [self.voice_bits(s) if self.mono[k] else self.tidy(s.view(*s.shape[:2], c.n_channels, c.n_pitches))
                 for k, s in enumerate(state)]
        return torch.stack(parts, 2).flatten(2)

    @torch.no_grad()
    def complete(self, frames: torch.Tensor, known: torch.Tensor, temperature: float = 1.0, generator=None,
                 top_p: float = 1.0, iterations: int | None = None) -> torch.Tensor:
        """Fill the unknown cells of ``frames`` ``(B, T, F)`` given the known ones
        (``known`` ``(B, T, K)``, True: kept exactly) by annealed blocked Gibbs sampling;
        returns ``(B, T, F)`` on the CPU."""
        c = self.config
        device = next(self.parameters()).device
        frames, known = frames.to(device).float(), known.to(device).bool()
        unknown = ~known
        tr = self.tracks(frames)
        state = [self.classes(tr[:, :, k]) if self.mono[k] else tr[:, :, k].flatten(2) for k in range(c.n_tracks)]
        cells = int(unknown.sum(dim=(1, 2)).max())
        n = max(c.iterations, -(-cells // max(1, c.cells_per_iteration))) if iterations is None else int(iterations)
        chunks = max(1, min(c.init_steps, cells)) if c.init_steps else 1
        first = c.block_max if c.init_steps else 1.0
        order = torch.rand(unknown.shape, generator=generator, device=device)  # a random order of the unknown cells
        for i in range(chunks + n):
            if i < chunks:  # the start: chunk i given the known cells and the chunks before it
                erased = unknown & (order >= i / chunks)
                block = erased & (order < (i + 1) / chunks)
            else:  # Gibbs: a random block of the unknown cells, drawn again given all the others
                share = max(c.block_min, first - (first - c.block_min) * (i - chunks) / max(1.0, c.anneal * n))
                u = torch.rand(unknown.shape, generator=generator, device=device)
                block = erased = unknown & (u < share)
            if not block.any():
                continue
            drawn = self._draw(self.logits(self._bits(state), erased), temperature, generator, top_p)
            for k in range(c.n_tracks):
                sel = block[:, :, k]
                state[k] = torch.where(sel if self.mono[k] else sel[..., None], drawn[k], state[k])
        out = self._bits(state)
        # known cells stay exactly as given (their own onsets included)
        keep = known[..., None].expand(-1, -1, -1, c.n_channels * c.n_pitches).flatten(2)
        return torch.where(keep, frames, out).cpu()

    @torch.no_grad()
    def generate(self, n: int, steps: int, primer: torch.Tensor | None = None, temperature: float = 1.0,
                 generator: torch.Generator | None = None, top_p: float = 1.0,
                 sounding_start: bool = False) -> torch.Tensor:
        """``n`` pieces of ``steps`` frames after an optional primer ``(T_p, F)`` (kept):
        ``(n, T_p + steps, F)``. (``sounding_start``: a whole piece is drawn at once;
        its start is up to the model.)"""
        c = self.config
        t_p = 0 if primer is None else len(primer)
        frames = torch.zeros(n, t_p + steps, c.n_features)
        known = torch.zeros(n, t_p + steps, c.n_tracks, dtype=torch.bool)
        if t_p:
            frames[:, :t_p] = primer.float()
            known[:, :t_p] = True
        return self.complete(frames, known, temperature, generator, top_p)

