"""One process of a torchrun launch in tests/test_distributed.py: runs the real CLI
(`musegan train ...`) and, at each checkpoint, also saves this process's weights to
``$DDP_DUMP/rank<r>-step<s>.pt``, so the test can compare the processes' replicas."""
import os
import sys

import torch

torch.set_num_threads(1)

from musegan.cli import main  # noqa: E402
from musegan.training import Trainer  # noqa: E402

_state = Trainer.state


def state(self):
    out = _state(self)
    torch.save(self.model.state_dict(), os.path.join(os.environ["DDP_DUMP"], f"rank{self.world.rank}-step{self.steps}.pt"))
    return out


Trainer.state = state
sys.exit(main(sys.argv[1:]))
