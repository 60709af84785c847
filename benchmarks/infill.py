"""Infilling held-out chorales: how well a model fills what was erased (issue 11).

    python benchmarks/infill.py runs/bach-coconet [--spans 3] [--out benchmarks/results/infill-bach-coconet.json]

The held-out chorales are the run's own validation songs (never trained on). In each,
up to ``--spans`` 4-bar windows (seeded, apart) are cut, and two tasks erased:

* ``alto+tenor, 4 bars``: the two inner voices of the whole window;
* ``all voices, 2 bars``: every voice of the window's middle two bars.

For each task it prints and writes:

* ``accuracy``: the share of erased cells (voice x sixteenth) whose filled pitch (or
  rest) is the original's, for a fill drawn as ``musegan generate`` draws it (the run's
  own temperature unless ``--temperature``, top-p 1, its Gibbs iterations), and for the
  greedy fill (temperature 0);
* ``nll_independent``: the mean NLL (nats per erased cell) of the original, each erased
  cell given every cell not erased (one pass: what the model was trained on);
* ``nll_chain``: the NLL of the original by the chain rule in a random order of the
  erased cells, 4 cells at a time (an orderless NADE's estimate, as in Coconet);
* ``c2st``: a classifier two-sample test (the one of ``musegan evaluate``) of the
  filled 4-bar windows against the same windows of Bach (grouped by chorale);
* ``seconds``: wall time of the fills on one CPU thread;

and the time to infill 4 bars and to harmonize 16 bars through the Python API.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import musegan
from musegan.io.midi import write_midi
from musegan.metrics import classifier_two_sample_test, segment_features
from musegan.representations.pianoroll import Song, frames_to_notes, notes_to_frames
from musegan.training import load_corpus

WINDOW_BARS = 4


def windows(n_bars: int, spans: int, rng) -> list[int]:
    """Start bars of up to ``spans`` windows of 4 bars, at least one bar apart."""
    starts = list(range(0, n_bars - WINDOW_BARS + 1, WINDOW_BARS + 1))
    rng.shuffle(starts)
    return sorted(starts[:spans])


def voice_pitch(frames: torch.Tensor, K: int, C: int, P: int) -> torch.Tensor:
    """Frames ``(B, T, F)`` -> each voice's sounding pitch ``(B, T, K)`` (-1: rest)."""
    active = frames.view(*frames.shape[:2], K, C, P)[..., 0, :] > 0.5
    pitch = (active * torch.arange(1, P + 1)).argmax(-1)
    return torch.where(active.any(-1), pitch, -1)


