"""Peak memory of ``musegan prepare`` against the number of files.

    python benchmarks/prepare_memory.py [--sizes 100 1000 3000] [--folder FOLDER] [--workers W]

For each N, a temporary folder of N symbolic links to the files of FOLDER (default:
the Nottingham MIDI files, recursively; reused under distinct names when N is larger
than the folder) is prepared by ``musegan prepare`` (``musegan.cli.main``) in a fresh
process into a fresh output folder. A table gives, per N:

* peak RSS of the parent (polled every 20 ms with psutil; and its own ``ru_maxrss``),
  of the workers (the largest one's ``ru_maxrss``, and the polled peak of their sum),
  and of the whole process tree (polled; workers are forked, so the sum counts pages
  they share with the parent more than once: an upper bound);
* wall seconds of the prepare process (Python start and imports included) and files/s
  of the command (listing the folder included);
* disk used by the output (shards and manifest.json, in allocated blocks).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "midi" / "nottingham" / "MIDI"

# Runs in the fresh process: the command line's prepare, then its own peak and its children's.
CHILD = """
import json, resource, sys, time
from musegan.cli import main
t = time.perf_counter()
assert main(["prepare", sys.argv[1], "--out", sys.argv[2], "--workers", sys.argv[3], "--quiet"]) == 0
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds,
                  "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def link_corpus(files: list[Path], n: int, folder: Path) -> Path:
    """``n`` links to ``files`` (cycled) under distinct names, in subfolders of 1,000."""
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        f = files[i % len(files)]
        (sub / f"{i:06d}-{f.name}").symlink_to(f)
    return folder


def disk_used(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def measure(corpus: Path, out: Path, workers: int) -> dict:
    """Run the prepare process, polling its tree's RSS every 20 ms."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t = time.perf_counter()
    proc = psutil.Popen([sys.executable, "-c", CHILD, str(corpus), str(out), str(workers)],
                        stdout=subprocess.PIPE, env=env, text=True)
    peak = {"parent": 0, "workers": 0, "tree": 0}
    while proc.poll() is None:
        try:
            parent = proc.memory_info().rss
            workers_rss = sum(c.memory_info().rss for c in proc.children(recursive=True))
        except psutil.Error:  # a process ended between listing and reading
            time.sleep(0.02)
            continue
        peak["parent"] = max(peak["parent"], parent)
        peak["workers"] = max(peak["workers"], workers_rss)
        peak["tree"] = max(peak["tree"], parent + workers_rss)
        time.sleep(0.02)
    wall = time.perf_counter() - t
    stdout, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"prepare failed (exit {proc.returncode})")
    r = json.loads(stdout.strip().splitlines()[-1])
    return {**r, "wall": wall, "peak": peak, "disk": disk_used(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000], help="numbers of files")
    ap.add_argument("--folder", default=str(DEFAULT), help="source of the files (recursively)")
    ap.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    args = ap.parse_args()
    from musegan.data.prepare import list_music_files

    files = list_music_files(args.folder)
    print(f"{args.folder}: {len(files)} files, reused by links; {os.cpu_count()} cores, workers={args.workers or 'all'}")
    mb = 1 / 2**20
    print("| files | parent peak RSS (polled / ru_maxrss) | largest worker ru_maxrss | workers' RSS summed | "
          "tree RSS summed | wall (process) | command files/s | disk (shards + manifest) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = link_corpus(files, n, Path(tmp) / "corpus")
            r = measure(corpus, Path(tmp) / "out", args.workers)
        p = r["peak"]
        print(f"| {n:,} | {p['parent'] * mb:.0f} / {r['self_kb'] / 1024:.0f} MB | {r['children_kb'] / 1024:.0f} MB | "
              f"{p['workers'] * mb:.0f} MB | {p['tree'] * mb:.0f} MB | {r['wall']:.1f} s | "
              f"{n / r['seconds']:,.0f} | {r['disk'] * mb:.1f} MB |", flush=True)


if __name__ == "__main__":
    main()
