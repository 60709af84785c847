"""Corpus preparation speed: ``musegan prepare`` against ``pypianoroll.read``.

    python benchmarks/prepare_speed.py [FOLDER] [--reference-files N]

Prints files/s for a cold prepare (every file read, tracks mapped, shards and the
manifest written) with all cores and with one process, files/s for a cached second
run, and files/s of ``pypianoroll.read`` (pretty_midi underneath, one process) on
the first N files of the same folder. Needs ``pip install pypianoroll``.
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


def timed_prepare(folder, workers: int) -> tuple[float, dict, float, float]:
    """Cold wall seconds, manifest, cached wall seconds, cold CPU seconds of this process."""
    with tempfile.TemporaryDirectory() as out:
        t, c = time.perf_counter(), time.process_time()
        m = prepare_corpus(folder, out, DataConfig(), workers=workers, progress=False)
        cold, cpu = time.perf_counter() - t, time.process_time() - c
        t = time.perf_counter()
        prepare_corpus(folder, out, DataConfig(), workers=workers, progress=False)
        warm = time.perf_counter() - t
    return cold, m, warm, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(DEFAULT))
    ap.add_argument("--reference-files", type=int, default=200, help="files read by pypianoroll (it is slow)")
    args = ap.parse_args()
    files = list_music_files(args.folder)
    n = len(files)
    print(f"{args.folder}: {n} files, {os.cpu_count()} cores")

    cold_all, m, warm, _ = timed_prepare(args.folder, workers=0)
    cold_one, _, _, cpu_one = timed_prepare(args.folder, workers=1)
    s = m["summary"]
    print(f"musegan prepare, all cores : {n / cold_all:8.1f} files/s  ({cold_all:.2f} s; {s['ok']} ok, {s['skipped']} skipped)")
    print(f"musegan prepare, 1 process : {n / cold_one:8.1f} files/s  ({cold_one:.2f} s; {cpu_one / n * 1000:.2f} ms CPU per file)")
    print(f"musegan prepare, cached    : {n / warm:8.1f} files/s  ({warm:.2f} s)")

    try:
        import pypianoroll
    except ImportError:
        sys.exit("pypianoroll is not installed: pip install pypianoroll")
    subset = files[: args.reference_files]
    warnings.simplefilter("ignore")
    t, c = time.perf_counter(), time.process_time()
    for f in subset:
        pypianoroll.read(f, resolution=4)
    ref, ref_cpu = len(subset) / (time.perf_counter() - t), (time.process_time() - c) / len(subset)
    print(f"pypianoroll.read, 1 process: {ref:8.1f} files/s  (first {len(subset)} files; {ref_cpu * 1000:.2f} ms CPU per file)")
    print(f"speed-up in files/s: {n / cold_all / ref:.1f}x (all cores vs 1 process), "
          f"{n / cold_one / ref:.1f}x (1 process each)")
    print(f"speed-up in CPU time per file (1 process each; robust on a shared machine): {ref_cpu / (cpu_one / n):.1f}x")


if __name__ == "__main__":
    main()
