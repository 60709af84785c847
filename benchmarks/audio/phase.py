"""Phase reconstruction round trips: random-start fast Griffin-Lim vs PGHI vs PGHI + fast
Griffin-Lim, on log-mel and linear-STFT magnitudes, scored three ways; and the speed
against ``librosa.griffinlim``.

Each file (44.1 kHz mono; ``--seconds``: only its first seconds) is encoded as ``musegan
prepare`` stores it: ``log(M + 1e-5)``, normalized, float16 (log-mel 2048 / 512 / 128;
linear STFT 2048 / 512; linear STFT 2048 / 256, i.e. hop n_fft / 8, twice the frames),
decoded (mel: least-squares inverse first) by

- ``GL random``: fast Griffin-Lim (momentum 0.99) from random phases, ``--iters`` iterations;
- ``PGHI``: phase-gradient heap integration alone (no iteration);
- ``PGHI+GL``: fast Griffin-Lim started from PGHI's phases, ``--iters`` iterations
  (``PGHI+GL k``: ``k`` iterations, for each ``k`` of ``--sweep``);
- ``librosa``: ``librosa.griffinlim`` (its defaults: momentum 0.99, random start,
  ``--iters`` iterations) on the same linear magnitudes, only on the ``--librosa``
  representations (it is slow);

and scored against the original: spectral convergence (SC, of the 2048 / 512 linear STFT
magnitudes; 0 is perfect), log-spectral distance (LSD, dB, same magnitudes) and the
multi-resolution STFT distance (MR-STFT: SC + mean |log-magnitude difference| averaged
over FFT sizes 512 / 1024 / 2048, hop size / 4). Mean over files (SC: also median); CPU
seconds of the decoder alone (mel inverse included), one thread.

    python benchmarks/audio/phase.py [--data DIR] [--seconds 10] [--every 1] [--iters 32] [--sweep 4,8]
        [--librosa 'mel 2048/512/128'] [--out results.json]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import warnings  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from musegan.data.prepare import list_music_files  # noqa: E402
from musegan.io.audio import read_audio  # noqa: E402
from musegan.representations import spectrogram as S  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wav" / "sonic_pi_samples" / "samples"
REPRESENTATIONS = {"mel 2048/512/128": ("mel", 512), "stft 2048/512": ("stft", 512), "stft 2048/256": ("stft", 256)}


def encode_decode_magnitudes(y: torch.Tensor, kind: str, hop: int) -> torch.Tensor:
    """As prepare stores it (float16 normalized log), back to linear magnitudes (the mel
    inverse is timed with the decoder, so it is done by the caller)."""
    spec, stats = S.to_spectrogram(y, kind=kind, hop_length=hop)
    return S.from_spectrogram(spec.half().float(), stats)


def main() -> None:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--seconds", type=float, default=0, help="only the first seconds of each file (0: all)")
    ap.add_argument("--every", type=int, default=1, help="every k-th file (a subset)")
    ap.add_argument("--iters", type=int, default=32)
    ap.add_argument("--sweep", default="4,8", help="also PGHI+GL with these iterations (comma-separated)")
    ap.add_argument("--librosa", default="mel 2048/512/128", help="representations also decoded by librosa "
                                                                  "(comma-separated names; '' for none)")
    ap.add_argument("--out", help="write the figures as JSON")
    args = ap.parse_args()
    import librosa

    warnings.filterwarnings("ignore", message="n_fft=.* is too large")
    files = list_music_files(args.data, kind="audio")[::args.every]
    with_librosa = [r for r in args.librosa.split(",") if r]
    sweep = [int(k) for k in args.sweep.split(",") if k]
    S.pghi(torch.rand(65, 8))  # compile (or load) the heap loop, and warm librosa, outside the timings
    librosa.griffinlim(np.random.default_rng(0).random((1025, 20)), n_iter=2, hop_length=512, n_fft=S.N_FFT)
    scores: dict = {}
    total = 0.0
    for path in files:
        y = read_audio(path)[0][0]
        if args.seconds:
            y = y[: int(args.seconds * S.SR)]
        total += len(y) / S.SR
        y = torch.from_numpy(np.ascontiguousarray(y))
        ref = S.magnitude(y)
        for name, (kind, hop) in REPRESENTATIONS.items():
            stored = encode_decode_magnitudes(y, kind, hop)
            decoders = {
                "GL random": lambda m: S.griffin_lim(m, args.iters, hop_length=hop, length=len(y), init="random"),
                "PGHI": lambda m: S.griffin_lim(m, 0, hop_length=hop, length=len(y), init="pghi"),
                "PGHI+GL": lambda m: S.griffin_lim(m, args.iters, hop_length=hop, length=len(y), init="pghi"),
            }
            for k in sweep:  # fewer iterations: where PGHI+GL meets librosa's quality
                decoders[f"PGHI+GL {k}"] = lambda m, k=k: S.griffin_lim(m, k, hop_length=hop, length=len(y), init="pghi")
            if name in with_librosa:
                # without length= (librosa fails on sounds shorter than a window with it), cut or padded after
                decoders["librosa"] = lambda m: torch.nn.functional.pad(torch.from_numpy(librosa.griffinlim(
                    m.numpy(), n_iter=args.iters, hop_length=hop, n_fft=S.N_FFT, random_state=0)), (0, len(y)))[:len(y)]
            for dec, fn in decoders.items():
                t = time.process_time()
                mag = S.mel_to_linear(stored) if kind == "mel" else stored
                rebuilt = fn(mag)
                cpu = time.process_time() - t
                est = S.magnitude(rebuilt)
                row = scores.setdefault((name, dec), {"sc": [], "lsd": [], "mrstft": [], "cpu": 0.0})
                row["sc"].append(float(S.spectral_convergence(ref, est)))
                row["lsd"].append(float(S.log_spectral_distance(ref, est)))
                row["mrstft"].append(float(S.multi_resolution_stft_distance(y, rebuilt)))
                row["cpu"] += cpu
    print(f"{args.data}: {len(files)} files, {total:.1f} s of audio, {args.iters} iterations")
    print(f"{'representation':<18}{'decoder':<13}{'SC mean':>8}{'median':>8}{'LSD dB':>8}{'MR-STFT':>8}{'CPU s':>8}")
    result = {"data": args.data, "files": len(files), "audio_seconds": round(total, 2), "iters": args.iters,
              "seconds_per_file": args.seconds or None, "every": args.every, "rows": []}
    for (name, dec), row in scores.items():
        sc = np.asarray(row["sc"])
        print(f"{name:<18}{dec:<13}{sc.mean():8.4f}{np.median(sc):8.4f}{np.mean(row['lsd']):8.2f}"
              f"{np.mean(row['mrstft']):8.3f}{row['cpu']:8.1f}")
        result["rows"].append({"representation": name, "decoder": dec, "sc_mean": round(float(sc.mean()), 4),
                               "sc_median": round(float(np.median(sc)), 4),
                               "lsd_db": round(float(np.mean(row["lsd"])), 3),
                               "mrstft": round(float(np.mean(row["mrstft"])), 4), "cpu_seconds": round(row["cpu"], 2)})
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
