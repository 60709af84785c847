"""Steering a frame model while it samples: logit offsets for the next frame, from the
frames drawn so far. Pure tensor code; :class:`~musegan.generation.MusicModel` builds it
from the run's frame layout and tracks, and the sequence families add its offsets to
their heads' logits (``FrameModel.complete(..., steer=...)``).

Four pulls, each off at 0:

* ``hold`` (nats): a note that started less than ``min_steps`` steps ago gets ``+hold``
  on its note logit and ``-hold`` on its onset logit, so that it is neither dropped nor
  struck again at once. A head that re-draws a whole chord (a polyphonic track's NADE
  after its hold gate opens) otherwise drops a note it has just started: at 12 steps per
  quarter, 9-20% of the pop LSTM's piano notes lasted one step, the songs' 1.6%. A young
  note belongs to the chord of now, so holding it does not carry an old chord into a
  new one (which a pull on every sounding note did, see ``voices.py``).
* ``key`` (nats): once the piece has ``min_notes`` pitched notes, every pitch outside the
  major scale that holds most of its recent notes (onsets of the pitched tracks,
  counted with a half-life of ``half_life`` steps) gets ``-key`` on its note logit:
  the piece keeps the key it has set, or moves to another one only when its notes do.
  Drum tracks are left alone.
* ``groove`` (nats): from the second bar on, a drum hit that the bar before had at this
  place (the same drum) gets ``+groove`` on starting it, one it did not have
  ``-groove``: the beat keeps its pattern unless the model insists on a change.

* ``chord`` (nats): inside a frame, whose tracks are drawn one after another, a pitch
  of a pitch class that the pitched tracks drawn before sound at this step gets
  ``+chord`` on its note logit: the later parts fill in and double the harmony of the
  first one that plays, and a change of chord is that part's to make. The pop LSTM's
  parts were thinner than the songs' (3.2 pitches at once against 4.2) and agreed less
  with each other (tonal distance 0.9-1.1 against 0.7-1.0).

``PULLS`` names them for ``musegan generate --pull NAME=NATS`` and
``model.generate(pulls={...})``; ``check_pulls`` checks such a mapping.
"""
from __future__ import annotations

import math

import torch

MAJOR = (0, 2, 4, 5, 7, 9, 11)
PULLS = ("hold", "key", "groove", "chord")


def check_pulls(pulls) -> dict:
    """``{name: nats}`` -> the same with float values; a one-line error for an unknown
    name or a value that is not a number of at least 0."""
    from .errors import MuseganError

    out = {}
    for name, value in dict(pulls or {}).items():
        if name not in PULLS:
            raise MuseganError(f"pull {name!r}: expected one of {', '.join(PULLS)}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise MuseganError(f"pull {name}={pulls[name]!r}: expected a number of nats, at least 0")
        out[name] = value
    return out


class Steering:
    def __init__(self, n_tracks: int, n_channels: int, n_pitches: int, pitch_low: int, drums=(),
                 hold: float = 0.0, min_steps: int = 2, key: float = 0.0, min_notes: int = 8,
                 half_life: float = 192.0, groove: float = 0.0, steps_per_bar: int = 0, chord: float = 0.0):
        self.K, self.C, self.P = n_tracks, n_channels, n_pitches
        self.hold, self.min_steps, self.key = float(hold), int(min_steps), float(key)
        self.min_notes, self.decay = min_notes, 0.5 ** (1.0 / max(half_life, 1e-6))
        self.pitched = torch.tensor([k not in set(drums) for k in range(n_tracks)])
        pc = (torch.arange(n_pitches) + pitch_low) % 12
        self.pc = torch.nn.functional.one_hot(pc, 12).float()  # (P, 12)
        scales = torch.zeros(12, 12)
        for root in range(12):
            scales[root, [(root + s) % 12 for s in MAJOR]] = 1.0
        self.scales = scales  # (roots, pitch classes)
        self.groove, self.spb, self.chord = float(groove), int(steps_per_bar), float(chord)
        # the chord pull acts inside a frame, track by track (VoiceHead.sample's ``within``)
        self.within = self._within if self.chord > 0 else None
        self.drums = torch.tensor(sorted(set(drums)), dtype=torch.long)
        self.age = self.counts = self.bar = None
        self.n = -1  # the index of the frame just given (-1: the zeros before the first)

    def __call__(self, prev: torch.Tensor) -> torch.Tensor | None:
        """The frame just drawn ``(B, F)`` (zeros before the first) -> offsets ``(B, F)``
        for the next frame's logits, or None when nothing pulls yet."""
        B = prev.shape[0]
        f = (prev.detach().float().cpu() > 0.5).reshape(B, self.K, self.C, self.P)
        notes = f[:, :, 0]
        if self.age is None:
            self.age = torch.zeros(B, self.K, self.P, dtype=torch.long)
            self.counts = torch.zeros(B, 12)
        starts = notes & (f[:, :, 1] if self.C > 1 else self.age == 0)
        self.age = torch.where(notes, torch.where(starts, 1, self.age + 1), 0)
        new = (starts & self.pitched[None, :, None]).float().sum(1)  # (B, P)
        self.counts = self.counts * self.decay + new @ self.pc
        if self.bar is None:
            self.bar = torch.zeros(B, max(self.spb, 1), self.K, self.P, dtype=torch.bool)
        if self.n >= 0 and self.spb > 0:
            self.bar[:, self.n % self.spb] = starts
        self.n += 1
        offset = torch.zeros(B, self.K, self.C, self.P)
        pulled = False
        if self.hold > 0:
            young = ((self.age > 0) & (self.age < self.min_steps)).float()
            offset[:, :, 0] += self.hold * young
            if self.C > 1:
                offset[:, :, 1] -= self.hold * young
            pulled = bool(young.any())
        if self.key > 0:
            ready = self.counts.sum(-1) >= self.min_notes  # (B,)
            if ready.any():
                root = (self.counts @ self.scales.t()).argmax(-1)  # (B,)
                outside = (1 - self.scales[root]) @ self.pc.t()  # (B, P): 1 outside the scale
                pull = -self.key * outside * ready[:, None].float()
                offset[:, :, 0] += pull[:, None, :] * self.pitched[None, :, None].float()
                pulled = True
        if self.groove > 0 and self.spb > 0 and len(self.drums) and self.n >= self.spb:
            again = self.bar[:, self.n % self.spb]  # (B, K, P): the starts of one bar ago, at this place
            pull = self.groove * (2 * again[:, self.drums].float() - 1)  # drums only
            offset[:, self.drums, 0] += pull * (~notes[:, self.drums]).float()
            if self.C > 1:
                offset[:, self.drums, 1] += pull
            pulled = True
        return offset.reshape(B, -1).to(prev.device) if pulled else None

    def _within(self, k: int, before: torch.Tensor) -> torch.Tensor | None:
        """The chord pull, inside a frame: the tracks drawn so far in it ``before``
        ``(B, k * C * P)`` -> offsets ``(B, C, P)`` for track ``k``'s bits, or None."""
        if k == 0 or not bool(self.pitched[k]):
            return None
        B = before.shape[0]
        notes = (before.detach().float().cpu() > 0.5).reshape(B, k, self.C, self.P)[:, :, 0]
        pcs = (notes & self.pitched[None, :k, None]).float().sum(1) @ self.pc > 0  # (B, 12)
        if not pcs.any():
            return None
        offset = torch.zeros(B, self.C, self.P)
        offset[:, 0] = self.chord * (pcs.float() @ self.pc.t())
        return offset.to(before.device)
