"""One trainer for every family: device, AMP, checkpoints, resume, validation, logs.

Each family supplies ``configure_optimizers``, ``train_step`` and ``valid_step``
(see ``models/base.py``); this loop owns everything else. A run folder holds::

    config.json      the run's config as plain data
    checkpoint.pt    the latest state (model, optimizers, step, RNG): --resume reads it
    best.pt          the weights with the best validation NLL (a family without one, the GAN:
                     the latest weights): generation reads it
    metrics.csv      step, loss, learning rate, validation NLL per frame, seconds
    samples/         MIDI written at each checkpoint
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import math
import os
import time
from pathlib import Path

import torch

from .config import DataConfig, RunConfig
from .data.audio import SpectrogramDataset, corpus_stats, spectrogram_settings
from .data.dataset import PreparedCorpus, WindowDataset, bar_steps, frame_spec
from .data.default_corpus import default_corpus_config, default_corpus_files
from .data.prepare import corpus_kind, prepare_corpus, skipped_warning
from .errors import MuseganError, warn
from .generation import make_player, resolve_device
from .io.checkpoint import load_checkpoint, save_checkpoint
from .io.audio import write_wav
from .io.files import CsvLog, atomic_write_json
from .io.midi import write_midi
from .metrics import frequency_baseline_nll, gaussian_baseline_nll
from .models import build_model
from .models.base import HEADS, cosine_lr, n_parameters, set_lr


def cache_root() -> Path:
    root = os.environ.get("MUSEGAN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "musegan")
    return Path(root)


def prepared_dir_for(corpus) -> Path:
    """Where a corpus is prepared: the corpus itself if it is a prepared folder, else a
    cache folder named after its absolute path."""
    if corpus is None:
        return cache_root() / "prepared" / "bach_chorales"
    corpus = Path(corpus)
    if (corpus / "manifest.json").is_file():
        return corpus
    digest = hashlib.sha1(str(corpus.resolve()).encode()).hexdigest()[:10]
    return cache_root() / "prepared" / f"{corpus.resolve().name or 'corpus'}-{digest}"


def load_corpus(corpus, config: RunConfig, log=print, progress=True) -> PreparedCorpus:
    """Prepare (or reuse the cache of) a corpus folder; ``None`` is the default corpus."""
    out = prepared_dir_for(corpus)
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
        kind = corpus_kind(corpus)
        config = RunConfig(model=model, data=DataConfig(kind=kind))
        if kind == "audio" and hasattr(config.model_config, "head"):
            config.model_config.head = "gaussian"
    for key, value in getattr(config.model_config, "train_defaults", {}).items():  # a family's own (the GAN's)
        setattr(config.train, key, value)
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


class _EpochSampler(torch.utils.data.Sampler):
    """Endless shuffled epochs from a given sample onward, so a resumed run sees the
    batches it would have seen. Yields ``epoch * n + i`` (see WindowDataset)."""

    def __init__(self, n: int, seed: int, start: int):
        self.n, self.seed, self.start = n, seed, start

    def __iter__(self):
        epoch, offset = divmod(self.start, self.n)
        while True:
            g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            for i in torch.randperm(self.n, generator=g)[offset:].tolist():
                yield epoch * self.n + i
            epoch, offset = epoch + 1, 0


def train(corpus=None, out="runs/default", config: RunConfig | None = None, resume: bool = False,
          progress: bool = True, log=print) -> Path:
    """Train a model; returns the run folder. ``corpus`` None is the default corpus."""
    out = Path(out)
    ckpt_path = out / "checkpoint.pt"
    state = None
    if resume:
        if not ckpt_path.is_file():
            raise MuseganError(f"{out}: nothing to resume (no checkpoint.pt)")
        state = load_checkpoint(ckpt_path)
        saved = RunConfig.from_dict(state["config"])
        if config is not None:  # a resumed run keeps its model and data; train settings may change
            saved.train = config.train
        config = saved
    elif ckpt_path.exists():
        raise MuseganError(f"{out}: already holds a run; pass --resume to continue it, or choose another --out")
    config = config or make_config(corpus=corpus)
    tc = config.train
    if tc.steps < 1 or tc.batch_size < 1:
        raise MuseganError("train.steps and train.batch_size must be at least 1")
    device = resolve_device(tc.device)
    torch.manual_seed(tc.seed)

    data = load_corpus(corpus, config, log, progress)
    if data.kind != config.data.kind:
        raise MuseganError(f"{corpus}: a prepared {data.kind} corpus, but the run is set up for {config.data.kind}")
    info = state["info"] if state else _data_info(data, config)
    train_songs, valid_songs = data.split(config.data.valid_percent)
    train_set, valid_set, plain, from_data = _datasets(data, config, info, train_songs, valid_songs)
    window = plain.window
    if len(train_set) == 0:
        raise MuseganError(f"{corpus or 'default corpus'}: no song is long enough for one bar")

    mc = config.model_config
    head = getattr(mc, "head", None)
    if head is not None and HEADS.get(head, "binary") != ("continuous" if data.kind == "audio" else "binary"):
        raise MuseganError(f"model.head={head} does not fit a {data.kind} corpus "
                           f"({'gaussian' if data.kind == 'audio' else 'bernoulli or nade'})")
    for key, value in from_data.items():
        if hasattr(mc, key) and not getattr(mc, key):
            setattr(mc, key, value)
    model = build_model(config.model, mc).to(device)
    optimizers = model.configure_optimizers(tc)
    step, best = 0, math.inf
    if state:
        model.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        step, best = int(state["step"]), float(state["best_valid"])
        torch.set_rng_state(state["rng"])
    if step >= tc.steps:
        log(f"{out}: already trained for {step} steps (train.steps={tc.steps}); raise --steps to go on")
        return out

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", config.to_dict())
    log(f"{config.model}: {n_parameters(model):,} parameters on {device}; {len(train_songs)} train / "
        f"{len(valid_songs)} valid songs, {len(train_set)} windows of {window} steps; {from_data['n_features']} features")

    loader = torch.utils.data.DataLoader(
        train_set, batch_size=tc.batch_size, sampler=_EpochSampler(len(train_set), tc.seed, step * tc.batch_size),
        num_workers=tc.num_workers, drop_last=False, pin_memory=device.type == "cuda",
        persistent_workers=tc.num_workers > 0,
        generator=torch.Generator(),  # a loader of its own: the global RNG is dropout's alone
    )
    use_amp = tc.amp and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    metrics = CsvLog(out / "metrics.csv", ("step", "loss", "lr", "valid_nll", "seconds"), append=state is not None)

    def valid_batches():  # the same windows each time; the loader's own generator spares the global RNG
        loader = torch.utils.data.DataLoader(valid_set, batch_size=tc.batch_size, generator=torch.Generator())
        return (b for b, _ in zip(loader, range(tc.valid_batches)))

    scores_nll = getattr(model, "has_likelihood", True)  # a GAN has none: best.pt is then the latest weights

    def validate() -> float:
        if not scores_nll:
            return math.nan
        model.eval()
        total, frames = 0.0, 0
        for batch in valid_batches():
            r = model.valid_step(batch.to(device), autocast)
            total, frames = total + r["nll_sum"], frames + r["frames"]
        model.train()
        return total / frames if frames else math.nan

    if state is None:  # a new run: the frequency baseline, and the model's output biases start there
        train_frames = torch.cat([plain[i] for i in range(0, len(plain), max(1, len(plain) // 2000))])
        if hasattr(model, "init_from_data"):
            model.init_from_data(train_frames[None].to(device))
        valid_frames = [b.flatten(0, 1) for b in valid_batches()]
        if valid_frames:
            audio = data.kind == "audio"
            baseline = (gaussian_baseline_nll if audio else frequency_baseline_nll)(train_frames, torch.cat(valid_frames))
            info["baseline_valid_nll"] = round(baseline, 4)
            what = "Gaussians (mean, std)" if audio else "frequencies"
            log(f"validation: {sum(len(b) for b in valid_frames) // window} windows; NLL per frame of independent "
                f"per-feature {what} (the baseline to beat): {baseline:.3f}")

    def checkpoint(valid_nll: float) -> None:
        nonlocal best
        improved = valid_nll < best  # False for NaN
        best = valid_nll if improved else best
        payload = {"config": config.to_dict(), "info": info, "step": step, "model": model.state_dict(),
                   "best_valid": best}
        if improved or not scores_nll or not (out / "best.pt").exists():
            save_checkpoint(out / "best.pt", {**payload, "valid_nll": valid_nll})
        payload["optimizers"] = {k: o.state_dict() for k, o in optimizers.items()}
        payload["rng"] = torch.get_rng_state()
        save_checkpoint(ckpt_path, payload)
        player = make_player(model, config, info)
        for i in range(tc.samples):
            if data.kind == "audio":
                y, sr = player.generate(seconds=tc.sample_seconds, seed=i)
                write_wav(out / "samples" / f"step{step:06d}-{i}.wav", y, sr)
            else:
                write_midi(out / "samples" / f"step{step:06d}-{i}.mid", player.generate_song(tc.sample_bars, seed=i))
        model.train()

    from tqdm.auto import tqdm

    bar = tqdm(total=tc.steps, initial=step, desc=f"train {config.model}", unit="step",
               disable=not progress, dynamic_ncols=True)
    model.train()
    start = time.time()
    valid_nll = math.nan
    it = iter(loader)
    try:
        while step < tc.steps:
            batch = next(it).to(device, non_blocking=True)
            scale = cosine_lr(step, tc.steps, tc.warmup)
            set_lr(optimizers, tc.lr * scale)
            result = model.train_step(batch, optimizers, autocast, tc.grad_clip)
            step += 1
            if not all(math.isfinite(v) for v in result.values()):
                raise MuseganError(f"training diverged at step {step} ({result}); lower train.lr")
            last = step == tc.steps
            row = {"step": step, **result, "lr": tc.lr * scale, "seconds": round(time.time() - start, 2)}
            if step % tc.valid_every == 0 or last:
                valid_nll = validate()
                row["valid_nll"] = valid_nll
            metrics.write(row)
            bar.set_postfix({k: f"{v:.3f}" for k, v in result.items()} |
                            ({} if math.isnan(valid_nll) else {"valid_nll": f"{valid_nll:.3f}"}), refresh=False)
            bar.update(1)
            if step % tc.checkpoint_every == 0 or last:
                if step % tc.valid_every and not last:
                    valid_nll = validate()
                checkpoint(valid_nll)
    except KeyboardInterrupt:
        bar.close()
        checkpoint(math.nan)
        raise MuseganError(f"interrupted at step {step}; checkpoint saved, continue with --resume") from None
    finally:
        bar.close()
        metrics.close()
    scored = (f"best validation NLL per frame {best:.3f} (frequency baseline "
              f"{info.get('baseline_valid_nll', math.nan):.3f})" if scores_nll else "no likelihood to validate")
    log(f"done: {step} steps in {time.time() - start:.0f} s; {scored}; checkpoints in {out}")
    return out


def _datasets(data: PreparedCorpus, config: RunConfig, info: dict, train_songs, valid_songs):
    """The training set (random windows), the validation set and a plain training set
    (fixed windows: data statistics), and the sizes a model takes from the data."""
    d, seed = config.data, config.train.seed
    if data.kind == "audio":
        stats, window = info["stats"], d.window_frames
        sets = (SpectrogramDataset(data, train_songs, window, max(1, window // 2), stats, jitter=True, seed=seed),
                SpectrogramDataset(data, valid_songs, window, window, stats),
                SpectrogramDataset(data, train_songs, window, window, stats))
        from_data = {"n_features": stats["channels"] * stats["n_bins"], "steps_per_bar": 0,
                     "n_bins": stats["n_bins"], "n_channels": stats["channels"], "n_frames": window}
        return (*sets, from_data)
    spec = frame_spec(d, len(info["tracks"]))
    window = d.window_bars * info["steps_per_bar"]
    drums = [k for k, t in enumerate(info["tracks"]) if t["is_drum"]]
    sets = (WindowDataset(data, train_songs, spec, window, info["steps_per_bar"], d.transpose, drums, seed),
            WindowDataset(data, valid_songs, spec, window, window),
            WindowDataset(data, train_songs, spec, window, window))
    from_data = {"n_features": spec.n_features, "steps_per_bar": info["steps_per_bar"], "n_tracks": spec.n_tracks,
                 "n_channels": spec.n_channels, "n_pitches": spec.n_pitches, "n_bars": d.window_bars}
    return (*sets, from_data)


def _data_info(data: PreparedCorpus, config: RunConfig) -> dict:
    if data.kind == "audio":
        stats = corpus_stats(data.entries, spectrogram_settings(config.data))
        seconds = sum(e["seconds"] for e in data.entries)
        return {"kind": "audio", "stats": stats, "corpus_files": len(data), "corpus_seconds": round(seconds, 2)}
    num, den = data.time_signature()
    return {
        "tracks": [t.to_dict() for t in data.track_template()],
        "steps_per_bar": bar_steps(config.data, data),
        "time_signature": [int(num), int(den)],
        "tempo": round(data.tempo(), 3),
        "resolution": config.data.resolution,
        "corpus_files": len(data),
    }
