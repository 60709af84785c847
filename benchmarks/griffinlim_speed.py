"""Fast Griffin-Lim (musegan.representations.spectrogram.griffin_lim) against
librosa.griffinlim on real recordings (Sonic Pi's CC0 samples), on one CPU thread.

Prints spectral convergence ||S - |STFT(y)||| / ||S|| (mean over the files) against
iterations for ours (momentum 0.99, and 0: plain Griffin-Lim) and librosa's (momentum
0.99, its default), then CPU time at equal iterations, and the iterations (and time)
each needs to reach the same quality. STFT: n_fft 2048, hop 512, Hann, centred with
reflect padding for both; the same random initial phases' distribution, seed 0.

    python benchmarks/griffinlim_speed.py [--data DIR] [--seconds 3] [--iters 4,8,16,32,64]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread for numpy / scipy FFTs too, before they load

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from musegan.io.audio import read_audio  # noqa: E402
from musegan.representations import spectrogram as S  # noqa: E402

FILES = ["loop_amen_full.wav", "ambi_piano.wav", "bass_voxy_c.wav", "guit_em9.wav", "loop_tabla.wav",
         "arovane_beat_a.wav", "perc_bell.wav", "ambi_glass_hum.wav"]
N_FFT, HOP = 2048, 512


def cpu_seconds(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "wav" / "sonic_pi_samples" / "samples"
    ap.add_argument("--data", default=os.environ.get("MUSEGAN_SONIC_PI", default))
    ap.add_argument("--seconds", type=float, default=3.0, help="first seconds of each file")
    ap.add_argument("--iters", default="4,8,16,32,64")
    ap.add_argument("--at", type=int, default=32, help="iterations for the equal-iterations timing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import librosa

    iters = [int(i) for i in args.iters.split(",")]
    clips = []
    for name in FILES:
        y, sr = read_audio(Path(args.data) / name)
        clips.append(torch.from_numpy(y[0, : int(args.seconds * sr)].copy()))
    mags = [S.magnitude(y, N_FFT, HOP) for y in clips]
    total = sum(len(y) for y in clips) / 44100
    print(f"{len(clips)} recordings, {total:.1f} s of 44.1 kHz audio; n_fft {N_FFT}, hop {HOP}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} thread), librosa {librosa.__version__}")

    def ours(momentum):
        return lambda mag, y, n: S.griffin_lim(mag, n, momentum, N_FFT, HOP, length=len(y))

    def theirs(mag, y, n):
        w = librosa.griffinlim(mag.numpy(), n_iter=n, hop_length=HOP, n_fft=N_FFT, length=len(y),
                               pad_mode="reflect", momentum=0.99, random_state=0)
        return torch.from_numpy(w)

    methods = {"ours (fast GL, momentum 0.99)": ours(0.99), "ours, momentum 0 (plain GL)": ours(0.0),
               "librosa.griffinlim (momentum 0.99)": theirs}
    theirs(mags[0][:, :8], clips[0][: 7 * HOP], 2)  # warm-up (imports, FFT plans)
    sc = {}
    print("\nspectral convergence (mean over the recordings; lower is better)")
    print(f"{'iterations':>36} " + " ".join(f"{n:>7}" for n in iters))
    for label, fn in methods.items():
        sc[label] = [float(np.mean([float(S.spectral_convergence(m, S.magnitude(fn(m, y, n), N_FFT, HOP)))
                                    for m, y in zip(mags, clips)])) for n in iters]
        print(f"{label:>36} " + " ".join(f"{v:7.4f}" for v in sc[label]))

    def run_all(fn, n):
        return [fn(m, y, n) for m, y in zip(mags, clips)]

    ours_fast, lib = methods["ours (fast GL, momentum 0.99)"], theirs
    t_ours, _ = cpu_seconds(lambda: run_all(ours_fast, args.at))
    t_lib, _ = cpu_seconds(lambda: run_all(lib, args.at))
    print(f"\nCPU time for all recordings at {args.at} iterations (best of 3): ours {t_ours:.2f} s, "
          f"librosa {t_lib:.2f} s: {t_lib / t_ours:.1f}x faster")

    # equal quality: the fewest iterations (of the sweep) with which ours matches librosa's quality at --at
    if args.at in iters:
        target = sc["librosa.griffinlim (momentum 0.99)"][iters.index(args.at)]
        n_eq = next((n for n, v in zip(iters, sc["ours (fast GL, momentum 0.99)"]) if v <= target), None)
        if n_eq is not None:
            t_eq, _ = cpu_seconds(lambda: run_all(ours_fast, n_eq))
            print(f"equal quality: librosa reaches SC {target:.4f} in {args.at} iterations ({t_lib:.2f} s); ours "
                  f"reaches it in {n_eq} ({t_eq:.2f} s): {t_lib / t_eq:.1f}x faster")
        target = sc["ours (fast GL, momentum 0.99)"][iters.index(args.at)]
        n_lib = next((n for n, v in zip(iters, sc["librosa.griffinlim (momentum 0.99)"]) if v <= target), None)
        print(f"ours reaches SC {target:.4f} in {args.at} iterations; librosa needs "
              + (f"{n_lib}" if n_lib else f"more than {iters[-1]}") + " of the iterations swept")


if __name__ == "__main__":
    main()
