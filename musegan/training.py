"""One trainer for every family, in one process or several (torchrun).

A family returns its losses (``models/base.py``); :class:`Trainer` owns every update:
backward, gradient clipping, the optimizer and learning-rate steps, bf16 autocast on
CUDA and the DistributedDataParallel wrap. It reads as five parts: setup
(``__init__``), ``restore``, ``step``, ``validate`` and ``state`` (what a checkpoint
holds). :func:`train` runs it on a corpus; the data kind (``kinds/``) supplies the
datasets, the model's data-derived settings, the baseline and the samples. A run
folder holds::

    config.json      the run's config as plain data
    checkpoint.pt    the latest state (model, optimizers, step, samples seen, RNG of every
                     process, the noise generator): --resume reads it
    best.pt          the weights with the best validation NLL (a family without one, the GAN:
                     the latest weights): generation reads it
    metrics.csv      step, loss, learning rate, validation NLL per frame, seconds: one row
                     per step, also across kills and resumes
    samples/         MIDI (or WAV) written at each checkpoint

With several processes (``torchrun --nproc_per_node=N -m musegan train ...``) each one
takes its slice of every global batch (``train.batch_size`` windows in all), the
gradients are averaged by DDP, validation is summed over the processes, rank 0 alone
prepares the corpus (the others wait at a barrier) and writes files, and random numbers
for the GAN are drawn per sample of the global batch, so N processes follow the run of
one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import torch

from .config import DataConfig, RunConfig, TrainConfig
from .data.dataset import PreparedCorpus
from .data.default_corpus import default_corpus_config, default_corpus_files
from .data.prepare import corpus_kind, encoding_of, prepare_corpus, skipped_warning
from .distributed import World
from .errors import MuseganError, warn
from .generation import resolve_device
from .io.checkpoint import load_checkpoint, save_checkpoint
from .io.files import CsvLog, atomic_write_json
from .kinds import get_kind
from .models import build_model
from .models.base import BatchNoise, cosine_lr, n_parameters, set_lr


def cache_root() -> Path:
    root = os.environ.get("MUSEGAN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "musegan")
    return Path(root)


def prepared_dir_for(corpus, data: DataConfig) -> Path:
    """Where a corpus is prepared: the corpus itself if it is a prepared folder, else a
    cache folder named after its absolute path and what ``data`` makes prepare write
    (its encoding), so that runs at another resolution or track mapping keep their own
    cache instead of preparing the corpus again over the other's."""
    encoding = json.dumps(encoding_of(data), sort_keys=True)
    if corpus is None:
        return cache_root() / "prepared" / f"bach_chorales-{hashlib.sha1(encoding.encode()).hexdigest()[:10]}"
    corpus = Path(corpus)
    if (corpus / "manifest.json").is_file():
        return corpus
    digest = hashlib.sha1(f"{corpus.resolve()}|{encoding}".encode()).hexdigest()[:10]
    return cache_root() / "prepared" / f"{corpus.resolve().name or 'corpus'}-{digest}"


def load_corpus(corpus, config: RunConfig, log=print, progress=True) -> PreparedCorpus:
    """Prepare (or reuse the cache of) a corpus folder; ``None`` is the default corpus."""
    out = prepared_dir_for(corpus, config.data)
    if corpus is not None and out == Path(corpus):
        return PreparedCorpus(out)
    source = default_corpus_files() if corpus is None else corpus
    manifest = prepare_corpus(source, out, config.data, config.train.workers, progress)
    warning = skipped_warning(manifest, out / "manifest.json")
    if warning:
        warn(warning)
    if manifest["summary"]["ok"] == 0:
        raise MuseganError(f"{corpus}: no usable music: all {manifest['summary']['files']} files were skipped "
                           f"(reasons in {out / 'manifest.json'})")
    return PreparedCorpus(out)


