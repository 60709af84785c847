"""The polyphonic music benchmark (Boulanger-Lewandowski et al. 2012; Bai et al. 2018).

A benchmark file holds train / valid / test splits of 0/1 piano rolls (see
``io/matfile.py``). A frame family is trained on the training split (whole sequences,
batched by length with padding and masks), the weights with the best validation NLL
are kept, and the test split is scored as the benchmark defines it: the sum over the
keys of the Bernoulli log-loss (for a joint head, ``-log p(frame)``), averaged over all
test frames, in nats. Two conventions are reported:

* ``test_nll``: every frame is scored, the first one predicted from the empty start
  (Boulanger et al.);
* ``test_nll_skip_first``: the first frame of each sequence is not scored (the TCN
  reference code).

``test_accuracy`` is the frame-level accuracy of Bay et al. (2009), ``TP / (TP + FP +
FN)`` summed over all test frames, of the most likely frame given the true past (for a
joint head: feature by feature, the likelier value of each in turn).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import from_plain, set_field, to_plain
from .errors import MuseganError
from .io.files import atomic_write_json, read_json
from .io.matfile import read_polyphonic_mat
from .models import FAMILIES, build_model, model_config_class
from .models.base import FrameModel, cosine_lr, n_parameters, shift_right


@dataclass
class BenchConfig:
    epochs: int = 100
    batch_frames: int = 2048  # padded frames per update (sequences of similar length go together)
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup: int = 100  # updates of linear warm-up, then cosine decay to 10% over all epochs
    grad_clip: float = 1.0
    transpose: int = 0  # random transposition of each training batch by up to +-N keys
    patience: int = 0  # stop after this many epochs without a better validation NLL (0: never)
    max_seconds: float = 0.0  # stop after the epoch that passes this training time (0: no limit)
    seed: int = 0
    threads: int = 1  # torch CPU threads (0: leave as is)


def frequency_baseline(train: list[np.ndarray], test: list[np.ndarray]) -> float:
    """Test NLL per frame of independent per-key frequencies of the training frames
    (the "note 1-gram" of Boulanger et al.), Laplace-smoothed."""
    tr, te = np.concatenate(train).astype(np.float64), np.concatenate(test).astype(np.float64)
    p = (tr.sum(0) + 1) / (len(tr) + 2)
    return float(-(te * np.log(p) + (1 - te) * np.log1p(-p)).sum(1).mean())


def make_bench_config(model: str, config_file=None, overrides=()) -> tuple[BenchConfig, object]:
    """Defaults, then a JSON file ``{"bench": {...}, "model": {...}}``, then
    ``bench.KEY=VALUE`` / ``model.KEY=VALUE`` overrides."""
    model_cls = model_config_class(model)
    plain = {}
    if config_file is not None:
        try:
            plain = read_json(config_file)
        except OSError as e:
            raise MuseganError(f"--config {config_file}: cannot read ({e.strerror or e})") from None
        except ValueError as e:
            raise MuseganError(f"--config {config_file}: not valid JSON ({e})") from None
        if not isinstance(plain, dict) or set(plain) - {"bench", "model"}:
            raise MuseganError(f"--config {config_file}: expected an object with the keys bench and model")
    bench, mc = from_plain(BenchConfig, plain.get("bench", {})), from_plain(model_cls, plain.get("model", {}))
    for item in overrides:
        key, eq, value = item.partition("=")
        section, _, name = key.strip().partition(".")
        target = {"bench": bench, "model": mc}.get(section)
        if not eq or target is None or not name:
            raise MuseganError(f"--set {item!r}: expected bench.KEY=VALUE or model.KEY=VALUE")
        set_field(target, name, value, label=key)
    return bench, mc


def length_batches(lengths, batch_frames: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """Sequence indices in groups of similar length whose padded size (count x longest)
    stays within ``batch_frames`` (a longer sequence goes alone). With a generator the
    lengths are jittered by up to 20% and the groups shuffled, so epochs differ."""
    lengths = torch.as_tensor(lengths, dtype=torch.float64)
    key = lengths if generator is None else lengths * (1 + 0.2 * torch.rand(len(lengths), generator=generator,
                                                                            dtype=torch.float64))
    groups, group, longest = [], [], 0.0
    for i in torch.argsort(key, descending=True, stable=True).tolist():
        size = max(longest, float(lengths[i]))
        if group and (len(group) + 1) * size > batch_frames:
            groups.append(group)
            group, size = [], float(lengths[i])
        group.append(i)
        longest = size
    if group:
        groups.append(group)
    if generator is not None:
        groups = [groups[i] for i in torch.randperm(len(groups), generator=generator).tolist()]
    return groups


def pad_batch(seqs: list[torch.Tensor], idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences ``(T_i, F)`` -> ``(B, T_max, F)`` float frames, zero after each end,
    and the ``(B, T_max)`` mask of real frames."""
    longest = max(len(seqs[i]) for i in idx)
    x = torch.zeros(len(idx), longest, seqs[idx[0]].shape[1])
    mask = torch.zeros(len(idx), longest, dtype=torch.bool)
    for row, i in enumerate(idx):
        x[row, :len(seqs[i])] = seqs[i]
        mask[row, :len(seqs[i])] = True
    return x, mask


