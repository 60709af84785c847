"""The track-by-track output head: voices as one categorical per step.

A frame holds, per track, note bits and onset bits over its pitches (``(tracks,
channels, pitches)``, track major). A Bernoulli or NADE head over the whole frame lets a
soprano sound two pitches at once and cuts a held note whenever one bit comes out off.
This head models the tracks of a frame one after another, each given the state and the
tracks before it in the frame (DeepBach, BachBot):

* a *monophonic* track (a voice: the corpus shows at most one pitch in at least 99% of
  the steps where it sounds) is one categorical per step over ``rest``, ``hold`` (the
  note of the step before goes on) and each of its pitches (a new note starts). A voice
  then never sounds two pitches and sampling never cuts a held note;
* a *polyphonic* track (chords, piano, drums) keeps independent bits (``bernoulli``) or
  a NADE over its notes; a note that sounded the step before too is struck again or not
  by a bit of its own (a new note always starts with an onset, so a chord is no longer
  re-struck at random); all of it behind a gate that holds the track's notes of the
  step before: ``p(x) = g [x = held] + (1 - g) p_head(x)``, an exact mixture. A chord
  then lasts as one decision instead of every note bit coming out on again each step
  (without it, Nottingham's chords came out cut into sixteenths: 10% of their notes).
  With ``sustain``, the head's logit of each note that sounded the step before gets an
  offset of its own from the state (``sustain``), inside the joint model of the notes:
  the state alone has to carry the whole frame before to say which notes go on, and a
  piano part that changes one note re-drew the others and dropped one at random (at 12
  steps per quarter, 17-24% of the pop LSTM's piano notes lasted one step; the songs
  have under 1%). (Independent go-on bits with the head drawing only the new notes
  ended those blips but mixed the chords: scale consistency 0.73 against 0.90.)

Track ``k`` reads ``relu(A_k s + B_k x_<k)``: the sequence state ``s`` and the bits of
the tracks sampled before it in this frame.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REST, HOLD = 0, 1  # classes of a voice; a pitch p is class 2 + p


def nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Categorical probabilities ``(..., C)`` with the least likely classes outside the
    top-``top_p`` mass set to 0 (the most likely class always stays), renormalized."""
    if top_p >= 1:
        return probs
    sorted_p, order = probs.sort(-1, descending=True)
    keep_sorted = (sorted_p.cumsum(-1) - sorted_p) < top_p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def draw_classes(logits: torch.Tensor, temperature: float, generator=None, top_p: float = 1.0) -> torch.Tensor:
    """Classes ``(...)`` drawn from logits ``(..., C)``: the softmax of ``logits /
    temperature`` within its top-``top_p`` nucleus (temperature 0: the likeliest)."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = nucleus(torch.softmax(logits / temperature, -1), top_p)
    return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).view(probs.shape[:-1])


def draw_bits(logits: torch.Tensor, temperature: float, generator=None, top_p: float = 1.0) -> torch.Tensor:
    """Independent 0/1 bits drawn from logits: ``sigmoid(logits / temperature)``, each
    within its nucleus (``nucleus_bits``; temperature 0: the likelier value)."""
    if temperature <= 0:
        return (logits > 0).float()
    return torch.bernoulli(nucleus_bits(torch.sigmoid(logits / temperature), top_p), generator=generator)


def nucleus_bits(p: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p for independent bits: a bit whose likelier value has at least ``top_p`` of
    the mass takes that value; the others keep their probability."""
    if top_p >= 1:
        return p
    return torch.where(torch.maximum(p, 1 - p) >= top_p, (p > 0.5).to(p.dtype), p)


