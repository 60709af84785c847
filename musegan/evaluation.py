"""``musegan evaluate``: the musical metrics of generated music beside a real corpus
(audio runs: Frechet distances on log-mel statistics and on hand-made features, a
classifier two-sample test and nearest-neighbour distances to the corpus, see
:func:`evaluate_audio`).

Both sides become samples of ``bars`` bars (a run's samples are generated at that
length; MIDI files and reference songs are cut at bar lines into such segments),
read at one ``resolution`` (default 24 steps per quarter note, the MuseGAN paper's,
so that QN and DP see short notes and off-grid drums) with one track mapping. Each
metric of :mod:`musegan.metrics` is computed per sample; the report gives, per
metric, the mean on each side and the overlapping area of the two per-sample
distributions (Yang and Lerch 2020): 1 when they match, 0 when they are disjoint.
Then a classifier two-sample test: a random forest on simple features of segments of
``segment_bars`` bars of both sides; its cross-validated accuracy (0.5: it cannot tell
generated from real) and the features it relied on.
"""
from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import MuseganError
from .io.checkpoint import NAMES
from .io.files import atomic_write_json
from .io.midi import UnreadableFile, read_song
from .metrics import (
    classifier_two_sample_test,
    drum_pattern,
    empty_bars,
    groove_consistency,
    log_mel_frames,
    loudness_floor,
    overlapping_area,
    pitch_class_entropy,
    polyphony,
    qualified_notes,
    scale_consistency,
    segment_features,
    tonal_distance,
    used_pitch_classes,
)
from .representations.pianoroll import END, START, Song, Track, map_tracks


def is_run(path) -> bool:
    path = Path(path)
    return path.suffix == ".pt" or (path.is_dir() and any((path / n).is_file() for n in NAMES))


def track_labels(tracks: list) -> list[str]:
    """A unique label per row: its name, else ``track<k>``."""
    labels = []
    for k, t in enumerate(tracks):
        name = t.name.strip() or f"track{k}"
        labels.append(name if name not in labels else f"{name}{k}")
    return labels


def rescale(song: Song, resolution: int) -> Song:
    """The song at ``resolution`` steps per quarter note (a multiple of its own: exact)."""
    if song.resolution == resolution:
        return song
    if resolution % song.resolution:
        raise MuseganError(f"cannot evaluate at resolution {resolution}: not a multiple of the music's "
                           f"{song.resolution} steps per quarter note")
    f = resolution // song.resolution
    notes = song.notes.copy()
    notes[:, START] *= f
    notes[:, END] *= f
    return Song(notes, song.tracks, resolution, [(s * f, q) for s, q in song.tempos],
                [(s * f, n, d) for s, n, d in song.time_signatures], song.n_steps * f)


def segments(song: Song, bars: int) -> list[Song]:
    """The song cut at bar lines into pieces of ``bars`` bars (the last one whole only);
    pieces without notes are left out."""
    length = bars * song.steps_per_bar
    out = []
    for start in range(0, max(song.n_steps - length, 0) + 1, length):
        n = song.notes[(song.notes[:, START] < start + length) & (song.notes[:, END] > start)].copy()
        if not len(n):
            continue
        n[:, START] = np.maximum(n[:, START] - start, 0)
        n[:, END] = np.minimum(n[:, END] - start, length)
        out.append(Song(n, song.tracks, song.resolution, song.tempos[:1], song.time_signatures[:1], length))
    return out


def sample_metrics(song: Song) -> dict:
    """Every metric of one sample: per track EB (all), UPC and QN (pitched), DP (drums);
    TD per pair of pitched tracks; polyphony, pitch-class entropy, scale and groove
    consistency of the whole."""
    mt = song.to_multitrack()
    roll, onsets = mt.pianoroll > 0, mt.onsets
    spb, res = song.steps_per_bar, song.resolution
    drums = [t.is_drum for t in song.tracks]
    labels = track_labels(song.tracks)
    out = {}
    for k, label in enumerate(labels):
        out[f"EB/{label}"] = empty_bars(roll[k], spb)
        if drums[k]:
            out[f"DP/{label}"] = drum_pattern(roll[k], res, onsets[k])
        else:
            out[f"UPC/{label}"] = used_pitch_classes(roll[k], spb)
            out[f"QN/{label}"] = qualified_notes(roll[k], res, onsets[k])
    pitched = [k for k in range(len(labels)) if not drums[k]]
    for a, b in itertools.combinations(pitched, 2):
        out[f"TD/{labels[a]}-{labels[b]}"] = tonal_distance(roll[a], roll[b], spb)
    out["polyphony"] = polyphony(roll, drums)
    out["pitch_class_entropy"] = pitch_class_entropy(roll, onsets, drums)
    out["scale_consistency"] = scale_consistency(roll, onsets, drums)
    out["groove_consistency"] = groove_consistency(roll, spb, onsets)
    return out


