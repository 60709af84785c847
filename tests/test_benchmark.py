"""The polyphonic music benchmark: .mat reading, exact scoring, the frequency baseline,
and a short run of ``musegan benchmark polyphonic``."""
import json

import numpy as np
import pytest
import scipy.io
import torch

from musegan.benchmark import frequency_baseline, length_batches, make_bench_config, pad_batch, score, transpose
from musegan.cli import main
from musegan.io.matfile import read_polyphonic_mat
from musegan.models import build_model, model_config_class


@pytest.fixture(scope="module")
def poly(data_dir):
    return data_dir / "polyphonic"


@pytest.mark.parametrize("name,expected", [("JSB_Chorales.mat", 11.06), ("Nottingham.mat", 10.25)])
def test_frequency_baseline_reproduces_the_published_figure(poly, name, expected):
    splits = read_polyphonic_mat(poly / name)
    assert all(r.shape[1] == 88 for k in splits for r in splits[k])
    assert round(frequency_baseline(splits["traindata"], splits["testdata"]), 2) == expected


def test_scoring_counts_every_real_frame_once_whatever_the_batching(poly):
    """A model that predicts the training frequencies whatever the past scores exactly
    the frequency baseline, under any padding; skipping first frames changes the count."""
    splits = read_polyphonic_mat(poly / "JSB_Chorales.mat")
    train = np.concatenate(splits["traindata"]).astype(np.float64)
    p = (train.sum(0) + 1) / (len(train) + 2)
    model = build_model("conv", model_config_class("conv")(n_features=88, hidden_size=8, num_layers=1)).eval()
    with torch.no_grad():
        model.head.proj.weight.zero_()
        model.head.proj.bias.copy_(torch.from_numpy(np.log(p) - np.log1p(-p)))
    test = [torch.from_numpy(r).float() for r in splits["testdata"]]
    big, small = score(model, test, 100_000), score(model, test, 64)
    expected = frequency_baseline(splits["traindata"], splits["testdata"])
    assert big["nll"] == pytest.approx(expected, abs=1e-4) and small["nll"] == pytest.approx(expected, abs=1e-4)
    assert big["frames"] == sum(len(r) for r in splits["testdata"]) == 4725
    first = np.stack([r[0] for r in splits["testdata"]]).astype(np.float64)
    first_nll = -(first * np.log(p) + (1 - first) * np.log1p(-p)).sum(1).sum()
    assert big["nll_skip_first"] == pytest.approx((expected * 4725 - first_nll) / (4725 - 77), abs=1e-4)
    # every key below 1/2: the most likely frame is empty, no note is found
    assert big["accuracy"] == 0.0


def test_length_batches_cover_every_sequence_once_within_the_budget():
    lengths = [5, 80, 33, 33, 7, 200, 1, 64]
    for gen in (None, torch.Generator().manual_seed(0)):
        groups = length_batches(lengths, 100, gen)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
        assert all(len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 100 for g in groups)
    x, mask = pad_batch([torch.ones(3, 2), torch.ones(5, 2)], [0, 1])
    assert x.shape == (2, 5, 2) and mask.sum() == 8 and x[0, 3:].sum() == 0


def test_transpose_moves_notes_and_drops_the_ones_past_the_edge():
    x = torch.zeros(1, 1, 6)
    x[..., [0, 4]] = 1
    assert transpose(x, 2)[0, 0].tolist() == [0, 0, 1, 0, 0, 0]
    assert transpose(x, -1)[0, 0].tolist() == [0, 0, 0, 1, 0, 0]


def write_mat(path, **splits):
    cells = {}
    for key, rolls in splits.items():
        cell = np.empty((1, len(rolls)), dtype=object)
        for i, r in enumerate(rolls):
            cell[0, i] = r
        cells[key] = cell
    scipy.io.savemat(str(path), cells)
    return path


def test_benchmark_command_writes_a_complete_result(tmp_path, capsys):
    rng = np.random.default_rng(0)

    def rolls(n):  # a repeating arpeggio with noise: learnable
        out = []
        for i in range(n):
            t = int(rng.integers(20, 60))
            r = np.zeros((t, 88), np.uint8)
            r[np.arange(t), 40 + (np.arange(t) % 4) * 3] = 1
            r[rng.random((t, 88)) < 0.01] = 1
            out.append(r)
        return out

    data = write_mat(tmp_path / "tiny.mat", traindata=rolls(24), validdata=rolls(6), testdata=rolls(6))
    out = tmp_path / "RESULT.json"
    for model, head in (("conv", "nade"), ("lstm", "bernoulli")):
        assert main(["benchmark", "polyphonic", "--data", str(data), "--model", model, "--out", str(out), "--quiet",
                     "--set", "bench.epochs=12", "--set", "bench.batch_frames=200", "--set", "bench.warmup=5",
                     "--set", "bench.lr=1e-2", "--set", "model.hidden_size=24", "--set", "model.num_layers=2",
                     "--set", f"model.head={head}", "--set", "model.head_hidden=16"]) == 0
        r = json.loads(out.read_text())
        for key in ("test_nll", "test_nll_skip_first", "test_accuracy", "valid_nll", "train_seconds", "parameters",
                    "config"):
            assert key in r, key
        assert r["config"]["model"] == model and r["config"]["model_config"]["head"] == head
        assert r["config"]["bench"]["epochs"] == 12 and r["config"]["model_config"]["steps_per_bar"] == 0
        assert r["epochs_run"] == 12 and 1 <= r["best_epoch"] <= 12
        assert r["valid_nll"] == pytest.approx(min(h["valid_nll"] for h in r["history"]), rel=1e-4)
        # it learnt something: well under the frequency baseline, and the arpeggio is found
        assert 0 < r["test_nll"] < 0.8 * r["frequency_baseline_test_nll"]
        assert 0 < r["test_nll_skip_first"] < r["test_nll"]  # the first frame is the hardest one
        assert 0.1 < r["test_accuracy"] <= 1
        assert r["train_seconds"] > 0 and r["parameters"] > 1000
    assert "test NLL" in capsys.readouterr().out


def test_bad_input_is_a_one_line_error(tmp_path, capsys, poly):
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    write_mat(tmp_path / "nokey.mat", traindata=[np.zeros((3, 88), np.uint8)])
    write_mat(tmp_path / "values.mat", traindata=[np.full((3, 88), 2, np.uint8)], validdata=[np.zeros((3, 88))],
              testdata=[np.zeros((3, 88))])
    cases = [
        (tmp_path / "missing.mat", "lstm", "no such file"),
        (tmp_path / "junk.mat", "lstm", "not a readable .mat file"),
        (tmp_path / "nokey.mat", "lstm", "no 'validdata'"),
        (tmp_path / "values.mat", "lstm", "values other than 0 and 1"),
        (poly / "JSB_Chorales.mat", "gru", "--model 'gru': the benchmark trains a frame model (lstm, conv"),
    ]
    for path, model, message in cases:
        assert main(["benchmark", "polyphonic", "--data", str(path), "--model", model, "--out",
                     str(tmp_path / "r.json")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r.json").exists()


def test_config_file_then_overrides(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"bench": {"epochs": 7, "lr": 0.01}, "model": {"hidden_size": 99, "head": "nade"}}))
    bench, model = make_bench_config("conv", cfg, ["bench.lr=0.002"])
    assert (bench.epochs, bench.lr, model.hidden_size, model.head) == (7, 0.002, 99, "nade")
    cfg.write_text(json.dumps({"bench": {"epoch": 7}}))
    with pytest.raises(Exception, match="unknown BenchConfig keys: epoch"):
        make_bench_config("conv", cfg)
