"""Seconds to generate N bars once a model is loaded, on a quiet machine and beside a
training run (a second process that keeps both cores busy), the way the studio page and
composition scripts use it.

    python benchmarks/generation_speed.py runs/bach-lstm --bars 16 --repeat 10
    python benchmarks/generation_speed.py runs/bach-lstm --busy     # also beside `musegan train`
    python benchmarks/generation_speed.py RUN --temperature 0.9 --pull hold=4 --pull key=1.5   # sampling as generate's flags

Prints the median and the best wall time of ``model.generate_song`` over ``--repeat``
seeds, and the CPU seconds it used.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import musegan


def timings(model, bars: int, repeat: int, **sampling) -> dict:
    wall, cpu = [], []
    model.generate_song(bars=bars, seed=0, **sampling)  # warm-up
    for seed in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        model.generate_song(bars=bars, seed=seed, **sampling)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"median_s": statistics.median(wall), "best_s": min(wall), "cpu_s": statistics.median(cpu)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--temperature", type=float, help="default: the run's, as musegan generate")
    p.add_argument("--pull", action="append", default=[], metavar="NAME=NATS", help="as musegan generate")
    p.add_argument("--busy", action="store_true", help="also time it beside a training run on the default corpus")
    args = p.parse_args()
    model = musegan.load(args.run)
    sampling = {"top_p": args.top_p, "temperature": args.temperature,
                "pulls": {k: float(v) for k, _, v in (x.partition("=") for x in args.pull)} or None}
    quiet = timings(model, args.bars, args.repeat, **sampling)
    print(f"quiet: {args.bars} bars in {quiet['median_s']:.3f} s median ({quiet['best_s']:.3f} s best, "
          f"{quiet['cpu_s']:.3f} CPU s)")
    if not args.busy:
        return
    with tempfile.TemporaryDirectory() as tmp:
        trainer = subprocess.Popen([sys.executable, "-m", "musegan", "train", "--out", os.path.join(tmp, "busy"),
                                    "--steps", "100000", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(60)  # past preparation: training on both cores
            busy = timings(model, args.bars, args.repeat, **sampling)
        finally:
            trainer.kill()
            trainer.wait()
    print(f"beside a training run: {args.bars} bars in {busy['median_s']:.3f} s median ({busy['best_s']:.3f} s best, "
          f"{busy['cpu_s']:.3f} CPU s); {busy['median_s'] / quiet['median_s']:.2f}x the quiet time")


if __name__ == "__main__":
    main()