def read_mapped(path, resolution: int, data) -> Song:
    """A music file, its tracks mapped as ``data`` (a DataConfig) says."""
    song = read_song(path, resolution)
    notes, tracks = map_tracks(song.notes, song.tracks, data.tracks, data.max_tracks, data.track_names)
    return Song(notes, tracks, resolution, song.tempos, song.time_signatures, song.n_steps)


def collect(source, data, resolution: int, bars: int, max_samples: int,
            seed: int) -> tuple[list[Song], dict, list[int]]:
    """Up to ``max_samples`` segments of ``bars`` bars from a folder of music files or a
    prepared folder: songs in a seeded random order, a few random segments of each (two,
    or more when there are few songs). Also the song (its place in that order) of each."""
    from .data.dataset import PreparedCorpus
    from .data.prepare import list_music_files

    source = Path(source)
    rng = random.Random(seed)
    if (source / "manifest.json").is_file():
        corpus = PreparedCorpus(source)
        order = list(range(len(corpus)))
        load = lambda i: rescale(corpus.song(i), resolution)  # noqa: E731
    else:
        order = list_music_files(source)
        load = lambda p: read_mapped(p, resolution, data)  # noqa: E731
    rng.shuffle(order)
    per_song = max(2, math.ceil(max_samples / max(1, len(order))))
    out, skipped, songs, song_of = [], 0, 0, []
    for k, item in enumerate(order):
        if len(out) >= max_samples:
            break
        try:
            song = load(item)
        except UnreadableFile:
            skipped += 1
            continue
        pieces = segments(song, bars)
        songs += bool(pieces)
        out.extend(rng.sample(pieces, min(per_song, len(pieces), max_samples - len(out))))
        song_of.extend([k] * (len(out) - len(song_of)))
    if not out:
        raise MuseganError(f"{source}: no piece of {bars} bars with notes")
    return out, {"source": str(source), "songs": songs, "skipped_files": skipped}, song_of


def generate_samples(model, num: int, bars: int, seed: int, temperature: float, resolution: int,
                     top_p: float = 1.0, pulls: dict | None = None) -> list[Song]:
    return [rescale(model.generate_song(bars, seed + i, temperature, top_p=top_p, pulls=pulls), resolution)
            for i in range(num)]


