"""Corpus preparation speed: ``musegan prepare`` against ``pypianoroll.read``.

    python benchmarks/prepare_speed.py [FOLDER] [--reference-files N] [--repeats R]

Prints files/s for a cold prepare (every file read, tracks mapped, shards and the
manifest written) with all cores and with one process, files/s for a cached second
run, and files/s of ``pypianoroll.read`` (pretty_midi underneath, one process) on
the first N files of the same folder. Each figure is the best of R rounds, the
measurements of a round one after the other: on a shared machine the others' load
comes and goes. Needs ``pip install pypianoroll``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from musegan.config import DataConfig
from musegan.data.prepare import list_music_files, prepare_corpus

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "midi" / "nottingham" / "MIDI"


def timed_prepare(folder, workers: int) -> tuple[float, float, float, dict]:
    """Cold wall seconds, cold CPU seconds of this process, cached wall seconds, manifest."""
    with tempfile.TemporaryDirectory() as out:
        t, c = time.perf_counter(), time.process_time()
        m = prepare_corpus(folder, out, DataConfig(), workers=workers, progress=False)
        cold, cpu = time.perf_counter() - t, time.process_time() - c
        t = time.perf_counter()
        prepare_corpus(folder, out, DataConfig(), workers=workers, progress=False)
        warm = time.perf_counter() - t
    return cold, cpu, warm, m


def timed_reference(files) -> tuple[float, float]:
    """Wall and CPU seconds of ``pypianoroll.read`` on ``files``."""
    import pypianoroll

    t, c = time.perf_counter(), time.process_time()
    for f in files:
        pypianoroll.read(f, resolution=4)
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(DEFAULT))
    ap.add_argument("--reference-files", type=int, default=200, help="files read by pypianoroll (it is slow)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; each figure is the best of them")
    args = ap.parse_args()
    try:
        import pypianoroll  # noqa: F401
    except ImportError:
        sys.exit("pypianoroll is not installed: pip install pypianoroll")
    warnings.simplefilter("ignore")
    files = list_music_files(args.folder)
    subset = files[: args.reference_files]
    n, k = len(files), len(subset)
    print(f"{args.folder}: {n} files, {os.cpu_count()} cores, best of {args.repeats}")

    rounds = [(timed_prepare(args.folder, workers=0), timed_prepare(args.folder, workers=1), timed_reference(subset))
              for _ in range(args.repeats)]
    cold_all = min(r[0][0] for r in rounds)
    warm = min(r[0][2] for r in rounds)
    cold_one, cpu_one = min(r[1][0] for r in rounds), min(r[1][1] for r in rounds) / n
    ref_wall, ref_cpu = min(r[2][0] for r in rounds), min(r[2][1] for r in rounds) / k
    s = rounds[0][0][3]["summary"]
    print(f"musegan prepare, all cores : {n / cold_all:8.1f} files/s  ({cold_all:.2f} s; {s['ok']} ok, {s['skipped']} skipped)")
    print(f"musegan prepare, 1 process : {n / cold_one:8.1f} files/s  ({cold_one:.2f} s; {cpu_one * 1000:.2f} ms CPU per file)")
    print(f"musegan prepare, cached    : {n / warm:8.1f} files/s  ({warm:.2f} s)")
    print(f"pypianoroll.read, 1 process: {k / ref_wall:8.1f} files/s  (first {k} files; {ref_cpu * 1000:.2f} ms CPU per file)")
    print(f"speed-up in files/s: {n / cold_all / (k / ref_wall):.1f}x (all cores vs 1 process), "
          f"{n / cold_one / (k / ref_wall):.1f}x (1 process each)")
    print(f"speed-up in CPU time per file (1 process each; robust on a shared machine): {ref_cpu / cpu_one:.1f}x")


if __name__ == "__main__":
    main()
