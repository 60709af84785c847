#!/usr/bin/env bash
# Audio tokens (data.kind=tokens) on Sonic Pi's CC0 samples: the LSTM and conv families
# trained on one CPU core, evaluated as the spectrogram models are (32 clips of 4 s
# against the corpus), and the two token decoders (grains, spectra) measured alike.
# Results as JSON in results/tokens/ (run from the repository root).
set -euo pipefail
cd "$(dirname "$0")/../.."
W=../shared/data/wav/sonic_pi_samples/samples
R=benchmarks/audio/results/tokens
mkdir -p "$R"
export OMP_NUM_THREADS=1
run() { taskset -c 1 musegan "$@"; }
run train --corpus "$W" --model lstm --out runs/sonic-tokens-lstm --steps 800 --quiet --set data.kind=tokens \
    --set model.hidden_size=128 --set model.dropout=0.3 --set train.checkpoint_every=200 --set train.valid_every=100
run train --corpus "$W" --model conv --out runs/sonic-tokens-conv --steps 600 --quiet --set data.kind=tokens \
    --set model.hidden_size=128 --set train.checkpoint_every=200 --set train.valid_every=100
for m in lstm conv; do
  run evaluate runs/sonic-tokens-$m/checkpoint.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
      --out "$R/eval-tokens-$m-checkpoint-t1.0.json"
  taskset -c 1 python benchmarks/audio/tokens_decoders.py runs/sonic-tokens-$m/checkpoint.pt --reference "$W" \
      --out "$R/$m-decoders"
done
run evaluate runs/sonic-tokens-conv/best.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
    --out "$R/eval-tokens-conv-best-t1.0.json"