def evaluate(generated, reference, out=None, num: int = 100, bars: int = 8, seed: int = 0,
             temperature: float | None = None, resolution: int = 24, max_samples: int = 200, tracks=None,
             max_tracks=None, seconds: float = 4.0, segment_bars: int = 4, top_p: float = 1.0, log=print,
             max_copy_seconds: float | None = None, pulls: dict | None = None) -> dict:
    """Score ``generated`` (a run: ``num`` samples of ``bars`` bars are generated; or a
    folder of music files) beside ``reference`` (a folder of music files or a prepared
    folder), with a classifier two-sample test on both cut into segments of
    ``segment_bars`` bars (:func:`two_sample_test`); writes the report as JSON to ``out``
    (default: ``evaluation.json`` in the run or folder) and returns it. An audio run is scored by :func:`evaluate_audio`
    (clips of ``seconds``; an audio-token run's copy guard set by ``max_copy_seconds``,
    see ``generation.guard_copies``). ``pulls``: as for ``musegan generate --pull``."""
    from .config import DataConfig
    from .generation import AudioModel, guard_copies, load

    generated = Path(generated)
    if not generated.exists():
        raise MuseganError(f"{generated}: no such run or folder")
    data = DataConfig()
    model = load(generated) if is_run(generated) else None
    guard_copies(model, max_copy_seconds, generated)
    if pulls and model is None:
        raise MuseganError(f"--pull: {generated} is a folder of music files, not a run to sample")
    if isinstance(model, AudioModel):
        if pulls:
            raise MuseganError(f"--pull: {generated} is an audio model; pulls work on symbolic (MIDI) models only")
        return evaluate_audio(generated, reference, out, num, seconds, seed, temperature, max_samples, log, model,
                              top_p)
    if model is not None:
        gen = generate_samples(model, num, bars, seed, temperature, resolution, top_p, pulls)
        data = model.config.data
        gen_info = {"source": str(generated), "run": True, "top_p": top_p, "seed": seed, "pulls": dict(pulls or {}),
                    "temperature": model.model.default_temperature if temperature is None else temperature}
        gen_songs = list(range(num))
    else:
        gen = None
    if tracks is not None:
        data.tracks = tracks
    if max_tracks is not None:
        data.max_tracks = max_tracks
    if gen is None:
        gen, gen_info, gen_songs = collect(generated, data, resolution, bars, num, seed)
    ref, ref_info, ref_songs = collect(reference, data, resolution, bars, max_samples, seed)
    if len(gen[0].tracks) != len(ref[0].tracks):
        raise MuseganError(f"{generated} has {len(gen[0].tracks)} tracks, {reference} {len(ref[0].tracks)}: "
                           "map them alike (--tracks, --max-tracks)")
    gen_values = [sample_metrics(s) for s in gen]
    ref_values = [sample_metrics(s) for s in ref]
    names = list(dict.fromkeys(k for v in ref_values + gen_values for k in v))
    report = {
        "resolution": resolution, "bars": bars,
        "generated": {**gen_info, "samples": len(gen)},
        "reference": {**ref_info, "samples": len(ref)},
        "metrics": {},
    }
    for name in names:
        g = np.array([v.get(name, math.nan) for v in gen_values], float)
        r = np.array([v.get(name, math.nan) for v in ref_values], float)
        report["metrics"][name] = {
            "generated": _mean(g), "reference": _mean(r), "overlap": _round(overlapping_area(g, r)),
            "generated_std": _std(g), "reference_std": _std(r),
            "generated_n": int(np.isfinite(g).sum()), "reference_n": int(np.isfinite(r).sum()),
        }
    report["classifier_two_sample_test"] = two_sample_test(gen, gen_songs, ref, ref_songs, bars, segment_bars, seed)
    if out is None:
        out = generated / "evaluation.json" if generated.is_dir() else generated.with_suffix(".evaluation.json")
    atomic_write_json(out, report)
    report["out"] = str(out)
    log(format_report(report))
    return report


def format_report(report: dict) -> str:
    g, r = report["generated"], report["reference"]
    lines = [f"{g['samples']} generated vs {r['samples']} reference samples of {report['bars']} bars "
             f"at {report['resolution']} steps per quarter; overlap: of the per-sample distributions (1 = same)",
             f"{'metric':<28}{'generated':>11}{'reference':>11}{'overlap':>9}"]
    for name, m in report["metrics"].items():
        lines.append(f"{name:<28}{_fmt(m['generated']):>11}{_fmt(m['reference']):>11}{_fmt(m['overlap']):>9}")
    if "classifier_two_sample_test" in report:
        lines.append(format_two_sample(report["classifier_two_sample_test"]))
    return "\n".join(lines)


def two_sample_test(gen: list[Song], gen_songs: list, ref: list[Song], ref_songs: list, bars: int,
                    segment_bars: int, seed: int, top: int = 10) -> dict:
    """The classifier two-sample test (:func:`musegan.metrics.classifier_two_sample_test`)
    on :func:`musegan.metrics.segment_features` of both sides' samples cut into segments
    of ``segment_bars`` bars (segments of one song kept in one fold); its ``top``
    features. Rows are named alike on both sides (row k is one role, as the track mapping
    made it): by the reference's most common track labels. When it cannot run:
    ``{"skipped": reason}``."""
    if segment_bars > bars:
        return {"skipped": f"segments of {segment_bars} bars (--segment-bars) are longer than the samples' {bars} (--bars)"}
    names = Counter(tuple(track_labels(s.tracks)) for s in ref).most_common(1)[0][0]
    sides = []
    for samples, songs in ((gen, gen_songs), (ref, ref_songs)):
        named = [replace(s, tracks=[Track(n, t.program, t.is_drum) for n, t in zip(names, s.tracks)]) for s in samples]
        cut = [(segment_features(s), song) for x, song in zip(named, songs) for s in segments(x, segment_bars)]
        sides.append(([f for f, _ in cut], [song for _, song in cut]))
    try:
        result = classifier_two_sample_test(sides[0][0], sides[1][0], seed, generated_groups=sides[0][1],
                                            real_groups=sides[1][1])
    except MuseganError as e:
        return {"skipped": str(e)}
    features = [{k: _round(v) if isinstance(v, float) else v for k, v in f.items()} for f in result["features"][:top]]
    return {**result, "accuracy": _round(result["accuracy"]), "std": _round(result["std"]),
            "segment_bars": segment_bars, "features": features}


