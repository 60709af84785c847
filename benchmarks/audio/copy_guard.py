"""The copy guard of audio-token runs (``TokenAudioModel.max_copy_seconds``: no stretch
that long of the training token stream, compared by ``copy_groups`` groups of near
codewords, is sampled; MaxOrder, Papadopoulos, Roy and Pachet 2014) measured at several
lengths: ``musegan evaluate``'s report (``evaluation.evaluate_audio``) per length, and
what the training stream's n-grams of that length are.

    python benchmarks/audio/copy_guard.py RUN --reference WAV_DIR --out DIR --name NAME \\
        [--lengths 0,0.5,0.25,0.1 --groups 128 --num 32 --seconds 4 --seed 0 --skip-held]

Writes ``DIR/eval-tokens-NAME-guard<seconds>[-skipheld][-groups<G>][-seed<seed>].json``
per length (0: no guard) and prints a summary line per length: log-mel Frechet distance,
feature Frechet distance, the classifier's accuracy, copies flagged, and the share of
the training n-grams of that length that are one token held (left out of the guard with
``--skip-held``, see ``CopyGuard``) and how much of those are the codeword of digital
silence. The summary of every setting measured is kept in ``DIR/guard-NAME-summary.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from musegan.evaluation import evaluate_audio
from musegan.generation import load
from musegan.representations.tokens import CopyGuard, codeword_groups


def held_share(ids: np.ndarray, n: int, silent_id: int) -> dict:
    """Of the training stream's n-grams (``n`` frames), the share that is one token held,
    and of those the share that is the silence codeword."""
    if n < 2 or len(ids) < n:
        return {"ngrams": 0}
    w = np.lib.stride_tricks.sliding_window_view(ids, n)
    held = (w == w[:, :1]).all(1)
    return {"ngrams": int(len(w)), "held_share": round(float(held.mean()), 4),
            "held_silent_share": round(float((w[held, 0] == silent_id).mean()), 4) if held.any() else None}


def clip_args(num: int) -> argparse.ArgumentParser:
    """The arguments of the token-run benchmarks (this one and second_check.py): the run,
    the reference folder, where to write and a name, and the clips drawn (``--num``
    clips of ``--seconds`` from seeds ``--seed`` on, at ``--temperature``)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--reference", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--num", type=int, default=num)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0, help="clip i from seed SEED + i")
    return ap


def main() -> None:
    ap = clip_args(32)
    ap.add_argument("--lengths", default="0,0.5,0.25,0.1", help="max_copy_seconds values (0: no guard)")
    ap.add_argument("--groups", type=int, help="compare n-grams of this many groups of near codewords (k-means of "
                                               "the codebook; 0: of the codewords; default: the run's, COPY_GROUPS)")
    ap.add_argument("--skip-held", action="store_true",
                    help="exempt n-grams of one token held (CopyGuard's skip_held=True)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    player = load(args.run)
    ids = player.info["train_ids"].long().numpy()
    stats = player.stats
    silence = (np.log(stats["eps"]) - stats["shift"]) / stats["scale"]
    silent_id = int(torch.cdist(torch.full((1, player.codebook.shape[1]), float(silence)), player.codebook).argmin())
    path = out / f"guard-{args.name}-summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}  # earlier lengths kept
    for s in (float(x) for x in args.lengths.split(",")):
        player.max_copy_seconds = s
        n = player.copy_frames
        if args.groups is not None:
            player.copy_groups = args.groups
        if n and args.skip_held:  # forbid() keeps a guard of the same settings
            groups = codeword_groups(player.codebook.numpy(), player.copy_groups) if player.copy_groups else None
            player._guards[(n, player.copy_groups)] = CopyGuard(ids, n, len(player.codebook), skip_held=True,
                                                                groups=groups)
        held = (("-skipheld" if args.skip_held else "") + (f"-groups{player.copy_groups}" if n else "")
                + (f"-seed{args.seed}" if args.seed else ""))
        report = evaluate_audio(args.run, args.reference, out / f"eval-tokens-{args.name}-guard{s:g}{held}.json",
                                num=args.num, seconds=args.seconds, seed=args.seed, temperature=args.temperature, model=player,
                                log=lambda *_: None)
        f, nn = report["features"], report["nearest_neighbour"]["generated_to_reference"]
        summary[f"{s:g}{held}"] = {
            "frames": n, "frechet_log_mel": report["generated_vs_reference"]["all_frames"],
            "frechet_features": f["frechet_generated_vs_reference"],
            "c2st": f["classifier_two_sample_test"].get("accuracy"), "copies": nn["copies"],
            "active_seconds": nn["segments"], "nn_min": nn["min"], "nn_median": nn["median"],
            "train_ngrams": held_share(ids, n or 0, silent_id)}
        print(f"{s:g}{held} ({n} frames):", json.dumps(summary[f"{s:g}{held}"]), flush=True)
        path.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