def make_config(model: str = "lstm", corpus=None, overrides=(), **train) -> RunConfig:
    """The config of a new run: the default corpus's settings when ``corpus`` is None,
    then ``--set`` overrides, then named train settings (``steps=...``) that are not None."""
    if corpus is None:
        config = default_corpus_config(model)
    else:
        found = corpus_kind(corpus)
        asked = [v.strip() for k, _, v in (str(o).partition("=") for o in overrides or ()) if k.strip() == "data.kind"]
        if asked and get_kind(asked[-1]).prepared != found:  # a kind may read another's corpus: tokens read audio
            raise MuseganError(f"data.kind={asked[-1]}: reads {get_kind(asked[-1]).prepared} corpora, and the kind "
                               f"of a corpus is found from its files ({found} here)")
        config = RunConfig(model=model, data=DataConfig(kind=asked[-1] if asked else found))
        head = get_kind(config.data.kind).default_head
        if head and "head" in _fields(config.model_config):
            config.model_config.head = head
    family = type(config.model_config)  # a family's own settings for a new run (the GAN's), before --set
    for section, target in (("train", config.train), ("data", config.data), ("model", config.model_config)):
        for key, value in getattr(family, f"{section}_defaults", {}).items():
            setattr(target, key, value)
    kind = config.data.kind
    config.apply_overrides(list(overrides))
    if config.data.kind != kind:
        raise MuseganError(f"data.kind={config.data.kind}: the kind of a corpus is found from its files ({kind} here)")
    for key, value in train.items():
        if value is not None:
            setattr(config.train, key, value)
    return config


def default_run_dir(corpus, model: str) -> Path:
    name = "bach" if corpus is None else (Path(corpus).resolve().name or "corpus")
    return Path("runs") / f"{name}-{model}"


def _fields(obj) -> set:
    import dataclasses

    return {f.name for f in dataclasses.fields(obj)}


class GlobalBatches(torch.utils.data.Sampler):
    """Endless shuffled epochs from sample ``start`` on, cut into global batches of
    ``batch_size``; yields this process's slice of each (a list of dataset indices
    ``epoch * n + i``, see WindowDataset). A resumed run starts at the first sample it
    has not seen, whatever its batch size, and N processes together see the batches
    of one."""

    def __init__(self, n: int, seed: int, start: int, batch_size: int, rank: int = 0, world: int = 1):
        self.n, self.seed, self.start, self.batch_size = n, seed, start, batch_size
        self.lo, self.hi = rank * batch_size // world, (rank + 1) * batch_size // world

    def _stream(self):
        epoch, offset = divmod(self.start, self.n)
        while True:
            g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            for i in torch.randperm(self.n, generator=g)[offset:].tolist():
                yield epoch * self.n + i
            epoch, offset = epoch + 1, 0

    def __iter__(self):
        stream = self._stream()
        while True:
            batch = [next(stream) for _ in range(self.batch_size)]
            yield batch[self.lo : self.hi]


