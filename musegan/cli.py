"""Command line: ``musegan prepare | train | generate | studio | render | evaluate | benchmark``. Argument parsing only; the
work is done by the Python API."""
from __future__ import annotations

import argparse
import os
import sys

from .errors import MuseganError, warn


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise MuseganError(f"{self.prog}: {message}")


def _number(kind, minimum, what: str, bound: str):
    """An argparse type: ``kind(text)`` at least ``minimum``, with one-line errors."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {bound}, got {value}")
        return value

    return parse


_positive_int = _number(int, 1, "a whole number", "at least 1")
_nonneg_float = _number(float, 0, "a number", "a number >= 0")
_positive_float = _number(float, 1e-9, "a number", "a number > 0")


def _unit_float(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {value}")
    return value


def _part(text: str) -> tuple[int, int]:
    """An argparse type: ``I/N``, part I (1 to N) of N."""
    i, sep, n = text.partition("/")
    if not (sep and i.strip().isdigit() and n.strip().isdigit()):
        raise argparse.ArgumentTypeError(f"expected I/N (part I of N, from 1/N to N/N), got {text!r}")
    i, n = int(i), int(n)
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"part {i}/{n}: expected I/N with 1 <= I <= N")
    return i, n


def _bars(text: str) -> tuple[int, int]:
    """An argparse type: ``FIRST-LAST`` (or one bar ``N``), bars counted from 1."""
    first, sep, last = text.partition("-")
    if not first.strip().isdigit() or (sep and not last.strip().isdigit()):
        raise argparse.ArgumentTypeError(f"expected bars FIRST-LAST counted from 1, e.g. 5-8, got {text!r}")
    first, last = int(first), int(last) if sep else int(first)
    if not 1 <= first <= last:
        raise argparse.ArgumentTypeError(f"bars {first}-{last}: expected 1 <= FIRST <= LAST")
    return first, last


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected NAME[,NAME...], got {text!r}")
    return names


def _program(text: str) -> tuple[str, int]:
    name, sep, number = text.partition("=")
    if not (sep and name.strip() and number.strip().isdigit() and 0 <= int(number) <= 127):
        raise argparse.ArgumentTypeError(f"expected TRACK=N with N a General MIDI program 0-127, got {text!r}")
    return name.strip(), int(number)


def _pull(text: str) -> tuple[str, float]:
    """An argparse type: ``NAME=NATS`` for ``--pull``, checked by ``steering.check_pulls``."""
    from .steering import PULLS, check_pulls

    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise MuseganError("no '='")
        return next(iter(check_pulls({name.strip(): value}).items()))
    except MuseganError:
        raise argparse.ArgumentTypeError(f"expected NAME=NATS with NAME one of {', '.join(PULLS)} and NATS a "
                                         f"number of at least 0, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="musegan", description="Generate music: train on a folder of MIDI files, get MIDI back.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    pp = sub.add_parser("prepare", help="read a corpus into cached shards and a manifest")
    pp.add_argument("corpus", nargs="?",
                    help="folder of MIDI / MusicXML / ABC / Humdrum files, or of WAV / FLAC / OGG files")
    pp.add_argument("--out", required=True, help="folder for shards and manifest.json")
    pp.add_argument("--shard", type=_part, metavar="I/N",
                    help="prepare only part I of N (1/N to N/N; by a hash of each file's path in CORPUS), "
                         "e.g. one part per machine; join the parts with --merge")
    pp.add_argument("--merge", nargs="+", metavar="DIR",
                    help="instead of CORPUS: join prepared folders (the parts 1/N to N/N) into --out")
    pp.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    pp.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help="data setting")
    pp.add_argument("--quiet", action="store_true", help="no progress bar")

    pt = sub.add_parser("train", help="train a model (prepares the corpus first)")
    pt.add_argument("--corpus", help="folder of music (or audio) files, or a prepared folder (default: Bach chorales)")
    pt.add_argument("--out", help="run folder (default: runs/CORPUS-MODEL)")
    pt.add_argument("--model", default="lstm", help="model family: lstm (default), conv, gan or coconet "
                                                         "(masked: infills and harmonizes)")
    pt.add_argument("--steps", type=_positive_int, help="training steps (default 1500; 800 on the default corpus)")
    pt.add_argument("--batch-size", type=_positive_int, help="windows per step (default 32)")
    pt.add_argument("--lr", type=_nonneg_float, help="learning rate")
    pt.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto: CUDA when present")
    pt.add_argument("--seed", type=int)
    pt.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    pt.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="any setting, e.g. model.hidden_size=256, data.window_bars=8, data.kind=tokens (audio as tokens)")
    pt.add_argument("--quiet", action="store_true", help="no progress bar")

    pg = sub.add_parser("generate", help="sample MIDI (or audio, from an audio model) from a trained run")
    pg.add_argument("run", help="run folder or checkpoint file")
    pg.add_argument("--out", required=True, help="output .mid file (or .wav: rendered to 44.1 kHz audio; "
                                                 "audio models write .wav)")
    pg.add_argument("--num", type=_positive_int, default=1, help="files to write (seed, seed+1, ...)")
    pg.add_argument("--bars", type=_positive_int, help="bars to generate (after the primer; default 16)")
    pg.add_argument("--seconds", type=_positive_float, help="audio models: seconds to generate (default 4)")
    pg.add_argument("--seed", type=int, default=0)
    pg.add_argument("--temperature", type=_nonneg_float,
                    help="0 is greedy; >1 wilder (default 1; coconet runs: their own, 0.5)")
    pg.add_argument("--top-p", type=_unit_float, default=1.0,
                    help="nucleus sampling: keep the likeliest choices that hold this share (default 1: all)")
    pg.add_argument("--max-copy-seconds", type=_nonneg_float, metavar="S",
                    help="audio-token runs: draw no stretch of S seconds of the training tokens (default 0: only "
                         "when a second is drawn again for being a copy, at 0.1)")
    pg.add_argument("--pull", action="append", type=_pull, default=[], metavar="NAME=NATS",
                    help="steer the sampler (lstm, conv), each 0 = off: hold=N keeps a just-started note for a 32nd; "
                         "key=N pushes notes outside the piece's major scale down; groove=N pulls the drums towards "
                         "the bar before's hits; chord=N favours, in each later part, the pitch classes the parts "
                         "drawn before sound (pop at 12 steps per quarter: hold=4 key=1.5 groove=1 chord=1)")
    pg.add_argument("--primer", help="MIDI file to continue (or, with --infill / --keep-tracks, to edit)")
    pg.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"],
                    help="default cpu: the same seed gives the same file on every machine")
    pc = pg.add_argument_group("infill and harmonize (the rest of the given piece is kept exactly)")
    pc.add_argument("--infill", type=_bars, metavar="FIRST-LAST",
                    help="draw bars FIRST to LAST (from 1) of --primer again, given the music on both sides "
                         "(coconet runs)")
    pc.add_argument("--tracks", type=_names, metavar="NAME,...", help="with --infill: only these tracks")
    pc.add_argument("--harmonize", metavar="MELODY", help="a melody file: keep it, write the other tracks around it")
    pc.add_argument("--as", dest="as_tracks", type=_names, metavar="NAME,...",
                    help="with --harmonize: the model track(s) the melody's track(s) play (default: by name/program)")
    pc.add_argument("--keep-tracks", type=_names, metavar="NAME,...",
                    help="keep these tracks of --primer and write the others around them, for its whole length")
    pc.add_argument("--iterations", type=_positive_int, help="coconet: Gibbs sampling steps (default: the run's)")
    pst = pg.add_argument_group("steering")
    pst.add_argument("--key", help="e.g. C, F#, Bb, Am, 'Eb minor': the piece is moved to fit this key best")
    pst.add_argument("--tempo", type=_positive_float, metavar="BPM", help="quarter notes per minute")
    pst.add_argument("--program", action="append", default=[], type=_program, metavar="TRACK=N",
                     help="General MIDI program N (0-127) for a track, e.g. --program bass=33 (repeatable)")
    pst.add_argument("--time-signature", metavar="N/D", help="only the one the model was trained on")

    ps = sub.add_parser("studio", help="a local web page to generate, audition, infill and download MIDI")
    ps.add_argument("runs", nargs="*", metavar="RUN", help="run folders (or checkpoints) the page may load")
    ps.add_argument("--runs-dir", help="also offer every run found under this folder")
    ps.add_argument("--port", type=_positive_int, default=8765, help="default 8765")
    ps.add_argument("--host", default="127.0.0.1",
                    help="default 127.0.0.1 (this machine only); another address warns: the page has no login")

    pr = sub.add_parser("render", help="MIDI to 44.1 kHz WAV (FluidSynth, else a basic built-in synthesizer), "
                                       "or to a piano-roll picture (.png); audio to a spectrogram picture (.png)")
    pr.add_argument("midi", help="MIDI file (or WAV / FLAC / OGG: drawn as a spectrogram)")
    pr.add_argument("--out", required=True, help="output .wav file, or .png for a piano-roll (audio: spectrogram) "
                                                 "picture")
    pr.add_argument("--soundfont", help="General MIDI .sf2 (default: TimGM6mb.sf2, shipped with pretty_midi)")
    pr.add_argument("--synth", default="auto", choices=["auto", "fluidsynth", "numpy"],
                    help="default auto: FluidSynth when installed, else the built-in synthesizer")
    pr.add_argument("--seconds", type=_positive_float, help="render only the first SECONDS")

    pe = sub.add_parser("evaluate", help="musical metrics (MuseGAN's, muspy's) of generated music beside a corpus, "
                                         "and a classifier two-sample test; audio runs: Frechet distance on "
                                         "log-mel statistics")
    pe.add_argument("generated", help="run folder or checkpoint (samples are generated), or a folder of MIDI files")
    pe.add_argument("--reference", required=True, help="folder of music files, or a prepared folder")
    pe.add_argument("--out", help="JSON report (default: evaluation.json in GENERATED)")
    pe.add_argument("--num", type=_positive_int, default=100, help="samples to generate from a run")
    pe.add_argument("--bars", type=_positive_int, default=8, help="bars per sample (reference songs are cut so)")
    pe.add_argument("--seed", type=int, default=0)
    pe.add_argument("--temperature", type=_nonneg_float, help="default: as musegan generate")
    pe.add_argument("--top-p", type=_unit_float, default=1.0, help="nucleus sampling of the generated samples")
    pe.add_argument("--resolution", type=_positive_int, default=24, help="steps per quarter note (default: the paper's 24)")
    pe.add_argument("--max-samples", type=_positive_int, default=200, help="reference samples at most")
    pe.add_argument("--tracks", choices=["lpd5", "merge", "keep"], help="track mapping (default: the run's, else lpd5)")
    pe.add_argument("--max-tracks", type=_positive_int, help="rows kept with --tracks keep")
    pe.add_argument("--seconds", type=_positive_float, default=4.0, help="audio runs: seconds per clip (default 4)")
    pe.add_argument("--max-copy-seconds", type=_nonneg_float, metavar="S",
                    help="audio-token runs: the copy guard, as for musegan generate")
    pe.add_argument("--pull", action="append", type=_pull, default=[], metavar="NAME=NATS",
                    help="steer the sampler, as for musegan generate")
    pe.add_argument("--segment-bars", type=_positive_int, default=4,
                    help="bars per segment of the classifier two-sample test (default 4; at most --bars)")

    pb = sub.add_parser("benchmark", help="train and score a model on a standard benchmark")
    bench = pb.add_subparsers(dest="suite", required=True, parser_class=_Parser)
    pbp = bench.add_parser("polyphonic", help="frame-level test NLL on a polyphonic music .mat file "
                                              "(JSB Chorales, Nottingham, ...; Boulanger-Lewandowski et al. 2012)")
    pbp.add_argument("--data", required=True, help=".mat file: traindata/validdata/testdata cells of (T, 88) 0/1 rolls")
    pbp.add_argument("--model", default="lstm", help="model family: lstm (default) or conv")
    pbp.add_argument("--out", required=True, help="RESULT.json to write")
    pbp.add_argument("--config", help='JSON file of settings: {"bench": {...}, "model": {...}}')
    pbp.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                     help="a setting over --config, e.g. bench.epochs=50, model.head=nade, model.hidden_size=256")
    pbp.add_argument("--quiet", action="store_true", help="no line per epoch")
    return p


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "prepare":
        from .config import DataConfig, set_field
        from .data.prepare import corpus_kind, merge_prepared, prepare_corpus, skipped_warning
        from pathlib import Path

        if args.merge:
            given = [flag for flag, v in (("CORPUS", args.corpus), ("--shard", args.shard), ("--set", args.set)) if v]
            if given:
                raise MuseganError(f"musegan prepare: --merge takes no {', '.join(given)} (the parts' settings are kept)")
            m = merge_prepared(args.merge, args.out)
        elif args.corpus is None:
            raise MuseganError("musegan prepare: give a CORPUS folder, or --merge DIR ... to join prepared parts")
        else:
            config = DataConfig(kind=corpus_kind(args.corpus))
            for item in args.set:  # data settings only: RunConfig's would import torch, 0.8 GB in every worker
                key, sep, value = item.partition("=")
                section, _, name = key.strip().partition(".")
                if not (sep and section == "data" and name):
                    raise MuseganError(f"--set {item!r}: prepare takes data.KEY=VALUE settings, e.g. data.resolution=12")
                set_field(config, name, value, label=key.strip())
            m = prepare_corpus(args.corpus, args.out, config, args.workers, progress=not args.quiet, part=args.shard)
        s = m["summary"]
        size = f"{s['seconds']:,} s of audio" if "seconds" in s else f"{s['notes']:,} notes"
        done = f"merged from {len(args.merge)} folders" if args.merge else "prepared"
        part = f" (part {args.shard[0]}/{args.shard[1]})" if args.shard else ""
        print(f"{s['ok']} of {s['files']} files {done}{part} ({size}) in {args.out}")
        warning = skipped_warning(m, Path(args.out) / "manifest.json")
        if warning:
            warn(warning)
        return 0
    if args.command == "train":
        from .training import default_run_dir, make_config, train

        config = make_config(args.model, args.corpus, args.set, steps=args.steps, batch_size=args.batch_size,
                             lr=args.lr, device=args.device, seed=args.seed)
        out = args.out or default_run_dir(args.corpus, args.model)
        train(args.corpus, out, config, resume=args.resume, progress=not args.quiet)
        from .distributed import World
        from .kinds import get_kind

        if World().main:
            print(f"next: musegan generate {out} --out {get_kind(config.data.kind).sample_example}")
        return 0
    if args.command == "generate":
        from .generation import generate_files

        paths = generate_files(args.run, args.out, args.num, args.bars, args.seed, args.temperature,
                               args.primer, args.device, args.seconds, args.top_p, infill=args.infill,
                               tracks=args.tracks, harmonize=args.harmonize, keep_tracks=args.keep_tracks,
                               as_tracks=args.as_tracks, key=args.key, tempo=args.tempo,
                               programs=dict(args.program) or None, time_signature=args.time_signature,
                               iterations=args.iterations, max_copy_seconds=args.max_copy_seconds,
                               pulls=dict(args.pull) or None)
        for path in paths:
            print(path)
        return 0
    if args.command == "studio":
        from .studio import serve

        serve(args.runs, runs_dir=args.runs_dir, host=args.host, port=args.port)
        return 0
    if args.command == "render":
        from .render import render_file

        print(render_file(args.midi, args.out, args.soundfont, args.synth, seconds=args.seconds))
        return 0
    if args.command == "evaluate":
        from .evaluation import evaluate

        r = evaluate(args.generated, args.reference, args.out, args.num, args.bars, args.seed, args.temperature,
                     args.resolution, args.max_samples, args.tracks, args.max_tracks, args.seconds,
                     segment_bars=args.segment_bars, top_p=args.top_p, max_copy_seconds=args.max_copy_seconds,
                     pulls=dict(args.pull) or None)
        print(f"written to {r['out']}")
        return 0
    if args.command == "benchmark":
        from .benchmark import run_polyphonic

        r = run_polyphonic(args.data, args.model, args.out, args.config, args.set,
                           log=(lambda *_: None) if args.quiet else print)
        print(f"test NLL {r['test_nll']:.4f} (skip first frame: {r['test_nll_skip_first']:.4f}), accuracy "
              f"{r['test_accuracy']:.4f}; valid NLL {r['valid_nll']:.4f}; {r['train_seconds']:.0f} s training; "
              f"written to {args.out}")
        return 0
    raise AssertionError(args.command)


def main(argv=None) -> int:
    try:
        return run(argv)
    except MuseganError as e:
        print(f"musegan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("musegan: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line unless asked for the traceback
        if os.environ.get("MUSEGAN_DEBUG"):
            raise
        msg = " ".join(str(e).split())[:300]
        print(f"musegan: internal error: {type(e).__name__}: {msg} (MUSEGAN_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
