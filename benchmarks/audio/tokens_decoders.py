"""The two decoders of an audio-token run, measured alike: the Frechet distance on
log-mel statistics of ``musegan evaluate`` (``evaluation.evaluate_audio``) against the
corpus, and the time to generate a clip.

    python benchmarks/audio/tokens_decoders.py RUN --reference WAV_DIR --out DIR [--num 32 --seconds 4]

Writes ``DIR/eval-tokens-<decoder>.json`` per decoder (``grains``: overlap-add of the
corpus's grains; ``spectra``: the codewords' log-mel through Griffin-Lim, 32 iterations).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from musegan.evaluation import evaluate_audio
from musegan.generation import load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--reference", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--num", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--decoders", default="grains,spectra")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    player = load(args.run)
    summary = {}
    for decoder in args.decoders.split(","):
        player.decoder = decoder
        t0 = time.process_time()
        ids = player.generate_tokens(args.seconds, 0, args.temperature, args.top_p)
        t1 = time.process_time()
        player.decode(ids, int(round(args.seconds * player.sr)))
        t2 = time.process_time()
        tag = f"-t{args.temperature:g}" + (f"-p{args.top_p:g}" if args.top_p < 1 else "")
        report = evaluate_audio(args.run, args.reference, out / f"eval-tokens-{decoder}{tag}.json", num=args.num,
                                seconds=args.seconds, temperature=args.temperature, top_p=args.top_p, model=player)
        summary[decoder] = {"frechet_all": report["generated_vs_reference"]["all_frames"],
                            "frechet_active": report["generated_vs_reference"]["active_frames"],
                            "real_halves_all": report["reference_half_vs_half"]["all_frames"],
                            "cpu_s_sample_tokens": round(t1 - t0, 3), "cpu_s_decode": round(t2 - t1, 3),
                            "seconds": args.seconds}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