class Trainer:
    """The one owner of every update. ``model`` is a family (``models/base.py``): its
    ``phases()`` say which optimizer updates on which loss, in order, and its
    ``forward(batch, phase=..., noise=...)`` gives the losses."""

    # -- setup ------------------------------------------------------------------------
    def __init__(self, model, optimizers: dict, device, grad_clip: float = 0.0, amp: bool = False,
                 seed: int = 0, world: World | None = None):
        self.model, self.optimizers, self.device, self.grad_clip = model, optimizers, device, grad_clip
        self.world = world or World({})
        self.autocast = ((lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp and device.type == "cuda"
                         else contextlib.nullcontext)
        self.noise = torch.Generator().manual_seed(seed * 7919 + 17)  # the same on every process
        self.steps = self.samples_seen = 0
        self.best = math.inf
        self.net = model
        if self.world.size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(  # a GAN leaves one network idle in each phase
                model, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=len(optimizers) > 1)

    # -- restore ------------------------------------------------------------------------
    def restore(self, state: dict) -> None:
        """Continue from ``state()`` of an earlier run (this process's random state too)."""
        self.model.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.steps, self.best = int(state["step"]), float(state["best_valid"])
        self.samples_seen = int(state.get("samples_seen", self.steps * state["config"]["train"]["batch_size"]))
        rng = state["rng"]
        if isinstance(rng, torch.Tensor):  # a checkpoint of one process, before version 0.2
            rng = [{"cpu": rng}]
        mine = rng[self.world.rank] if self.world.rank < len(rng) else rng[0]
        torch.set_rng_state(mine["cpu"])
        if "cuda" in mine and self.device.type == "cuda":
            torch.cuda.set_rng_state(mine["cuda"], self.device)
        if "noise" in state:
            self.noise.set_state(state["noise"])

    # -- step ---------------------------------------------------------------------------
    def step(self, batch: torch.Tensor, lr: float, mask: torch.Tensor | None = None, stop: bool = False) -> dict:
        """One update on this process's slice of a global batch: every phase of the
        family in turn (forward under autocast, backward, clipping, optimizer step).
        Returns the losses averaged over the processes (floats), and ``stop``: whether
        any process asked to stop after this step."""
        set_lr(self.optimizers, lr)
        world, n = self.world, len(batch)
        total = n * world.size
        extra = {} if mask is None else {"mask": mask}
        logs: dict = {}
        for phase in self.model.phases():
            noise = BatchNoise(self.noise, total, world.rank * n, (world.rank + 1) * n, batch.device)
            with self.autocast():
                out = self.net(batch, phase=phase.name, noise=noise, **extra)
            opt = self.optimizers[phase.optimizer]
            self.model.zero_grad(set_to_none=True)
            out["loss"].backward()
            if self.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.grad_clip)
            opt.step()
            logs.update({k: float(torch.as_tensor(v).detach()) for k, v in out.items()
                         if not (k == "loss" and logs)})  # the loss logged is the first phase's
        self.steps += 1
        self.samples_seen += total
        names = list(logs)
        values = torch.tensor([logs[k] for k in names] + [float(stop)], dtype=torch.float64)
        values = world.sum(values)
        out = {k: float(v) / world.size for k, v in zip(names, values.tolist())}
        out["stop"] = bool(values[-1] > 0)
        return out

    # -- validate -------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, batches) -> float:
        """Validation NLL per frame over ``batches`` (each process scores every
        ``size``-th batch; the sums are added up). NaN for a family without a likelihood."""
        if not self.model.has_likelihood:
            return math.nan
        self.model.eval()
        totals = torch.zeros(2, dtype=torch.float64)
        for i, batch in enumerate(batches):
            if i % self.world.size == self.world.rank:
                r = self.model.valid_step(batch.to(self.device), self.autocast)
                totals += torch.tensor([r["nll_sum"], r["frames"]], dtype=torch.float64)
        self.model.train()
        nll_sum, frames = self.world.sum(totals).tolist()
        return nll_sum / frames if frames else math.nan

    # -- state (what a checkpoint holds) ----------------------------------------------------
    def state(self) -> dict:
        """Model, optimizers, counters, the random state of every process (gathered:
        every process must call this) and the noise generator."""
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"step": self.steps, "samples_seen": self.samples_seen, "best_valid": self.best,
                "model": self.model.state_dict(), "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "rng": self.world.gather(rng), "noise": self.noise.get_state()}


@contextlib.contextmanager
def _stop_requests():
    """Ctrl-C (SIGINT) and SIGTERM (a scheduler's notice) ask the training loop to stop
    after the current step and save; a second Ctrl-C stops at once. Yields a dict whose
    ``stop`` turns True."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def ask(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True

    old = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def train(corpus=None, out="runs/default", config: RunConfig | None = None, resume: bool = False,
          progress: bool = True, log=print) -> Path:
    """Train a model; returns the run folder. ``corpus`` None is the default corpus.
    Under torchrun, every process calls this (``musegan train`` does)."""
    world = World()
    out = Path(out)
    state, config = _resume_state(out, config, resume)
    config = config or make_config(corpus=corpus)
    tc = config.train
    if tc.steps < 1 or tc.batch_size < 1:
        raise MuseganError("train.steps and train.batch_size must be at least 1")
    if tc.batch_size % world.size:
        raise MuseganError(f"train.batch_size={tc.batch_size} is the global batch: it must divide among "
                           f"the {world.size} processes")
    device = world.start(resolve_device(tc.device))
    threads = torch.get_num_threads()
    torch.set_num_threads(training_threads(tc.threads, world))
    try:
        return _train(corpus, out, config, state, world, device, progress, log if world.main else (lambda *_: None))
    finally:
        torch.set_num_threads(threads)
        world.close()


def training_threads(threads: int, world: World) -> int:
    """CPU threads for each training process: ``train.threads``, or half the cores
    shared among the processes of this machine. On two cores that is one: a second
    thread gains 5% on a quiet machine (0.176 s against 0.186 s a step of the default
    model) and makes a step ten times slower when anything else runs on the other core
    (its parallel regions wait for the busy one)."""
    if threads > 0:
        return threads
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world.size))
    return max(1, (os.cpu_count() or 2) // (2 * local))


def _resume_state(out: Path, config: RunConfig | None, resume: bool):
    """The checkpoint to continue (None for a new run) and the run's config."""
    ckpt_path = out / "checkpoint.pt"
    if not resume:
        if ckpt_path.exists():
            raise MuseganError(f"{out}: already holds a run; pass --resume to continue it, or choose another --out")
        return None, config
    if not ckpt_path.is_file():
        raise MuseganError(f"{out}: nothing to resume (no checkpoint.pt)")
    state = load_checkpoint(ckpt_path)
    saved = RunConfig.from_dict(state["config"])
    if config is not None:  # a resumed run keeps its model and data; train settings may change
        saved.train = config.train
    return state, saved