def format_two_sample(c: dict) -> str:
    if "skipped" in c:
        return f"classifier two-sample test skipped: {c['skipped']}"
    top = ", ".join(f"{f['feature']} (real {f['real']:.2f}, generated {f['generated']:.2f})" for f in c["features"][:3])
    return (f"classifier two-sample test: accuracy {c['accuracy']:.2f} +- {c['std']:.2f} over {c['folds']} folds "
            f"({c['segments']} generated / {c['segments']} real segments of {c['segment_bars']} bars; "
            f"0.5 = indistinguishable); it relied on: {top}")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _round(v: float):
    return None if v is None or not math.isfinite(v) else round(float(v), 4)


def _mean(x: np.ndarray):
    x = x[np.isfinite(x)]
    return _round(float(x.mean())) if len(x) else None


def _std(x: np.ndarray):
    x = x[np.isfinite(x)]
    return _round(float(x.std())) if len(x) else None



# ---------------------------------------------------------------------------- audio

def active(frames: np.ndarray, floor: float) -> np.ndarray:
    """The frames whose loudest mel band is above ``floor`` (a log magnitude)."""
    return frames[frames.max(1) > floor]


# relative nearest-neighbour distance below which a generated second copies the corpus:
# on Sonic Pi's samples, 82% of the active seconds of decoded copies (prepare's log-mel,
# then generate's decoder) score below it and 95% of held-out real seconds above it (the
# 5% below include the corpus's own duplicates)
# (benchmarks/audio/copies.py, benchmarks/audio/README.md)
COPY_THRESHOLD = 0.2


def audio_side(waves: list[np.ndarray], sr: int, floor: float) -> dict:
    """Per one-second segment (:func:`musegan.metrics.audio_segments`) of each waveform:
    its hand-made features, the waveform it came from, its pooled log-mel frames (less
    the two at each end) and whether it is active (at least half its frames have a
    band above ``floor``)."""
    from .metrics import audio_features, audio_segments, second_frames

    out = {"features": [], "groups": [], "frames": [], "active": []}
    for k, y in enumerate(waves):
        for seg in audio_segments(y, sr):
            frames, on = second_frames(seg, sr, floor)
            out["features"].append(audio_features(seg, sr))
            out["groups"].append(k)
            out["frames"].append(frames)
            out["active"].append(on)
    return out


def active_frames(side: dict) -> list[np.ndarray]:
    """The pooled log-mel frames of the active segments of :func:`audio_side`'s ``side``."""
    return [q for q, a in zip(side["frames"], side["active"]) if a]


def side_halves(side: dict, half: int) -> tuple[dict, dict]:
    """:func:`audio_side`'s ``side`` as two sides: the segments of waveforms ``0 ..
    half - 1`` and those of the rest."""
    first = [k < half for k in side["groups"]]
    return tuple({key: [v for v, f in zip(values, first) if f == want] for key, values in side.items()}
                 for want in (True, False))


def nearest_neighbour_report(queries: list[np.ndarray], corpus: list[np.ndarray], floor: float,
                             threshold: float) -> dict:
    """:func:`musegan.metrics.nearest_neighbour_distances` of the queries to the corpus:
    min, median, and how many are below ``threshold`` (copies)."""
    from .metrics import nearest_neighbour_distances

    if not queries or not corpus:
        return {"segments": len(queries), "min": None, "median": None, "copies": 0}
    d = nearest_neighbour_distances(queries, corpus, floor, relative=True)
    return {"segments": len(d), "min": _round(float(d.min())), "median": _round(float(np.median(d))),
            "p05": _round(float(np.percentile(d, 5))), "copies": int((d < threshold).sum())}


