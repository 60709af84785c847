"""Encode-decode round trip of the audio representation on a folder of recordings.

Each file is encoded exactly as ``musegan prepare`` stores it (44.1 kHz mono, float16
``log(M + 1e-5)``; log-mel 2048 / 512 / 128, and the linear STFT for comparison), decoded
as ``musegan generate`` decodes (least-squares mel inverse, fast Griffin-Lim, seed 0),
and scored by spectral convergence ``||S - |STFT(y)||| / ||S||`` against the linear STFT
magnitude of the original (0 is perfect). "mel inverse only" is the convergence of the
least-squares linear magnitudes themselves: what the mel projection loses before any
phase is sought. Prints mean and median over the files; one CPU thread.

    python benchmarks/audio/round_trip.py [--data DIR] [--iters 32,64] [--out results.json]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from musegan.config import DataConfig  # noqa: E402
from musegan.data.audio import encode_audio_file, spectrogram_settings  # noqa: E402
from musegan.data.prepare import list_music_files  # noqa: E402
from musegan.generation import spectrogram_to_audio  # noqa: E402
from musegan.io.audio import read_audio  # noqa: E402
from musegan.representations.spectrogram import from_spectrogram, magnitude, mel_to_linear, spectral_convergence  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wav" / "sonic_pi_samples" / "samples"


def main() -> None:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--iters", default="32,64", help="Griffin-Lim iterations, comma-separated")
    ap.add_argument("--out", help="write the figures as JSON")
    args = ap.parse_args()
    iters = [int(i) for i in args.iters.split(",")]
    files = list_music_files(args.data, kind="audio")
    configs = {"mel": DataConfig(kind="audio"), "stft": DataConfig(kind="audio", spectrogram="stft")}
    scores = {"mel inverse only": []} | {f"{k} {i} it": [] for k in configs for i in iters}
    seconds = {k: 0.0 for k in scores}
    for path in files:
        y, sr = read_audio(path)
        ref = magnitude(torch.from_numpy(y[0]))  # (bins, frames) of the original
        for kind, config in configs.items():
            frames, _ = encode_audio_file(path, config)
            stats = spectrogram_settings(config)
            S = torch.from_numpy(frames.astype(np.float32)).T  # (bins, frames), as stored
            if kind == "mel":
                scores["mel inverse only"].append(float(spectral_convergence(ref, mel_to_linear(from_spectrogram(S, stats)))))
            for n_iter in iters:
                t = time.process_time()
                rebuilt = spectrogram_to_audio(S, stats, n_iter, seed=0, length=y.shape[1])
                seconds[f"{kind} {n_iter} it"] += time.process_time() - t
                scores[f"{kind} {n_iter} it"].append(float(spectral_convergence(ref, magnitude(rebuilt))))
    total = sum(read_audio(p)[0].shape[1] for p in files) / 44100
    print(f"{args.data}: {len(files)} files, {total:.1f} s of audio; spectral convergence (0 is perfect)")
    print(f"{'decoder':<20}{'mean':>8}{'median':>8}{'CPU s':>8}")
    result = {"files": len(files), "audio_seconds": round(total, 2), "spectral_convergence": {}}
    for name, v in scores.items():
        v = np.asarray(v)
        print(f"{name:<20}{v.mean():8.4f}{np.median(v):8.4f}{seconds[name]:8.1f}")
        result["spectral_convergence"][name] = {"mean": round(float(v.mean()), 4),
                                                "median": round(float(np.median(v)), 4),
                                                "cpu_seconds": round(seconds[name], 1)}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