def transpose(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Move every note ``shift`` keys up (down if negative); notes pushed past the
    edge are dropped."""
    if shift > 0:
        return F.pad(x[..., :-shift], (shift, 0))
    if shift < 0:
        return F.pad(x[..., -shift:], (0, -shift))
    return x


@torch.no_grad()
def score(model: FrameModel, seqs: list[torch.Tensor], batch_frames: int, accuracy: bool = True) -> dict:
    """Every real frame of ``seqs`` scored exactly (padding never is): NLL per frame
    under both conventions, and the frame-level accuracy of the most likely frame."""
    was_training = model.training
    model.eval()
    total = first = 0.0
    counts = torch.zeros(3, dtype=torch.float64)  # TP, FP, FN
    for idx in length_batches([len(s) for s in seqs], batch_frames):
        x, mask = pad_batch(seqs, idx)
        h = model.hidden(shift_right(x))
        nll = model.head.nll(h, x).double()
        total += float(nll[mask].sum())
        first += float(nll[:, 0].sum())
        if accuracy:
            pred, target = model.head.sample(h[mask], 0.0), x[mask]
            counts += torch.stack([(pred * target).sum(), (pred * (1 - target)).sum(),
                                   ((1 - pred) * target).sum()]).double()
    model.train(was_training)
    frames = sum(len(s) for s in seqs)
    out = {"nll": total / frames, "nll_skip_first": (total - first) / max(1, frames - len(seqs)), "frames": frames}
    if accuracy:
        out["accuracy"] = float(counts[0] / counts.sum()) if counts.sum() > 0 else 0.0
    return out


def fit(model: FrameModel, train: list[torch.Tensor], valid: list[torch.Tensor], bc: BenchConfig,
        log=print) -> dict:
    """Train on whole training sequences, through the trainer's update (``Trainer.step``);
    validate after every epoch; load the weights with the best validation NLL (every
    frame scored) back into ``model``."""
    from .training import Trainer

    trainer = Trainer(model, model.configure_optimizers(bc), torch.device("cpu"), bc.grad_clip, seed=bc.seed)
    gen = torch.Generator().manual_seed(bc.seed)
    lengths = [len(s) for s in train]
    valid_batches = [pad_batch(valid, idx) for idx in length_batches([len(s) for s in valid], bc.batch_frames)]
    total = bc.epochs * len(length_batches(lengths, bc.batch_frames))
    best, best_epoch, best_state, history, step = math.inf, 0, None, [], 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(1, bc.epochs + 1):
        model.train()
        loss_sum = frames = 0.0
        for idx in length_batches(lengths, bc.batch_frames, gen):
            x, mask = pad_batch(train, idx)
            if bc.transpose:
                x = transpose(x, int(torch.randint(-bc.transpose, bc.transpose + 1, (), generator=gen)))
            result = trainer.step(x, bc.lr * cosine_lr(step, total, bc.warmup), mask)
            step += 1
            if not math.isfinite(result["loss"]):
                raise MuseganError(f"training diverged at update {step}; lower bench.lr")
            loss_sum, frames = loss_sum + result["loss"] * float(mask.sum()), frames + float(mask.sum())
        model.eval()
        parts = [model.valid_step(x, contextlib.nullcontext, mask) for x, mask in valid_batches]
        valid_nll = sum(p["nll_sum"] for p in parts) / sum(p["frames"] for p in parts)
        seconds = time.perf_counter() - start
        history.append({"epoch": epoch, "train_nll": loss_sum / frames, "valid_nll": valid_nll,
                        "seconds": round(seconds, 2)})
        if valid_nll < best:
            best, best_epoch = valid_nll, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log(f"epoch {epoch}: train {loss_sum / frames:.4f}  valid {valid_nll:.4f}  best {best:.4f} "
            f"(epoch {best_epoch})  {seconds:.0f} s")
        if (bc.patience and epoch - best_epoch >= bc.patience) or (bc.max_seconds and seconds >= bc.max_seconds):
            break
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if best_state is None:
        raise MuseganError("validation NLL was never finite; lower bench.lr")
    model.load_state_dict(best_state)
    model.eval()
    return {"train_seconds": round(seconds, 2), "train_cpu_seconds": round(cpu_seconds, 2),
            "epochs_run": len(history), "best_epoch": best_epoch, "updates": step, "valid_nll": best, "history": history}


def run_polyphonic(data, model: str = "lstm", out=None, config_file=None, overrides=(), log=print) -> dict:
    """Train ``model`` on a benchmark .mat file, score its test split, and write the
    result to ``out`` (JSON) when given. Returns the result."""
    frame_families = [name for name, (_, cls) in FAMILIES.items() if issubclass(cls, FrameModel)]
    if model not in frame_families:
        raise MuseganError(f"--model {model!r}: the benchmark trains a frame model ({', '.join(frame_families)})")
    splits = read_polyphonic_mat(data)
    bc, mc = make_bench_config(model, config_file, overrides)
    if bc.epochs < 1 or bc.batch_frames < 1:
        raise MuseganError("bench.epochs and bench.batch_frames must be at least 1")
    train, valid, test = ([torch.from_numpy(r).float() for r in splits[k]]
                          for k in ("traindata", "validdata", "testdata"))
    mc.n_features, mc.steps_per_bar = train[0].shape[1], 0  # the files carry no bar phase
    threads = torch.get_num_threads()
    if bc.threads > 0:
        torch.set_num_threads(bc.threads)
    try:
        torch.manual_seed(bc.seed)
        net = build_model(model, mc)
        net.init_from_data(torch.cat(train)[None])
        log(f"{model}: {n_parameters(net):,} parameters; {sum(map(len, train))} training frames in "
            f"{len(train)} sequences")
        trained = fit(net, train, valid, bc, log)
        scored_test = score(net, test, bc.batch_frames)
        scored_valid = score(net, valid, bc.batch_frames, accuracy=False)
    finally:
        torch.set_num_threads(threads)
    result = {
        "data": str(data),
        "model": model,
        "head": getattr(mc, "head", "bernoulli"),
        "test_nll": scored_test["nll"],
        "test_nll_skip_first": scored_test["nll_skip_first"],
        "test_accuracy": scored_test["accuracy"],
        "valid_nll": scored_valid["nll"],
        "valid_nll_skip_first": scored_valid["nll_skip_first"],
        "train_seconds": trained["train_seconds"],
        "train_cpu_seconds": trained["train_cpu_seconds"],
        "parameters": n_parameters(net),
        "epochs_run": trained["epochs_run"],
        "best_epoch": trained["best_epoch"],
        "updates": trained["updates"],
        "frames": {"train": sum(map(len, train)), "valid": scored_valid["frames"], "test": scored_test["frames"]},
        "frequency_baseline_test_nll": frequency_baseline(splits["traindata"], splits["testdata"]),
        "torch_version": torch.__version__,
        "config": {"model": model, "bench": to_plain(bc), "model_config": to_plain(mc)},
        "history": trained["history"],
    }
    if out is not None:
        atomic_write_json(out, result)
    return result