def _load_corpus_once(corpus, config: RunConfig, world: World, log, progress) -> PreparedCorpus:
    """Rank 0 prepares the corpus while the others wait; then, on machines that do not
    share its cache, the first process of each machine; then the rest read it."""
    if world.main:
        data = load_corpus(corpus, config, log, progress)
    world.barrier()
    if not world.main and world.local_rank == 0:
        data = load_corpus(corpus, config, log, progress=False)
    world.barrier()
    if world.local_rank != 0:
        data = PreparedCorpus(prepared_dir_for(corpus, config.data))
    return data


def _train(corpus, out: Path, config: RunConfig, state, world: World, device, progress, log) -> Path:
    """Setup and restore: the corpus, its datasets, the model and its trainer."""
    tc, kind = config.train, get_kind(config.data.kind)
    torch.manual_seed(tc.seed)
    data = _load_corpus_once(corpus, config, world, log, progress)
    if data.kind != kind.prepared:
        raise MuseganError(f"{corpus}: a prepared {data.kind} corpus, but the run is set up for {config.data.kind}")
    info = state["info"] if state else kind.info(data, config)
    train_songs, valid_songs = data.split(config.data.valid_percent)
    train_set, valid_set, plain = kind.datasets(data, config, info, train_songs, valid_songs)
    if len(train_set) == 0:
        raise MuseganError(f"{corpus or 'default corpus'}: no song is long enough for one bar")
    model = _build_model(config, kind, info).to(device)
    valid_batches = _valid_batches(valid_set, tc)
    if state is None:
        info.update(_init_from_data(model, kind, plain, valid_batches, device, log))
    if world.size > 1:  # dropout differs between processes; the model is rank 0's (DDP copies it)
        torch.manual_seed(tc.seed + 1000003 * world.rank)
    trainer = Trainer(model, model.configure_optimizers(tc), device, tc.grad_clip, tc.amp, tc.seed, world)
    if state:
        trainer.restore(state)
    if trainer.steps >= tc.steps:
        log(f"{out}: already trained for {trainer.steps} steps (train.steps={tc.steps}); raise --steps to go on")
        return out
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(".*.tmp"):  # left by a write that a kill cut short
            stale.unlink(missing_ok=True)
        atomic_write_json(out / "config.json", config.to_dict())
    log(f"{config.model}: {n_parameters(model):,} parameters on {device}"
        f"{f' x {world.size} processes' if world.size > 1 else ''}; {len(train_songs)} train / "
        f"{len(valid_songs)} valid songs, {len(train_set)} windows of {plain.window} steps; "
        f"{config.model_config.n_features} features")
    return _fit(trainer, train_set, valid_batches, out, config, info, state is not None, progress, log)


def _build_model(config: RunConfig, kind, info: dict):
    """The family's module, its sizes taken from the data where the config leaves them 0."""
    mc = config.model_config
    kind.check_head(getattr(mc, "head", None))
    settings = kind.model_settings(config, info)
    for key in _fields(mc) & set(settings):
        if not getattr(mc, key):
            setattr(mc, key, settings[key])
    return build_model(config.model, mc)


