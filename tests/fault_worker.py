"""`musegan ...` in a subprocess for tests/test_faults.py. With $KILL_IN_CHECKPOINT_WRITE=N
the process SIGKILLs itself in the middle of its N-th write of checkpoint.pt: half the
bytes are in the temporary file, the rename has not happened."""
import os
import signal
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

import musegan.io.checkpoint as checkpoint  # noqa: E402
from musegan.cli import main  # noqa: E402

_write, _count = checkpoint.atomic_write_bytes, [0]


def write(path, data):
    if Path(path).name == "checkpoint.pt":
        _count[0] += 1
        if _count[0] == int(os.environ.get("KILL_IN_CHECKPOINT_WRITE", 0)):
            Path(path).with_name(f".{Path(path).name}.killed.tmp").write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
    return _write(path, data)


checkpoint.atomic_write_bytes = write
sys.exit(main(sys.argv[1:]))
