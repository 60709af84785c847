"""The copy check of whole seconds of audio-token runs (``TokenAudioModel.draw``: a
generated second nearer the corpus than ``min_copy_distance`` is drawn again) measured
as ``musegan evaluate`` scores a run, and how far the check's own distances agree with
the evaluation's.

    python benchmarks/audio/second_check.py RUN --reference WAV_DIR --out DIR --name NAME \\
        [--num 96 --seconds 4 --seed 0 --temperature 1.0 --top-p 1.0 \\
         --min-distance 0.25 --tries 8 --max-copy-seconds 0.1 --groups 128]

Writes ``DIR/eval-NAME.json`` (the report of ``evaluation.evaluate_audio``, the clips
drawn as ``musegan generate`` draws them with these settings) and adds a line to
``DIR/second-check-summary.json``: log-mel and feature Frechet distances, the
classifier's accuracy, copies flagged; how many seconds the check drew again and how
many it could not clear; and the agreement of the check's distance of each second
with the evaluation's (``audio_side`` on the written clip against the reference files
read again): the largest and mean difference and the seconds on which they disagree
about a copy. A run that predates the check (no ``reference_frames`` in its
checkpoint) is given the frames of the reference's prepared corpus here.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from copy_guard import clip_args  # this folder's
from musegan.data.dataset import PreparedCorpus
from musegan.data.prepare import list_music_files
from musegan.data.tokens import copy_reference
from musegan.evaluation import COPY_THRESHOLD, audio_side, evaluate_audio
from musegan.generation import guard_copies, load
from musegan.io.audio import read_audio
from musegan.metrics import log_mel_frames, loudness_floor, nearest_neighbour_distances, pooled_log_mel
from musegan.training import prepared_dir_for


def main() -> None:
    ap = clip_args(96)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--min-distance", type=float, help="min_copy_distance (0: no check; default: the run's)")
    ap.add_argument("--tries", type=int, help="copy_tries (default: the run's)")
    ap.add_argument("--max-copy-seconds", type=float, help="the n-gram guard (0: off; default: the run's)")
    ap.add_argument("--groups", type=int, help="the n-gram guard's codeword groups (default: the run's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    player = load(args.run)
    attached = "reference_frames" not in player.info
    if attached:
        player.info.update(copy_reference(PreparedCorpus(prepared_dir_for(args.reference, player.config.data)), player.sr))
    guard_copies(player, args.max_copy_seconds, args.run)
    for name, value in (("min_copy_distance", args.min_distance), ("copy_tries", args.tries),
                        ("copy_groups", args.groups)):
        if value is not None:
            setattr(player, name, value)
    waves, reports = [], []
    generate = player.generate

    def recorded(*a, **k):  # the clips evaluate_audio draws, and the check's report of each
        y, sr = generate(*a, **k)
        waves.append(np.asarray(y, np.float32))
        reports.append(list(player.copy_report))
        return y, sr

    player.generate = recorded
    t = time.process_time()
    report = evaluate_audio(args.run, args.reference, out / f"eval-{args.name}.json", num=args.num,
                            seconds=args.seconds, seed=args.seed, temperature=args.temperature, model=player,
                            top_p=args.top_p, log=print)
    cpu = time.process_time() - t
    # the evaluation's distance of each second, from the clip as written and the files read again
    ref = [log_mel_frames(read_audio(p, player.sr)[0], player.sr) for p in list_music_files(args.reference,
                                                                                           kind="audio")]
    floor = loudness_floor(ref)
    pooled = [pooled_log_mel(f, floor=floor) for f in ref]
    side = audio_side(waves, player.sr, floor)
    evald = [float(nearest_neighbour_distances([q], pooled, floor, relative=True)[0]) if on else None
             for q, on in zip(side["frames"], side["active"])]
    checked = [r for rep in reports for r in rep]
    both = [(c["distance"], e) for c, e in zip(checked, evald) if c["distance"] is not None and e is not None]
    diff = np.array([abs(c - e) for c, e in both])
    nn = report["nearest_neighbour"]["generated_to_reference"]
    f = report["features"]
    summary_path = out / "second-check-summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    summary[args.name] = {
        "run": args.run, "seed": args.seed, "num": args.num, "temperature": args.temperature, "top_p": args.top_p,
        "min_copy_distance": player.min_copy_distance, "copy_tries": player.copy_tries,
        "max_copy_seconds": player.max_copy_seconds, "copy_groups": player.copy_groups,
        "reference_attached_here": attached,
        "frechet_log_mel": report["generated_vs_reference"]["all_frames"],
        "frechet_log_mel_active": report["generated_vs_reference"]["active_frames"],
        "frechet_features": f["frechet_generated_vs_reference"],
        "c2st": f["classifier_two_sample_test"].get("accuracy"), "c2st_std": f["classifier_two_sample_test"].get("std"),
        "copies": nn["copies"], "active_seconds": nn["segments"], "nn_min": nn["min"], "nn_median": nn["median"],
        "evaluate_cpu_s": round(cpu, 1),
        "check": {
            "seconds": len(checked), "redrawn": sum(c["draws"] > 1 for c in checked),
            "draws": sum(c["draws"] for c in checked),
            "not_cleared": sum(c["distance"] is not None and c["distance"] < player.min_copy_distance
                               for c in checked) if player.min_copy_distance else None,
            "active_disagree": sum((c["distance"] is None) != (e is None) for c, e in zip(checked, evald))
            if checked else None,
            "compared": len(both),
            "max_abs_diff": round(float(diff.max()), 5) if len(diff) else None,
            "mean_abs_diff": round(float(diff.mean()), 6) if len(diff) else None,
            "copy_disagree": sum((c < COPY_THRESHOLD) != (e < COPY_THRESHOLD) for c, e in both),
        },
    }
    print(args.name, json.dumps(summary[args.name]), flush=True)
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