def _fit(trainer: Trainer, train_set, valid_batches: list, out: Path, config: RunConfig, info: dict,
         resumed: bool, progress: bool, log) -> Path:
    """The loop: step, log, validate, checkpoint; stop when asked (Ctrl-C, SIGTERM) or
    when the loss is not finite."""
    tc, world, model = config.train, trainer.world, trainer.model
    loader = torch.utils.data.DataLoader(
        train_set, batch_sampler=GlobalBatches(len(train_set), tc.seed, trainer.samples_seen, tc.batch_size,
                                               world.rank, world.size),
        num_workers=tc.num_workers, pin_memory=trainer.device.type == "cuda", persistent_workers=tc.num_workers > 0,
        generator=torch.Generator())  # a loader of its own: the global RNG is dropout's alone
    metrics = (CsvLog(out / "metrics.csv", ("step", "loss", "lr", "valid_nll", "seconds"), append=resumed,
                      until_step=trainer.steps) if world.main else None)
    from tqdm.auto import tqdm

    bar = tqdm(total=tc.steps, initial=trainer.steps, desc=f"train {config.model}", unit="step",
               disable=not (progress and world.main), dynamic_ncols=True)
    model.train()
    start, valid_nll = time.time(), math.nan
    it = iter(loader)
    try:
        with _stop_requests() as request:
            while trainer.steps < tc.steps:
                batch = next(it).to(trainer.device, non_blocking=True)
                lr = tc.lr * cosine_lr(trainer.steps, tc.steps, tc.warmup)
                result = trainer.step(batch, lr, stop=request["stop"])
                step, stop, last = trainer.steps, result.pop("stop"), trainer.steps == tc.steps
                if not all(math.isfinite(v) for v in result.values()):
                    raise MuseganError(f"training stopped at step {step}: the loss is not finite "
                                       f"({', '.join(f'{k} {v:.4g}' for k, v in result.items())}); the last good "
                                       f"checkpoint is kept in {out}; lower train.lr")
                row = {"step": step, **result, "lr": lr, "seconds": round(time.time() - start, 2)}
                if step % tc.valid_every == 0 or last:
                    valid_nll = row["valid_nll"] = trainer.validate(valid_batches)
                if metrics:
                    metrics.write(row)
                bar.set_postfix({k: f"{v:.3f}" for k, v in result.items()} |
                                ({} if math.isnan(valid_nll) else {"valid_nll": f"{valid_nll:.3f}"}), refresh=False)
                bar.update(1)
                if step % tc.checkpoint_every == 0 or last or stop:
                    if step % tc.valid_every and not last:
                        valid_nll = trainer.validate(valid_batches)
                    _checkpoint(trainer, valid_nll, out, config, info)
                if stop and not last:
                    raise MuseganError(f"interrupted at step {step}; checkpoint saved, continue with --resume")
    finally:
        bar.close()
        if metrics:
            metrics.close()
    unit = model.valid_unit
    baseline = f" (frequency baseline {info.get('baseline_valid_nll', math.nan):.3f})" if unit == "per frame" else ""
    scored = (f"best validation NLL {unit} {trainer.best:.3f}{baseline}" if model.has_likelihood
              else "no likelihood to validate")
    log(f"done: {trainer.steps} steps in {time.time() - start:.0f} s; {scored}; checkpoints in {out}")
    return out


def _checkpoint(trainer: Trainer, valid_nll: float, out: Path, config: RunConfig, info: dict) -> None:
    """checkpoint.pt (everything to resume), best.pt when the validation NLL improved (a
    family without one: always) and the samples; rank 0 writes, every process calls."""
    model, kind = trainer.model, get_kind(config.data.kind)
    improved = valid_nll < trainer.best  # False for NaN
    trainer.best = valid_nll if improved else trainer.best
    payload = {"config": config.to_dict(), "info": info, **trainer.state()}  # every process: gathers RNG
    if not trainer.world.main:
        return
    if improved or not model.has_likelihood or not (out / "best.pt").exists():
        weights = {k: v for k, v in payload.items() if k not in ("optimizers", "rng", "noise")}
        save_checkpoint(out / "best.pt", {**weights, "valid_nll": valid_nll})
    save_checkpoint(out / "checkpoint.pt", payload)
    kind.write_samples(kind.player(model, config, info), out / "samples", trainer.steps, config.train)
    model.train()


def _valid_batches(valid_set, tc: TrainConfig) -> list:
    """The same validation windows each time (the first ``valid_batches`` batches)."""
    loader = torch.utils.data.DataLoader(valid_set, batch_size=tc.batch_size, generator=torch.Generator())
    return [b for b, _ in zip(loader, range(tc.valid_batches))]


def _init_from_data(model, kind, plain, valid_batches: list, device, log) -> dict:
    """A new run: the model's output biases start at the data's statistics, and the
    baseline of independent features is measured on the validation windows."""
    train_frames = torch.cat([plain[i] for i in range(0, len(plain), max(1, len(plain) // 2000))])
    model.init_from_data(train_frames[None].to(device))
    if not valid_batches:
        return {}
    baseline, what = kind.baseline(train_frames, torch.cat([b.flatten(0, 1) for b in valid_batches]))
    log(f"validation: {sum(len(b) for b in valid_batches)} windows; NLL per frame of independent "
        f"per-feature {what} (the baseline to beat): {baseline:.3f}")
    return {"baseline_valid_nll": round(baseline, 4)}
