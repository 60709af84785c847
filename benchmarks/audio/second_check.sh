#!/usr/bin/env bash
# The copy check of whole seconds (TokenAudioModel.draw, min_copy_distance, data/tokens.py)
# on Sonic Pi's samples: 96 clips of 4 s from seeds 0-95 and 1000-1095, as musegan evaluate
# scores them, with and without the n-gram guard; a larger token LSTM trained longer; the
# other families on the same clips. One core (core 1; another job ran on core 0). Results
# in results/tokens/ (run from the repository root): eval-<name>.json and
# second-check-summary.json. The token runs of tokens.sh, trained again by its commands
# (the same weights), keep the corpus's frames for the check.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=../shared/data/wav/sonic_pi_samples/samples
R=benchmarks/audio/results/tokens
export OMP_NUM_THREADS=1
C() { taskset -c 1 python benchmarks/audio/second_check.py "runs/$1/checkpoint.pt" --reference "$W" --out "$R" \
    --name "$2" "${@:3}"; }
# a larger token LSTM, trained longer (hidden 256, 2,000 steps)
taskset -c 1 musegan train --corpus "$W" --model lstm --out runs/sonic-tokens-lstm256 --steps 2000 --quiet \
    --set data.kind=tokens --set model.hidden_size=256 --set model.dropout=0.3 --set train.checkpoint_every=250 \
    --set train.valid_every=250
for seed in 0 1000; do
  C sonic-tokens-lstm lstm-check0.25-seed$seed --seed $seed             # the defaults: the check, no n-gram guard
  C sonic-tokens-lstm lstm-none-seed$seed --seed $seed --min-distance 0  # neither check nor guard
  C sonic-tokens-lstm256 lstm256-check0.25-seed$seed --seed $seed
  C sonic-tokens-conv conv-check0.25-seed$seed --seed $seed
  for r in sonic-gan-15min sonic-lstm-300; do
    taskset -c 1 musegan evaluate runs/$r/checkpoint.pt --reference "$W" --num 96 --seconds 4 --temperature 1.0 \
        --seed $seed --out "$R/eval-$r-96clips-seed$seed.json"
  done
done
# the n-gram guard (0.1 s, 128 groups) on every draw as well: measured with an earlier
# version of the check, which never drew again from an earlier second (3 and 1 seconds were
# left below 0.25 there; the figures may differ with this version)
for seed in 0 1000; do
  C sonic-tokens-lstm lstm-guard-check0.25-seed$seed --seed $seed --max-copy-seconds 0.1
done
# musegan evaluate itself (what musegan generate draws) gives the figures of lstm-check0.25-seed0
taskset -c 1 musegan evaluate runs/sonic-tokens-lstm/checkpoint.pt --reference "$W" --num 96 --seconds 4 \
    --temperature 1.0 --out "$R/eval-tokens-lstm-checkpoint-96clips.json"