def evaluate_audio(run, reference, out=None, num: int = 32, seconds: float = 4.0, seed: int = 0,
                   temperature: float | None = None, max_files: int = 400, log=print, model=None,
                   top_p: float = 1.0, copy_threshold: float = COPY_THRESHOLD) -> dict:
    """Audio run against ``reference`` (a folder of audio files, normally its corpus):
    ``num`` clips of ``seconds`` generated, scored by

    - a Frechet distance on log-mel statistics: Gaussians fitted to the log-mel frames
      (2048 / 512 / 128 at the run's rate) of each side, on every frame and on the
      *active* frames (loudest band within 60 dB of the reference's loudest frame), since
      silence weighs differently in clips and one-shots. Not FAD: no pretrained embedding;
    - the same on hand-made features (:func:`musegan.metrics.audio_features`: MFCC
      statistics, spectral centroid, flatness and flux, RMS loudness, onset rate) of
      one-second segments, standardized by the reference's;
    - a classifier two-sample test on those features (segments of one clip or file kept
      in one fold): 0.5 when the forest cannot tell generated from real;
    - the nearest-neighbour distance of each active generated second to any stretch of
      the reference (RMS difference of 32-band log-mel frames at every frame offset,
      relative to the second's own height above the floor): min and median, and the
      seconds below ``copy_threshold`` (copies; see :data:`COPY_THRESHOLD`).

    For scale, every figure also between two random halves of the reference files
    (nearest neighbours: each second of one half to the other half). Writes the report
    as JSON (default ``evaluation.json`` in the run) and returns it. ``model``: the run,
    if already loaded."""
    from .data.prepare import list_music_files
    from .generation import AudioModel, load
    from .io.audio import read_audio
    from .metrics import feature_frechet_distance, frechet_distance, pooled_log_mel

    model = model or load(run)
    if not isinstance(model, AudioModel):
        raise MuseganError(f"{run}: not an audio model (audio evaluation compares waveforms)")
    sr = model.sr
    files = list_music_files(reference, kind="audio")
    rng = random.Random(seed)
    rng.shuffle(files)
    ref_waves, skipped = [], 0
    for path in files[:max_files]:
        try:
            y = read_audio(path, sr)[0]
        except UnreadableFile:
            skipped += 1
            continue
        ref_waves.append(y.mean(0) if y.ndim == 2 else y)
    if len(ref_waves) < 2:
        raise MuseganError(f"{reference}: fewer than two readable audio files")
    ref = [log_mel_frames(y, sr) for y in ref_waves]
    gen_waves = [np.asarray(model.generate(seconds, seed + i, temperature, top_p=top_p)[0], np.float32)
                 for i in range(num)]
    gen_waves = [y.mean(0) if y.ndim == 2 else y for y in gen_waves]
    gen = [log_mel_frames(y, sr) for y in gen_waves]
    floor = loudness_floor(ref)  # 60 dB below the loudest frame
    half = len(ref) // 2
    real, fake = np.concatenate(ref), np.concatenate(gen)

    def both(a, b) -> dict:
        a_on, b_on = active(a, floor), active(b, floor)
        on = frechet_distance(a_on, b_on) if min(len(a_on), len(b_on)) > 1 else None
        return {"all_frames": _round(frechet_distance(a, b)), "active_frames": _round(on),
                "active_share": [_round(len(a_on) / len(a)), _round(len(b_on) / len(b))]}

    g_side, r_side = audio_side(gen_waves, sr, floor), audio_side(ref_waves, sr, floor)
    r_a, r_b = side_halves(r_side, half)

    def c2st(gen_f, gen_g, ref_f, ref_g) -> dict:
        try:
            c = classifier_two_sample_test(gen_f, ref_f, seed, generated_groups=gen_g, real_groups=ref_g)
        except MuseganError as e:
            return {"skipped": str(e)}
        return {"accuracy": _round(c["accuracy"]), "std": _round(c["std"]), "folds": c["folds"],
                "segments": c["segments"], "features": [{k: _round(v) if isinstance(v, float) else v
                                                         for k, v in f.items()} for f in c["features"][:10]]}

    pooled = [pooled_log_mel(f, floor=floor) for f in ref]
    report = {
        "metric": "Frechet distance on log-mel statistics (128 mel bands; not FAD)",
        "generated": {"source": str(run), "clips": num, "seconds": seconds, "seed": seed,
                      "temperature": 1.0 if temperature is None else temperature, "frames": len(fake),
                      "segments": len(g_side["features"])},
        "reference": {"source": str(reference), "files": len(ref), "skipped_files": skipped, "frames": len(real),
                      "segments": len(r_side["features"])},
        "generated_vs_reference": both(fake, real),
        "reference_half_vs_half": both(np.concatenate(ref[:half]), np.concatenate(ref[half:])),
        "features": {
            "about": "hand-made features of 1-second segments (MFCC means/stds, spectral centroid, flatness, flux, "
                     "RMS dB, onset rate); Frechet distance after standardizing by the reference",
            "frechet_generated_vs_reference": _round(feature_frechet_distance(g_side["features"], r_side["features"])),
            "frechet_reference_half_vs_half": _round(feature_frechet_distance(r_a["features"], r_b["features"])),
            "classifier_two_sample_test": c2st(g_side["features"], g_side["groups"], r_side["features"],
                                               r_side["groups"]),
            "classifier_reference_half_vs_half": c2st(r_a["features"], r_a["groups"], r_b["features"],
                                                      r_b["groups"]),
        },
        "nearest_neighbour": {
            "about": f"RMS difference of 32-band log-mel frames (floored 60 dB below the reference's peak) of each "
                     f"active 1-second segment to its closest stretch of the reference, relative to the segment's "
                     f"own RMS height above the floor (1: as far as silence); below {copy_threshold} = a copy",
            "threshold": copy_threshold,
            "generated_to_reference": nearest_neighbour_report(active_frames(g_side), pooled, floor, copy_threshold),
            "reference_half_to_other_half": nearest_neighbour_report(active_frames(r_a), pooled[half:], floor,
                                                                     copy_threshold),
        },
    }
    out = Path(out) if out else Path(run) / "evaluation.json" if Path(run).is_dir() else Path(run).with_suffix(
        ".evaluation.json")
    atomic_write_json(out, report)
    report["out"] = str(out)
    log(format_audio_report(report))
    return report


