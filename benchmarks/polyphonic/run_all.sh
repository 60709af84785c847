#!/usr/bin/env bash
# Every row of benchmarks/README.md, one after the other, on one CPU thread (core 1).
# Run from the repository root with ../shared/data beside it: bash benchmarks/polyphonic/run_all.sh
set -euo pipefail
D=../shared/data/polyphonic
R=benchmarks/results
B="taskset -c 1 musegan benchmark polyphonic"
C=benchmarks/polyphonic
$B --data $D/JSB_Chorales.mat --model conv --config $C/conv.json --set bench.epochs=90 --out $R/jsb-conv-bernoulli-dropout0.3.json
$B --data $D/JSB_Chorales.mat --model conv --config $C/conv.json --set model.dropout=0.5 --set bench.epochs=60 --set bench.patience=15 --out $R/jsb-conv-bernoulli.json
$B --data $D/JSB_Chorales.mat --model lstm --config $C/lstm.json --set model.dropout=0.5 --set bench.epochs=60 --set bench.patience=15 --out $R/jsb-lstm-bernoulli.json
$B --data $D/JSB_Chorales.mat --model conv --config $C/conv.json --set model.dropout=0.5 --set bench.epochs=45 --set bench.patience=10 --set model.head=nade --out $R/jsb-conv-nade.json
$B --data $D/JSB_Chorales.mat --model lstm --config $C/lstm.json --set model.dropout=0.5 --set bench.epochs=60 --set bench.patience=15 --set model.head=nade --out $R/jsb-lstm-nade.json
$B --data $D/JSB_Chorales.mat --model lstm --config $C/lstm.json --set model.hidden_size=128 --set model.dropout=0.5 --set bench.epochs=60 --set bench.patience=15 --out $R/jsb-lstm128-bernoulli.json
$B --data $D/JSB_Chorales.mat --model lstm --config $C/lstm.json --set model.num_layers=2 --set model.dropout=0.5 --set bench.epochs=60 --set bench.patience=15 --out $R/jsb-lstm2x256-bernoulli.json
$B --data $D/Nottingham.mat --model lstm --config $C/lstm.json --set bench.epochs=25 --set model.head=nade --out $R/nottingham-lstm-nade.json
$B --data $D/Nottingham.mat --model conv --config $C/conv.json --set bench.epochs=8 --set model.head=nade --out $R/nottingham-conv-nade.json
$B --data $D/Nottingham.mat --model lstm --config $C/lstm.json --set bench.epochs=12 --out $R/nottingham-lstm-bernoulli.json
$B --data $D/Nottingham.mat --model conv --config $C/conv.json --set bench.epochs=6 --out $R/nottingham-conv-bernoulli.json
$B --data $D/JSB_Chorales.mat --model conv --config $C/conv.json --set model.dropout=0.5 --set bench.epochs=70 --set bench.patience=10 --set model.head=nade --out $R/jsb-conv-nade-70ep.json
$B --data $D/Nottingham.mat --model lstm --config $C/lstm.json --set bench.epochs=24 --out $R/nottingham-lstm-bernoulli-24ep.json
