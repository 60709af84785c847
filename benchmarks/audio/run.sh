#!/usr/bin/env bash
# Audio benchmark on Sonic Pi's CC0 samples (195 WAV files, 399 s): the representation's
# round trip, one model per family trained on one CPU core, 4-second clips, and a Frechet
# distance on log-mel statistics against the corpus. These are the commands behind
# benchmarks/audio/README.md (run from the repository root).
set -euo pipefail
cd "$(dirname "$0")/../.."
W=../shared/data/wav/sonic_pi_samples/samples
R=benchmarks/audio/results
mkdir -p "$R" samples/audio
export OMP_NUM_THREADS=1
python benchmarks/audio/round_trip.py --out "$R/round_trip.json"
# phase reconstruction (PGHI vs random-start Griffin-Lim vs librosa) and the scale of evaluate's audio metrics
python benchmarks/audio/phase.py --data ../shared/data/wav/music_recordings --seconds 10 \
    --librosa "mel 2048/512/128,stft 2048/512,stft 2048/256" --out "$R/phase_recordings.json"
python benchmarks/audio/phase.py --every 2 --librosa "mel 2048/512/128,stft 2048/512" --out "$R/phase_sonic_pi.json"
python benchmarks/audio/copies.py --out "$R/copies_sonic_pi.json"
taskset -c 0 musegan train --corpus "$W" --model lstm --out runs/sonic-lstm-300 --steps 300 --quiet \
    --set model.hidden_size=128 --set model.dropout=0.3
taskset -c 0 musegan evaluate runs/sonic-lstm-300/checkpoint.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
    --out "$R/eval-lstm-300steps-audio-metrics.json"
run() { taskset -c 0 musegan "$@"; }
run train --corpus "$W" --model lstm --out runs/sonic-lstm --steps 800 --quiet --set model.hidden_size=128 \
    --set model.dropout=0.3 --set train.checkpoint_every=100 --set train.valid_every=100
run train --corpus "$W" --model conv --out runs/sonic-conv --steps 600 --quiet --set model.hidden_size=128 \
    --set train.checkpoint_every=200 --set train.valid_every=100
run train --corpus "$W" --model gan --out runs/sonic-gan --steps 1200 --batch-size 32 --quiet \
    --set train.checkpoint_every=300
for m in lstm conv; do  # best.pt (lowest validation NLL) and checkpoint.pt (the last step)
  run evaluate runs/sonic-$m/best.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 --out "$R/eval-$m-best-t1.0.json"
  run evaluate runs/sonic-$m/best.pt --reference "$W" --num 32 --seconds 4 --temperature 0.5 --out "$R/eval-$m-best-t0.5.json"
  run evaluate runs/sonic-$m/checkpoint.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 --out "$R/eval-$m-checkpoint-t1.0.json"
done
run evaluate runs/sonic-gan --reference "$W" --num 32 --seconds 4 --temperature 1.0 --out "$R/eval-gan-t1.0.json"
run render samples/bach-lstm-16bars-seed0.mid --out samples/audio/bach-lstm-16bars-seed0-first-20s.wav --seconds 20
run render samples/pop-lstm.mid --out samples/audio/pop-lstm-first-20s.wav --seconds 20
run render samples/pop-lstm-pulled.mid --out samples/audio/pop-lstm-pulled-first-20s.wav --seconds 20
