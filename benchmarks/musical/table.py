"""Markdown tables of benchmarks/musical/results: per corpus, each metric on the real
data and on each family's samples (mean, and in brackets the overlapping area of the
per-sample distributions with the real ones)."""
import json
import sys
from pathlib import Path

R = Path(__file__).resolve().parent / "results"
FAMILIES = ("gan", "lstm", "conv")
NAMES = {"notts": "Nottingham (melody + chords, 2 tracks kept)", "pop": "Pop multi-track (LPD-5, 5 tracks)"}


def fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def main(out=sys.stdout):
    for corpus, title in NAMES.items():
        runs = {f: json.loads((R / f"{corpus}-{f}.json").read_text()) for f in FAMILIES
                if (R / f"{corpus}-{f}.json").is_file()}
        if not runs:
            continue
        train = {f: json.loads((R / f"{corpus}-{f}.train.json").read_text()) for f in runs
                 if (R / f"{corpus}-{f}.train.json").is_file()}
        any_run = next(iter(runs.values()))
        print(f"### {title}\n", file=out)
        print(f"{any_run['reference']['samples']} real segments of {any_run['bars']} bars from "
              f"{any_run['reference']['songs']} songs; {any_run['generated']['samples']} generated samples per "
              f"family; metrics at {any_run['resolution']} steps per quarter note.\n", file=out)
        fams = [f for f in FAMILIES if f in runs]
        print("| metric | real | " + " | ".join(fams) + " |", file=out)
        print("|---|---|" + "---|" * len(fams), file=out)
        print("| training steps / seconds | - | " + " | ".join(
            f"{train[f]['steps']} / {train[f]['seconds']:.0f}" if f in train else "-" for f in fams) + " |", file=out)
        for name, m in any_run["metrics"].items():
            cells = [f"{fmt(runs[f]['metrics'].get(name, {}).get('generated'))} "
                     f"({fmt(runs[f]['metrics'].get(name, {}).get('overlap'), 2)})" for f in fams]
            print(f"| {name} | {fmt(m['reference'])} | " + " | ".join(cells) + " |", file=out)
        mean_oa = []
        for f in fams:
            oas = [v["overlap"] for v in runs[f]["metrics"].values() if v.get("overlap") is not None]
            mean_oa.append(f"{sum(oas) / len(oas):.3f}" if oas else "-")
        print("| **mean overlap** | 1 | " + " | ".join(mean_oa) + " |\n", file=out)


if __name__ == "__main__":
    main()
