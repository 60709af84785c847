"""Bad input gets one clear line on stderr, a non-zero exit code and no traceback."""
import pickle
import subprocess
import sys

import pytest
import torch

from musegan.cli import main
from musegan.config import RunConfig

from conftest import ROOT


def run_main(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def assert_one_line(code, err, *needles):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("musegan: error: ") and "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_corpus_folder(capsys, tmp_path):
    code, err = run_main(capsys, "train", "--corpus", str(tmp_path / "nope"), "--out", str(tmp_path / "r"))
    assert_one_line(code, err, str(tmp_path / "nope"), "no such folder")


def test_folder_with_no_music(capsys, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    code, err = run_main(capsys, "prepare", str(tmp_path / "docs"), "--out", str(tmp_path / "p"))
    assert_one_line(code, err, "no music files")


def test_folder_where_every_file_is_bad(capsys, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.mid").write_bytes(b"junk")
    code, err = run_main(capsys, "train", "--corpus", str(tmp_path / "bad"), "--out", str(tmp_path / "r"), "--quiet")
    assert code != 0 and "no usable music" in err.splitlines()[-1] and "Traceback" not in err
    assert err.splitlines()[0].startswith("musegan: warning: skipped 1 of 1 files (1 x not a MIDI file")


def test_unknown_model(capsys, tmp_path):
    code, err = run_main(capsys, "train", "--model", "transformer", "--out", str(tmp_path / "r"))
    assert_one_line(code, err, "unknown model 'transformer'")


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["generate", "run", "--out", "x.mid", "--bars", "many"], "--bars: expected a whole number"),
        (["generate", "run", "--out", "x.mid", "--bars", "0"], "--bars: expected at least 1"),
        (["generate", "run", "--out", "x.mid", "--temperature", "-1"], "--temperature"),
        (["generate", "run", "--out", "x.mid", "--pull", "swing=1"], "--pull: expected NAME=NATS"),
        (["evaluate", "run", "--reference", "x", "--pull", "hold=-2"], "--pull: expected NAME=NATS"),
        (["train", "--steps", "ten"], "--steps"),
        (["train", "--device", "tpu"], "--device"),
        (["train", "--set", "train.lr=fast"], "train.lr='fast': expected float"),
        (["train", "--set", "model.depth=3"], "unknown setting 'model.depth'"),
        (["train", "--set", "nonsense"], "expected section.key=value"),
        (["train", "--set", "optim.lr=1"], "must start with data., train. or model."),
        (["frobnicate"], "invalid choice"),
        (["generate", "run"], "--out"),
    ],
)
def test_bad_flags(capsys, argv, needle):
    code, err = run_main(capsys, *argv)
    assert_one_line(code, err, needle)


def test_generate_from_missing_run(capsys, tmp_path):
    code, err = run_main(capsys, "generate", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.mid"))
    assert_one_line(code, err, "no such run folder")
    (tmp_path / "empty_run").mkdir()
    code, err = run_main(capsys, "generate", str(tmp_path / "empty_run"), "--out", str(tmp_path / "x.mid"))
    assert_one_line(code, err, "no checkpoint in this folder")


def test_unreadable_checkpoint(capsys, tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"\x00\x01 not a checkpoint")
    code, err = run_main(capsys, "generate", str(bad), "--out", str(tmp_path / "x.mid"))
    assert_one_line(code, err, str(bad), "not a readable musegan checkpoint")


def test_checkpoint_from_elsewhere(capsys, tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, other)
    code, err = run_main(capsys, "generate", str(other), "--out", str(tmp_path / "x.mid"))
    assert_one_line(code, err, str(other), "not a musegan checkpoint")


class _Payload:
    def __reduce__(self):
        return (open, (str(_Payload.marker), "w"))


def test_a_pickled_object_is_never_run(capsys, tmp_path):
    _Payload.marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "musegan-checkpoint", "payload": _Payload()}, evil, pickle_module=pickle)
    code, err = run_main(capsys, "generate", str(evil), "--out", str(tmp_path / "x.mid"))
    assert_one_line(code, err, str(evil), "refused: this file holds pickled Python objects", "open)")
    assert not _Payload.marker.exists()


def test_weights_that_do_not_fit_their_config(capsys, tmp_path):
    cfg = RunConfig()
    cfg.model_config.n_features, cfg.model_config.hidden_size = 16, 8
    torch.save({"format": "musegan-checkpoint", "version": 1, "config": cfg.to_dict(), "step": 1,
                "info": {"tracks": [], "steps_per_bar": 16, "tempo": 120.0, "time_signature": [4, 4]},
                "model": {"lstm.weight_ih_l0": torch.zeros(3, 3)}}, tmp_path / "odd.pt")
    code, err = run_main(capsys, "generate", str(tmp_path / "odd.pt"), "--out", str(tmp_path / "x.mid"))
    assert_one_line(code, err, "weights do not fit")


def test_python_dash_m_entry_point_prints_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "musegan", "generate", str(tmp_path / "none"), "--out", "x.mid"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"musegan: error: {tmp_path / 'none'}: no such run folder or checkpoint file"]
