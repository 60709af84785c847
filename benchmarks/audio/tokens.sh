#!/usr/bin/env bash
# Audio tokens (data.kind=tokens) on Sonic Pi's CC0 samples: the LSTM and conv families
# trained on one CPU core (core 0), evaluated as the spectrogram models are (32 clips of
# 4 s against the corpus) with the copy guard at its default (TokenAudioModel's
# max_copy_seconds = 0.1 and copy_groups = 128, data/tokens.py), the guard measured at
# other settings on the LSTM (copy_guard.py), and the SpecGAN and the Gaussian-head LSTM
# on log-mel frames beside them; then the clips of samples/audio/. Results as JSON in
# results/tokens/ (run from the repository root). The token decoders (grains, spectra)
# are compared by tokens_decoders.py (results/tokens/lstm-decoders/, not rerun here).
# Since then the token runs' defaults changed (the copy check of whole seconds, the n-gram
# guard off on first draws): the evaluate and generate lines below now give the figures
# and clips of second_check.sh's defaults; pass --max-copy-seconds 0.1 for the guard's.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=../shared/data/wav/sonic_pi_samples/samples
R=benchmarks/audio/results/tokens
mkdir -p "$R"
export OMP_NUM_THREADS=1
run() { taskset -c 0 musegan "$@"; }
run train --corpus "$W" --model lstm --out runs/sonic-tokens-lstm --steps 800 --quiet --set data.kind=tokens \
    --set model.hidden_size=128 --set model.dropout=0.3 --set train.checkpoint_every=200 --set train.valid_every=100
G() { taskset -c 0 python benchmarks/audio/copy_guard.py "runs/sonic-tokens-$1/checkpoint.pt" --reference "$W" \
    --out "$R" --name "$1-checkpoint" "${@:2}"; }
for seed in 0 1000; do  # clips from seeds 0-31 and 1000-1031
  G lstm --seed $seed --lengths 0,0.1 --groups 0        # no guard; exact tokens, 0.1 s (held n-grams forbidden too)
  G lstm --seed $seed --lengths 0.1 --groups 64         # n-grams of 64 groups of near codewords
  G lstm --seed $seed --lengths 0.1,0.2 --groups 128    # 128 groups (0.1 s, 128: the default)
done
G lstm --lengths 0.25,0.2,0.15 --groups 0               # exact tokens, longer stretches
G lstm --lengths 0.5,0.25,0.1 --groups 0 --skip-held    # exact tokens, held n-grams exempt
G lstm --lengths 0.2 --groups 64
# stronger regularization of the token LSTM
run train --corpus "$W" --model lstm --out runs/sonic-tokens-lstm-reg --steps 800 --quiet --set data.kind=tokens \
    --set model.hidden_size=128 --set model.dropout=0.5 --set train.weight_decay=0.1 --set train.checkpoint_every=200 \
    --set train.valid_every=100
for seed in 0 1000; do G lstm-reg --seed $seed --lengths 0.1,0; done
run train --corpus "$W" --model conv --out runs/sonic-tokens-conv --steps 600 --quiet --set data.kind=tokens \
    --set model.hidden_size=128 --set train.checkpoint_every=200 --set train.valid_every=100
G conv --lengths 0
for m in lstm conv; do  # the guard at its default (0.1 s, 128 groups), as musegan generate draws
  run evaluate runs/sonic-tokens-$m/checkpoint.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
      --out "$R/eval-tokens-$m-checkpoint-t1.0.json"
done
run evaluate runs/sonic-tokens-lstm/best.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
    --out "$R/eval-tokens-lstm-best-t1.0.json"
# SpecGAN on log-mel patches: 15 CPU-minutes at most (SIGINT saves the run and stops)
timeout -s INT 900 taskset -c 0 musegan train --corpus "$W" --model gan --out runs/sonic-gan-15min --steps 1600 --batch-size 32 \
    --quiet --set train.checkpoint_every=200 || true
run evaluate runs/sonic-gan-15min/checkpoint.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
    --out "$R/eval-gan-checkpoint-t1.0.json"
# the LSTM on log-mel frames (Gaussian head), 300 steps
run train --corpus "$W" --model lstm --out runs/sonic-lstm-300 --steps 300 --quiet --set model.hidden_size=128 \
    --set model.dropout=0.3
run evaluate runs/sonic-lstm-300/checkpoint.pt --reference "$W" --num 32 --seconds 4 --temperature 1.0 \
    --out "$R/eval-lstm-gaussian-300steps-t1.0.json"
# the clips of samples/audio/ and their spectrograms (samples/README.md)
for r in sonic-tokens-lstm sonic-tokens-conv sonic-gan-15min; do
  run generate runs/$r/checkpoint.pt --out samples/audio/$r-4s-seed0.wav --seconds 4 --seed 0
  run render samples/audio/$r-4s-seed0.wav --out samples/audio/$r-4s-seed0.png
done
