"""The scale of ``musegan evaluate``'s audio figures on a corpus, without a model: the
hand-made-feature Frechet distance and classifier two-sample test between two random
halves of the files, and the nearest-neighbour distance (RMS over 32 pooled log-mel
bands, relative to the query's RMS height above the floor, as ``evaluate`` reports it) of

- each active second of one half to the other half (real against real: how close
  distinct recordings of the corpus come),
- each active second of a *decoded copy* of a file (encoded as ``prepare`` stores it,
  log-mel 2048 / 512 / 128 float16, decoded as ``generate`` decodes it) to the corpus:
  what a model that reproduces its training frames exactly would score;

whence the copy threshold (``musegan.evaluation.COPY_THRESHOLD``). One CPU thread.

    python benchmarks/audio/copies.py [--data DIR] [--copies 40] [--out results.json]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from musegan.config import DataConfig  # noqa: E402
from musegan.data.audio import encode_audio_file, spectrogram_settings  # noqa: E402
from musegan.data.prepare import list_music_files  # noqa: E402
from musegan.evaluation import COPY_THRESHOLD, active_frames, audio_side, log_mel_frames, side_halves  # noqa: E402
from musegan.generation import spectrogram_to_audio  # noqa: E402
from musegan.io.audio import read_audio  # noqa: E402
from musegan.metrics import (  # noqa: E402
    classifier_two_sample_test,
    feature_frechet_distance,
    nearest_neighbour_distances,
    pooled_log_mel,
)

DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wav" / "sonic_pi_samples" / "samples"


def summary(d: np.ndarray) -> dict:
    return {"segments": len(d), "min": round(float(d.min()), 4), "p05": round(float(np.percentile(d, 5)), 4),
            "p25": round(float(np.percentile(d, 25)), 4), "median": round(float(np.median(d)), 4),
            "p95": round(float(np.percentile(d, 95)), 4), "max": round(float(d.max()), 4),
            "below_threshold": round(float((d < COPY_THRESHOLD).mean()), 4)}


def main() -> None:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--copies", type=int, default=40, help="files decoded as copies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args()
    sr = 44100
    files = list_music_files(args.data, kind="audio")
    random.Random(args.seed).shuffle(files)  # as evaluate_audio orders them
    waves = [read_audio(p, sr)[0][0] for p in files]
    ref = [log_mel_frames(y, sr) for y in waves]
    floor = max(float(f.max()) for f in ref) - 60 / 20 * math.log(10)
    half = len(ref) // 2
    side = audio_side(waves, sr, floor)
    pooled = [pooled_log_mel(f, floor=floor) for f in ref]
    a, b = side_halves(side, half)
    feats_a, feats_b = a["features"], b["features"]
    c2st = classifier_two_sample_test(feats_a, feats_b, args.seed, generated_groups=a["groups"],
                                      real_groups=b["groups"])
    held_out = nearest_neighbour_distances(active_frames(a), pooled[half:], floor, relative=True)
    config = DataConfig(kind="audio")
    stats = spectrogram_settings(config)
    decoded = []
    for path in files[: args.copies]:
        frames, _ = encode_audio_file(path, config)
        y = spectrogram_to_audio(torch.from_numpy(frames.astype(np.float32)).T, stats, 32, 0).numpy()
        decoded += active_frames(audio_side([y], sr, floor))
    copies = nearest_neighbour_distances(decoded, pooled, floor, relative=True)
    result = {"data": args.data, "files": len(files), "segments": len(side["features"]),
              "active_segments": int(sum(side["active"])), "threshold": COPY_THRESHOLD,
              "feature_frechet_half_vs_half": round(feature_frechet_distance(feats_a, feats_b), 3),
              "c2st_half_vs_half": {"accuracy": round(c2st["accuracy"], 3), "std": round(c2st["std"], 3),
                                    "segments": c2st["segments"]},
              "nn_held_out_half_to_half": summary(held_out), "nn_decoded_copies_to_corpus": summary(copies)}
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