class VoiceHead(nn.Module):
    def __init__(self, hidden_size: int, n_tracks: int, n_channels: int, n_pitches: int, mono: tuple,
                 poly: str = "bernoulli", head_hidden: int = 150, sustain: bool = False):
        super().__init__()
        from .base import BernoulliHead
        from .nade import NADEHead

        self.K, self.C, self.P = n_tracks, n_channels, n_pitches
        self.mono = tuple(bool(m) for m in mono)
        size = self.C * self.P
        self.state = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(self.K))
        self.context = nn.ModuleList(nn.Linear(k * size, hidden_size, bias=False) for k in range(1, self.K))
        self.out = nn.ModuleList(
            nn.Linear(hidden_size, 2 + self.P) if m
            else (NADEHead(hidden_size, self.P, head_hidden) if poly == "nade" else BernoulliHead(hidden_size, self.P))
            for m in self.mono)
        self.hold = nn.ModuleDict({str(k): nn.Linear(hidden_size, 1) for k, m in enumerate(self.mono) if not m})
        self.restrike = nn.ModuleDict({str(k): nn.Linear(hidden_size, self.P)
                                       for k, m in enumerate(self.mono) if not m and self.C > 1})
        self.sustain = nn.ModuleDict({str(k): nn.Linear(hidden_size, self.P)
                                      for k, m in enumerate(self.mono) if not m and sustain})

    # -- frames and voice classes ------------------------------------------------------
    def tracks(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., F)`` -> ``(..., K, C, P)``."""
        return x.reshape(*x.shape[:-1], self.K, self.C, self.P)

    def classes(self, track: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """A voice's bits ``(..., C, P)`` and the step before's -> its class ``(...)``:
        rest, hold (its highest sounding pitch sounded the step before, with no onset
        now), or 2 + that pitch (a new note). A step of two pitches keeps the highest."""
        active = track[..., 0, :] > 0.5
        pitch = (active * torch.arange(1, self.P + 1, device=track.device)).argmax(-1)  # highest; 0 if silent
        sounding = active.any(-1)
        was = prev[..., 0, :].gather(-1, pitch[..., None])[..., 0] > 0.5
        onset = track[..., 1, :].gather(-1, pitch[..., None])[..., 0] > 0.5 if self.C > 1 else torch.zeros_like(was)
        held = sounding & was & ~onset
        return torch.where(~sounding, REST, torch.where(held, HOLD, 2 + pitch))

    def bits(self, cls: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """The inverse of ``classes``: classes ``(B,)`` and the step before ``(B, C, P)`` ->
        bits ``(B, C, P)``."""
        out = torch.zeros_like(prev)
        new = cls >= 2
        rows = new.nonzero()[:, 0]
        out[rows, 0, cls[rows] - 2] = 1.0
        if self.C > 1:
            out[rows, 1, cls[rows] - 2] = 1.0
        hold = cls == HOLD
        out[hold, 0] = prev[hold, 0]
        return out

    def _logits(self, k: int, z: torch.Tensor, prev_track: torch.Tensor) -> torch.Tensor:
        """Voice ``k``'s class logits; ``hold`` is impossible after a silent step."""
        logits = self.out[k](z).float()
        silent = ~(prev_track[..., 0, :] > 0.5).any(-1)
        hold = logits[..., HOLD].masked_fill(silent, float("-inf"))
        return torch.cat([logits[..., :HOLD], hold[..., None], logits[..., HOLD + 1 :]], -1)

    @staticmethod
    def held(prev_track: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A polyphonic track's bits ``(..., C, P)`` if it holds the step before's notes (no
        onsets), and whether the step before sounded at all."""
        held = torch.zeros_like(prev_track)
        held[..., 0, :] = prev_track[..., 0, :]
        return held, (prev_track[..., 0, :] > 0.5).any(-1)

    def _poly_nll(self, k: int, z: torch.Tensor, track: torch.Tensor, prev_track: torch.Tensor) -> torch.Tensor:
        """``-log(g [x = held] + (1 - g) p_new(x))`` of a polyphonic track."""
        held, sounded = self.held(prev_track)
        is_held = ((track > 0.5) == (held > 0.5)).flatten(-2).all(-1) & sounded
        g = self.hold[str(k)](z).float()[..., 0]
        keep = F.logsigmoid(g).masked_fill(~is_held, float("-inf"))
        new = torch.where(sounded, F.logsigmoid(-g), 0.0) - self._new_nll(k, z, track, prev_track)  # no gate after silence
        return -torch.logaddexp(keep, new)

    def _new_nll(self, k: int, z: torch.Tensor, track: torch.Tensor, prev_track: torch.Tensor) -> torch.Tensor:
        """``-log p_new(x)``: the notes by the head (with ``sustain``, pulled towards the
        notes of the step before, see ``_offset``); then, for a
        note that sounded the step before too, whether it is struck again (a note that did
        not sound starts with an onset, one that stops has none: nothing to choose)."""
        nll = self.out[k].nll(z, track[..., 0, :], offset=self._offset(k, z, prev_track))
        if self.C > 1:
            sustained = track[..., 0, :] * prev_track[..., 0, :]
            again = F.binary_cross_entropy_with_logits(self.restrike[str(k)](z).float(), track[..., 1, :],
                                                       reduction="none")
            nll = nll + (again * sustained).sum(-1)
        return nll

    def _offset(self, k: int, z: torch.Tensor, prev_track: torch.Tensor) -> torch.Tensor | None:
        """With ``sustain``: the pull ``(..., P)`` towards the notes of the step before."""
        return self.sustain[str(k)](z).float() * prev_track[..., 0, :] if str(k) in self.sustain else None

    def _new_sample(self, k: int, z: torch.Tensor, prev_track: torch.Tensor, temperature: float, generator,
                    top_p: float, steer: torch.Tensor | None = None) -> torch.Tensor:
        """A polyphonic track's new notes; ``steer`` ``(B, C, P)`` is added to the logits of
        its note bits and of its re-strike bits."""
        offset = self._offset(k, z, prev_track)
        if steer is not None:
            offset = steer[:, 0] if offset is None else offset + steer[:, 0]
        notes = self.out[k].sample(z, temperature, generator, top_p=top_p, offset=offset)
        if self.C == 1:
            return notes[:, None]
        again_logits = self.restrike[str(k)](z).float()
        again = draw_bits(again_logits if steer is None else again_logits + steer[:, 1], temperature, generator, top_p)
        before = prev_track[:, 0]
        return torch.stack([notes, notes * (1 - before) + notes * before * again], 1)

    def _class_offset(self, steer: torch.Tensor, prev_track: torch.Tensor) -> torch.Tensor:
        """Bit offsets ``(B, C, P)`` -> a voice's class offsets ``(B, 2 + P)``: rest 0, hold
        the note bit of the note it holds, a new note at ``p`` its note and onset bits."""
        new = steer.sum(1) if self.C > 1 else steer[:, 0]
        hold = (steer[:, 0] * (prev_track[:, 0] > 0.5)).sum(-1, keepdim=True)
        return torch.cat([torch.zeros_like(hold), hold, new], -1)

    def _inputs(self, k: int, h: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        a = self.state[k](h)
        if k:
            a = a + self.context[k - 1](before)
        return F.relu(a)

    # -- the head interface --------------------------------------------------------------
    @torch.no_grad()
    def init_from_data(self, mean_frame: torch.Tensor) -> None:
        """Polyphonic tracks start at their bit frequencies (see BernoulliHead)."""
        for k, head in enumerate(self.out):
            if not self.mono[k]:
                track = self.tracks(mean_frame)[k]
                head.init_from_data(track[0])
                if self.C > 1:  # start from the corpus's onsets per sounding step (an upper bound)
                    notes, onsets = track.sum(-1)
                    starts = (onsets / notes.clamp_min(1e-6)).clamp(.01, .99)
                    self.restrike[str(k)].bias.fill_(float(torch.logit(starts)))
                    if str(k) in self.sustain:  # as many notes stop as start: a note goes on with 1 - starts
                        p = track[0].float().clamp(1e-4, 1 - 1e-4)  # the head's start
                        self.sustain[str(k)].bias.copy_(torch.logit(1 - starts) - torch.logit(p))

    def nll(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, H)``, frames ``(B, T, F)`` -> ``(B, T)`` NLL per frame (the sum over
        tracks, each given the tracks before it)."""
        x = x.float()
        tr = self.tracks(x)
        prev = F.pad(tr, (0, 0, 0, 0, 0, 0, 1, 0))[:, :-1]  # the step before; silence before the first
        total = torch.zeros(x.shape[:2], device=x.device)
        for k in range(self.K):
            z = self._inputs(k, h, x[..., : k * self.C * self.P])
            if self.mono[k]:
                logits = self._logits(k, z, prev[:, :, k])
                target = self.classes(tr[:, :, k], prev[:, :, k])
                total = total + F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
            else:
                total = total + self._poly_nll(k, z, tr[:, :, k], prev[:, :, k])
        return total

    @torch.no_grad()
    def sample(self, h: torch.Tensor, temperature: float = 1.0, generator=None, prev: torch.Tensor | None = None,
               top_p: float = 1.0, given: tuple | None = None, offset: torch.Tensor | None = None,
               within=None) -> torch.Tensor:
        """``(B, H)`` and the frame before ``(B, F)`` -> a frame ``(B, F)``, track by track.
        ``temperature`` divides the logits (0: the likeliest class or bit); ``top_p``
        keeps the nucleus of each categorical and of each bit. ``given``: ``(frame (B, F),
        known (B, K))``, tracks kept as given (clamped), so that the tracks after them
        in the frame are drawn knowing them. ``offset`` ``(B, F)``: added to the logits of
        the frame's bits; a voice's class gets the offsets of the bits it sets (a new note:
        its note and onset bits; hold: the held note's note bit). A polyphonic track's
        gate (hold every note) is not steered. ``within``: called with each track's index
        and the tracks drawn before it in this frame ``(B, k * C * P)``, returns more
        offsets ``(B, C, P)`` for that track's bits, or None (``Steering.within``)."""
        B = h.shape[0]
        prev = torch.zeros(B, self.K * self.C * self.P, device=h.device) if prev is None else prev.float()
        prev_tr = self.tracks(prev)
        steer = None if offset is None else self.tracks(offset.float())
        parts = []
        for k in range(self.K):
            before = torch.cat(parts, -1) if parts else h.new_zeros(B, 0)
            z = self._inputs(k, h, before)
            steer_k = None if steer is None else steer[:, k]
            extra = None if within is None else within(k, before)
            if extra is not None:
                steer_k = extra if steer_k is None else steer_k + extra
            if self.mono[k]:
                logits = self._logits(k, z, prev_tr[:, k])
                if steer_k is not None:
                    logits = logits + self._class_offset(steer_k, prev_tr[:, k])
                cls = draw_classes(logits, temperature, generator, top_p)
                parts.append(self.bits(cls, prev_tr[:, k]).flatten(1))
            else:
                held, sounded = self.held(prev_tr[:, k])
                g = torch.sigmoid(self.hold[str(k)](z).float()[:, 0] / max(temperature, 1e-6))
                keep = (torch.bernoulli(nucleus_bits(g, top_p), generator=generator) > 0) & sounded
                new = self._new_sample(k, z, prev_tr[:, k], temperature, generator, top_p, steer_k)
                parts.append(torch.where(keep[:, None], held.flatten(1), new.flatten(1)))
            if given is not None:
                size = self.C * self.P
                parts[-1] = torch.where(given[1][:, k : k + 1], given[0][:, k * size : (k + 1) * size].float(), parts[-1])
        return torch.cat(parts, -1)
