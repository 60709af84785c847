"""A checkpoint that carries pickled code is refused in one line of our own, and the
code never runs; other files that are not musegan checkpoints get one line too."""
import os
import pickle
import subprocess
import sys

import pytest
import torch

from musegan.errors import MuseganError
from musegan.io.checkpoint import load_checkpoint, save_checkpoint

from conftest import ROOT


def write_marker(path):
    with open(path, "w") as f:
        f.write("the pickled code ran")


class Payload:
    """Unpickled, it calls ``call(marker)``: writes the marker file."""

    def __init__(self, call, marker):
        self.call, self.marker = call, marker

    def __reduce__(self):
        return (self.call, (f"touch {self.marker}" if self.call is os.system else str(self.marker),))


SAVERS = {
    "zip": lambda obj, path: torch.save(obj, path),
    "legacy": lambda obj, path: torch.save(obj, path, _use_new_zipfile_serialization=False),
    "pickle2": lambda obj, path: path.write_bytes(pickle.dumps(obj, protocol=2)),
    "pickle5": lambda obj, path: path.write_bytes(pickle.dumps(obj, protocol=5)),
}
CALLS = {"system": os.system, "write_marker": write_marker, "open": open}


def refusal(path) -> str:
    with pytest.raises(MuseganError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and msg.startswith(f"{path}: ")
    return msg


@pytest.mark.parametrize("saver", SAVERS)
@pytest.mark.parametrize("call", CALLS)
def test_pickled_code_is_refused_by_name_and_never_run(tmp_path, saver, call):
    marker, path = tmp_path / "ran", tmp_path / "evil.pt"
    SAVERS[saver]({"format": "musegan-checkpoint", "version": 1, "model": {"w": torch.zeros(2)},
                   "payload": Payload(CALLS[call], marker)}, path)
    msg = refusal(path)
    assert "refused: this file holds pickled Python objects" in msg and "nothing in it was run" in msg
    assert f".{call}" in msg  # the global named, e.g. posix.system
    assert "Weights only" not in msg and "weights_only" not in msg
    assert not marker.exists()


def test_cli_refuses_it_in_one_line(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "evil.pt"
    torch.save({"format": "musegan-checkpoint", "payload": Payload(os.system, marker)}, path)
    r = subprocess.run([sys.executable, "-m", "musegan", "generate", str(path), "--out", str(tmp_path / "x.mid")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert line.startswith(f"musegan: error: {path}: refused: ") and "posix.system" in line
    assert not marker.exists() and not (tmp_path / "x.mid").exists()


def test_a_real_checkpoint_is_not_refused(tmp_path):
    model = {"w": torch.ones(2, 3), "h": torch.zeros(4, dtype=torch.float16), "n": torch.tensor(3)}
    save_checkpoint(tmp_path / "ok.pt", {"config": {"model": {"kind": "lstm"}, "lr": 1e-3}, "step": 7,
                                         "info": {"tracks": [["piano", 0, False]], "tempo": 120.0}, "model": model})
    ckpt = load_checkpoint(tmp_path / "ok.pt")
    assert ckpt["step"] == 7 and torch.equal(ckpt["model"]["h"], model["h"])


def test_a_torch_checkpoint_from_another_program(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, tmp_path / "other.pt")
    assert "not a musegan checkpoint (no 'musegan-checkpoint' marker)" in refusal(tmp_path / "other.pt")


@pytest.mark.parametrize("content", [
    pickle.dumps({"format": "musegan-checkpoint", "version": 1}, protocol=4),  # a plain pickle, no code
    b"hello world" * 10,  # torch raised KeyError on these bytes
    b"\x00\x01 not a checkpoint",
    b"PK\x03\x04" + bytes(100),  # a broken zip
])
def test_other_files_get_one_line(tmp_path, content):
    (tmp_path / "x.pt").write_bytes(content)
    assert "not a readable musegan checkpoint" in refusal(tmp_path / "x.pt")


def test_a_truncated_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "ok.pt", {"config": {}, "step": 1, "info": {}, "model": {"w": torch.zeros(1000)}})
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    assert "truncated" in refusal(tmp_path / "cut.pt")
