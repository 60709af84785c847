"""Training in several processes (``torchrun``, one per GPU, on one or more machines):
which process this is, and the few collective operations the trainer needs. A plain
``musegan train`` is one process of a world of one, and every operation is a no-op."""
from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist


class World:
    """This process's place: ``rank`` (0 .. ``size`` - 1, 0 writes), ``local_rank``
    (its GPU on this machine), read from torchrun's environment."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.size = int(env.get("WORLD_SIZE", 1))
        self.rank = int(env.get("RANK", 0))
        self.local_rank = int(env.get("LOCAL_RANK", 0))
        self.started = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def start(self, device: torch.device) -> torch.device:
        """Join the process group (NCCL on CUDA, gloo on CPU); returns this process's
        device: ``cuda:LOCAL_RANK`` on CUDA."""
        if device.type == "cuda" and self.size > 1:
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if self.size > 1 and not dist.is_initialized():
            # a generous timeout: rank 0 may prepare a large corpus while the others wait
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(hours=2))
            self.started = True
        return device

    def close(self) -> None:
        if self.started and dist.is_initialized():
            dist.destroy_process_group()
        self.started = False

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Elementwise sum over the processes (float64 on the CPU; moved for NCCL)."""
        if self.size == 1:
            return values
        on = values.cuda() if dist.get_backend() == "nccl" else values
        dist.all_reduce(on)
        return on.cpu()

    def gather(self, obj) -> list:
        """Every process's ``obj``, in rank order."""
        if self.size == 1:
            return [obj]
        out = [None] * self.size
        dist.all_gather_object(out, obj)
        return out
