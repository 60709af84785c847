"""How long ``musegan --help`` and an argument error take to answer: the median wall
clock of 10 runs of the installed ``musegan`` entry point (else ``python -m musegan``).

    python benchmarks/cli_startup.py [--runs 10]
"""
import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {"musegan --help": ["--help"], "musegan train --bogus": ["train", "--bogus"]}


def entry_point() -> list:
    exe = Path(sys.executable).with_name("musegan")
    if exe.is_file():
        return [str(exe)]
    return [shutil.which("musegan")] if shutil.which("musegan") else [sys.executable, "-m", "musegan"]


def median_seconds(argv: list, runs: int) -> tuple[float, int]:
    times, rc = [], None
    for _ in range(runs):
        start = time.perf_counter()
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), rc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    runs = ap.parse_args().runs
    base = entry_point()
    print(f"{' '.join(base)}: median of {runs} runs")
    for name, args in COMMANDS.items():
        seconds, rc = median_seconds(base + args, runs)
        print(f"  {name:<24} {seconds * 1000:7.0f} ms  (exit {rc})")


if __name__ == "__main__":
    main()