def chain_nll(net, frames: torch.Tensor, erased: torch.Tensor, gen, block: int = 4) -> float:
    """The NLL per erased cell by the chain rule: erased cells revealed ``block`` at a time
    in a random order, each block scored given everything revealed before it."""
    hidden = erased.clone()
    order = [torch.randperm(int(e.sum()), generator=gen) for e in erased]
    cells = [e.nonzero() for e in erased]
    total, count = 0.0, int(erased.sum())
    steps = max(len(o) for o in order)
    for lo in range(0, steps, block):
        now = torch.zeros_like(erased)
        for b, (o, c) in enumerate(zip(order, cells)):
            pick = c[o[lo : lo + block]]
            now[b, pick[:, 0], pick[:, 1]] = True
        with torch.no_grad():
            nll = net.cell_nll(frames, hidden)
        total += float((nll * now).sum())
        hidden &= ~now
    return total / count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--corpus", help="the run's corpus folder (default: the built-in chorales)")
    ap.add_argument("--spans", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--songs", type=int, help="only the first N held-out songs")
    ap.add_argument("--temperature", type=float, help="default: the run's own (musegan generate's)")
    ap.add_argument("--iterations", type=int, help="Gibbs steps (default: the run's)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    model = musegan.load(args.run)
    net, config, spec = model.model, model.config, model.spec
    if not getattr(net, "conditions_on_future", False):
        sys.exit(f"{args.run}: a {config.model} model cannot infill")
    corpus = load_corpus(args.corpus, config, log=lambda *_: None, progress=False)
    report = {"run": args.run, "tasks": {}}
    _, valid = corpus.split(config.data.valid_percent)
    valid = valid[: args.songs] if args.songs else valid
    report["songs"] = len(valid)
    spb, K, C, P = model.steps_per_bar, spec.n_tracks, spec.n_channels, spec.n_pitches
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    temperature = net.default_temperature if args.temperature is None else args.temperature
    report["temperature"] = temperature
    tasks = {"alto+tenor, 4 bars": ([1, 2], 0, WINDOW_BARS), "all voices, 2 bars": (list(range(K)), 1, 3)}
    for name, (rows, first, last) in tasks.items():
        real_feats, fill_feats, groups, acc, acc0, nll_i, nll_c, cells, seconds = [], [], [], [], [], [], [], 0, 0.0
        for i in valid:
            song = corpus.song(i)
            n_bars = song.n_steps // spb
            starts = windows(n_bars, args.spans, rng)
            if not starts:
                continue
            T = n_bars * spb
            frames = torch.from_numpy(notes_to_frames(song.notes, spec, 0, T))[None].expand(len(starts), -1, -1)
            erased = torch.zeros(len(starts), T, K, dtype=torch.bool)
            for b, s in enumerate(starts):
                erased[b, (s + first) * spb : (s + last) * spb, rows] = True
            t = time.perf_counter()
            filled = net.complete(frames, ~erased, temperature, gen, iterations=args.iterations)
            seconds += time.perf_counter() - t
            greedy = net.complete(frames, ~erased, 0.0, gen, iterations=args.iterations)
            truth = voice_pitch(frames, K, C, P)
            acc.append(float((voice_pitch(filled, K, C, P) == truth)[erased].float().sum()))
            acc0.append(float((voice_pitch(greedy, K, C, P) == truth)[erased].float().sum()))
            with torch.no_grad():
                nll_i.append(float((net.cell_nll(frames, erased) * erased).sum()))
            nll_c.append(chain_nll(net, frames, erased, gen) * int(erased.sum()))
            cells += int(erased.sum())
            for b, s in enumerate(starts):
                lo, hi = s * spb, (s + WINDOW_BARS) * spb
                for side, x in ((real_feats, frames[b]), (fill_feats, filled[b])):
                    notes = frames_to_notes(x[lo:hi].numpy(), spec)
                    side.append(segment_features(Song(notes, song.tracks, song.resolution, song.tempos,
                                                      song.time_signatures, hi - lo)))
                groups.append(i)
        c2st = classifier_two_sample_test(fill_feats, real_feats, seed=args.seed, generated_groups=groups,
                                          real_groups=groups)
        short = lambda feats: float(np.mean([v for f in feats for k, v in f.items() if k.endswith("<=1/16 note share")]))  # noqa: E731
        r = {"windows": len(groups), "sixteenth_share_filled": short(fill_feats), "sixteenth_share_real": short(real_feats), "erased_cells": cells, "accuracy": sum(acc) / cells,
             "accuracy_greedy": sum(acc0) / cells, "nll_independent": sum(nll_i) / cells,
             "nll_chain": sum(nll_c) / cells, "c2st_accuracy": c2st["accuracy"], "c2st_std": c2st["std"],
             "c2st_top_features": [f["feature"] for f in c2st["features"][:5]], "fill_seconds": seconds}
        report["tasks"][name] = r
        print(f"{name}: {r['windows']} windows, accuracy {r['accuracy']:.3f} (greedy {r['accuracy_greedy']:.3f}), "
              f"NLL per erased cell {r['nll_independent']:.3f} independent / {r['nll_chain']:.3f} chain rule, "
              f"C2ST {r['c2st_accuracy']:.2f} +- {r['c2st_std']:.2f}, fills {seconds:.1f} s; notes of a sixteenth "
              f"{r['sixteenth_share_filled']:.3f} (Bach {r['sixteenth_share_real']:.3f})")

    if args.songs:
        return 0
    # through the API, as a user calls it: 4 bars infilled, 16 bars harmonized
    song = next(corpus.song(i) for i in valid if corpus.song(i).n_steps >= 16 * spb)
    with tempfile.TemporaryDirectory() as tmp:
        piece = write_midi(Path(tmp) / "piece.mid", Song(song.notes[song.notes[:, 2] < 16 * spb], song.tracks,
                                                         song.resolution, song.tempos, song.time_signatures, 16 * spb))
        melody = Song(song.notes[(song.notes[:, 0] == 0) & (song.notes[:, 2] < 16 * spb)], song.tracks[:1],
                      song.resolution, song.tempos, song.time_signatures, 16 * spb)
        melody_path = write_midi(Path(tmp) / "melody.mid", melody)
        model.infill(piece, bars=(5, 8), seed=0)  # warm-up
        t = time.perf_counter()
        model.infill(piece, bars=(5, 8), seed=1)
        report["infill_4_bars_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        model.harmonize(melody_path, seed=1)
        report["harmonize_16_bars_seconds"] = time.perf_counter() - t
    print(f"one thread: infill 4 bars of 16 in {report['infill_4_bars_seconds']:.2f} s, "
          f"harmonize 16 bars in {report['harmonize_16_bars_seconds']:.2f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