def format_audio_report(report: dict) -> str:
    g, h = report["generated_vs_reference"], report["reference_half_vs_half"]
    gen, ref = report["generated"], report["reference"]
    f, nn = report["features"], report["nearest_neighbour"]
    lines = [f"Frechet distance on log-mel statistics, {gen['clips']} clips of {gen['seconds']:g} s vs {ref['files']} "
             f"files: {_fmt(g['all_frames'])} (active frames: {_fmt(g['active_frames'])}); reference half vs half: "
             f"{_fmt(h['all_frames'])} ({_fmt(h['active_frames'])})",
             f"Frechet distance on hand-made features of 1-s segments ({gen['segments']} generated, {ref['segments']} "
             f"reference): {_fmt(f['frechet_generated_vs_reference'])}; reference half vs half: "
             f"{_fmt(f['frechet_reference_half_vs_half'])}"]
    for name, c in (("generated vs reference", f["classifier_two_sample_test"]),
                    ("reference half vs half", f["classifier_reference_half_vs_half"])):
        if "skipped" in c:
            lines.append(f"classifier two-sample test ({name}) skipped: {c['skipped']}")
        else:
            top = ", ".join(x["feature"] for x in c["features"][:3])
            lines.append(f"classifier two-sample test ({name}): accuracy {c['accuracy']:.2f} +- {c['std']:.2f} "
                         f"({c['segments']} segments a side; 0.5 = indistinguishable); it relied on: {top}")
    a, b = nn["generated_to_reference"], nn["reference_half_to_other_half"]
    lines.append(f"nearest-neighbour distance of active 1-s segments: generated to reference min {_fmt(a['min'])}, "
                 f"median {_fmt(a['median'])} ({a['segments']} segments, {a['copies']} copies below "
                 f"{nn['threshold']:g}); reference half to other half min {_fmt(b['min'])}, median {_fmt(b['median'])}")
    return "\n".join(lines)
