"""Corpus preparation: a folder of music files -> shards of notes (or, for audio,
spectrogram frames: see ``audio.py``) and a manifest.

``prepare_corpus(sources, out_dir, data_config)`` reads the files in parallel
processes, a chunk of files at a time (the MIDI files of a chunk in one numpy pass,
see ``encode_files``), maps their tracks, and writes

* ``out_dir/shards/shard-*.npy``: int32 notes ``(n, 5)`` of many songs back to back,
  read later through memory maps (bounded memory, whatever the corpus size);
* ``out_dir/manifest.json``: one entry per source file, ``{"path", "status": "ok" |
  "skipped", "reason", ...}`` with, for songs, where their notes lie and their header.

A second run reuses every entry whose file (path, size, mtime) and encoding are
unchanged and reads only new or changed files. The manifest is rewritten atomically
after each shard, so a killed run resumes where it stopped. A file that cannot be
read is skipped with its reason; it never stops the run.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import multiprocessing as mp
import os
import stat
import sys
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import MuseganError
from ..io.files import atomic_save_npy, atomic_write_bytes, read_json
from ..io.audio import AUDIO_SUFFIXES
from ..io.midi import MUSIC_SUFFIXES, UnreadableFile, read_songs
from .audio import encode_audio_file

FORMAT = "musegan-corpus"
VERSION = 1
READER_VERSION = 2  # raise when readers change what they make of a file: caches are redone
SHARD_FILES = 1000  # source files per shard
CHUNK_FILES = 64  # most files a worker reads in one batch: their notes stay in the CPU's cache
ENCODING_KEYS = {
    "midi": ("resolution", "tracks", "max_tracks", "track_names"),
    "audio": ("sample_rate", "channels", "spectrogram", "n_fft", "hop_length", "n_mels"),
}
SUFFIXES = {"midi": MUSIC_SUFFIXES, "audio": AUDIO_SUFFIXES}


def encoding_of(config: DataConfig) -> dict:
    """The part of the data config that changes what prepare writes."""
    if config.kind not in ENCODING_KEYS:
        raise MuseganError(f"data.kind={config.kind!r}: expected midi or audio")
    enc = {"kind": config.kind, **{k: getattr(config, k) for k in ENCODING_KEYS[config.kind]}}
    if "track_names" in enc:
        enc["track_names"] = list(enc["track_names"])
    enc["reader"] = READER_VERSION
    return enc


def list_music_files(source, kind: str = "midi") -> list[Path]:
    """Music files (``kind`` midi: symbolic; audio: WAV, FLAC, OGG) under a folder
    (recursively, in sorted order), or a file list as given."""
    return [path for path, _ in _music_files(source, kind)]


def _music_files(source, kind: str) -> list[tuple[Path, os.stat_result | None]]:
    """``list_music_files`` with the stat of each file that listing a folder made."""
    if isinstance(source, (list, tuple)):
        return [(Path(p), None) for p in source]
    source = Path(source)
    if not source.exists():
        raise MuseganError(f"{source}: no such folder")
    if source.is_file():
        return [(source, None)]
    suffixes = SUFFIXES[kind]
    files = _walk(source, suffixes, [])
    if not files:
        raise MuseganError(f"{source}: no {'audio' if kind == 'audio' else 'music'} files in this folder "
                           f"(looked for {', '.join(suffixes)})")
    return files


def _walk(folder: Path, suffixes, out: list) -> list:
    """Append the files under ``folder`` whose suffix is one of ``suffixes``, with their
    stats, to ``out``: depth first, each folder's entries by name (the order of sorted
    paths), not into links to folders (as ``Path.rglob``)."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: os.path.normcase(e.name))
    except PermissionError:
        return out
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            _walk(folder / entry.name, suffixes, out)
        elif os.path.splitext(entry.name)[1].lower() in suffixes:
            try:
                st = entry.stat()
            except OSError:  # a broken link
                continue
            if stat.S_ISREG(st.st_mode):
                out.append((folder / entry.name, st))
    return out


def corpus_kind(source) -> str:
    """``audio`` for a folder that holds more audio files than symbolic ones (or a
    prepared audio corpus), else ``midi``."""
    source = Path(source)
    if (source / "manifest.json").is_file():
        return _load_manifest(source / "manifest.json").get("encoding", {}).get("kind", "midi")
    if not source.is_dir():
        return "audio" if source.suffix.lower() in AUDIO_SUFFIXES else "midi"
    counts = {kind: 0 for kind in SUFFIXES}
    for p in source.rglob("*"):
        for kind, suffixes in SUFFIXES.items():
            counts[kind] += p.suffix.lower() in suffixes
    return "audio" if counts["audio"] > counts["midi"] else "midi"


def prepare_corpus(source, out_dir, config: DataConfig | None = None, workers: int = 0,
                   progress: bool = True) -> dict:
    """Prepare ``source`` (a folder or a list of files) into ``out_dir``; returns the
    manifest. ``workers`` 0 means one process per core."""
    config = config or DataConfig()
    out_dir = Path(out_dir)
    listing = _music_files(source, config.kind)
    files = [path for path, _ in listing]
    encoding = encoding_of(config)
    enc_hash = hashlib.sha1(json.dumps(encoding, sort_keys=True).encode()).hexdigest()[:12]

    manifest_path = out_dir / "manifest.json"
    old = _load_manifest(manifest_path)
    reuse = {e["key"]: e for e in old.get("files", []) if _entry_valid(e, out_dir)}

    entries: dict[str, dict] = {}
    todo = []
    for path, st in listing:
        key = _file_key(path, enc_hash, st)
        if key in reuse:
            entries[str(path)] = reuse[key]
        else:
            todo.append((str(path), key))

    manifest = {"format": FORMAT, "version": VERSION, "encoding": encoding, "files": []}
    lines: dict[str, str] = {}  # each entry's JSON, made once

    def save():
        paths = [str(p) for p in files if str(p) in entries]
        manifest["files"] = [entries[p] for p in paths]
        manifest["summary"] = _summary(manifest["files"])
        for p in paths:
            if p not in lines:
                lines[p] = json.dumps(entries[p])
        _write_manifest(manifest_path, manifest, [lines[p] for p in paths])

    (out_dir / "shards").mkdir(parents=True, exist_ok=True)
    if todo:
        bar = _progress(len(todo), f"prepare {len(files)} files ({len(files) - len(todo)} cached)", progress)
        with _gc_paused(), _pool(workers, len(todo)) as pool:  # one pool for every shard: forking costs
            n_procs = pool._processes if pool else 1
            size = max(1, min(CHUNK_FILES, -(-len(todo) // (4 * n_procs))))
            shards = [list(_chunks(shard, size)) for shard in _chunks(todo, SHARD_FILES)]
            jobs = [([path for path, _ in chunk], config) for shard in shards for chunk in shard]
            results = pool.imap(_work, jobs) if pool else map(_work, jobs)  # workers go on while shards are written
            for shard in shards:
                _write_shard([(chunk, next(results)) for chunk in shard], out_dir, entries)
                save()
                bar.update(sum(map(len, shard)))
        bar.close()
    else:
        save()
    _remove_unused_shards(out_dir, manifest["files"])
    return manifest


def skipped_warning(manifest: dict, manifest_path) -> str | None:
    s = manifest["summary"]
    if not s["skipped"]:
        return None
    reasons = Counter(e["reason"].split(":")[0] for e in manifest["files"] if e["status"] == "skipped")
    top = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3))
    return f"skipped {s['skipped']} of {s['files']} files ({top}); reasons per file in {manifest_path}"


# ---------------------------------------------------------------------------- workers

def encode_files(paths: list, config: DataConfig) -> tuple[np.ndarray, list]:
    """Read symbolic files and map their tracks, all in one batch (see ``read_songs``).
    Returns the notes ``(n, 5)`` int32 of the files read, one after the other, and per
    file ``(n_notes, header, reason)``: header None where ``reason`` says why it was skipped."""
    songs, reasons = read_songs(paths, config.resolution)
    mapped = songs.map_tracks(config.tracks, config.max_tracks, config.track_names)
    n_read, n_mapped = np.diff(songs.bounds).tolist(), np.diff(mapped.bounds).tolist()
    n_steps = songs.n_steps().tolist()  # of all notes read, those of dropped tracks too
    results = []
    for k, reason in enumerate(reasons):
        if not reason and n_read[k] == 0:
            reason = "no notes"
        elif not reason and n_mapped[k] == 0:
            reason = f"no notes left after track mapping ({config.tracks})"
        if reason:
            results.append((0, None, reason))
            continue
        _, qpm = songs.tempos[k][0]
        _, num, den = songs.time_signatures[k][0]
        header = {"n_steps": n_steps[k], "tempo": float(qpm), "time_signature": [int(num), int(den)],
                  "tracks": [t.to_dict() for t in mapped.tracks[k]]}
        results.append((n_mapped[k], header, ""))
    return mapped.notes, results


def encode_file(path, config: DataConfig):
    """Read one file and map its tracks. Returns ``(notes, header)`` or raises
    :class:`UnreadableFile` with the reason."""
    notes, [(_, header, reason)] = encode_files([path], config)
    if reason:
        raise UnreadableFile(reason)
    return notes, header


def _work(job):
    """A worker's chunk ``(paths, config)`` -> ``(rows, results)``: the rows of the files
    read, one after the other (notes, or audio frames), and per file ``(n_rows, header,
    reason)`` with header None where ``reason`` says why it was skipped."""
    paths, config = job
    if config.kind == "midi":
        try:
            return encode_files(paths, config)
        except Exception:  # a bug or a library failure on some file: find it file by file below
            pass
    encode = encode_audio_file if config.kind == "audio" else encode_file
    rows, results = [], []
    for path in paths:
        try:
            r, header = encode(path, config)
            rows.append(r)
            results.append((len(r), header, ""))
        except UnreadableFile as e:
            results.append((0, None, str(e)))
        except Exception as e:  # a bug or a library failure on one file must not stop the corpus
            results.append((0, None, f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"))
    return (np.concatenate(rows) if rows else None), results


@contextlib.contextmanager
def _gc_paused():
    """Python's cycle collector off (forked workers inherit it): its passes over every
    object alive, torch's too, cost a tenth of the time, and reading files makes no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pool(workers: int, n_jobs: int):
    """Worker processes, or a null context (run in this process) when one would do."""
    n = min(workers or os.cpu_count() or 1, n_jobs)
    if n <= 1 or n_jobs < 8:
        return contextlib.nullcontext()
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn").Pool(n)


def _write_shard(done: list, out_dir: Path, entries: dict) -> None:
    """``done``: per chunk, its ``[(path, key)]`` and what ``_work`` made of it."""
    ok = any(header is not None for _, (_, results) in done for _, header, _ in results)
    shard = f"shard-{uuid.uuid4().hex[:12]}.npy" if ok else None
    offset = 0
    for chunk, (_, results) in done:
        for (path, key), (n, header, reason) in zip(chunk, results):
            if header is None:
                entries[path] = {"path": path, "status": "skipped", "reason": reason, "key": key}
                continue
            size = {} if "n_frames" in header else {"n_notes": n}  # audio headers count their frames
            entries[path] = {"path": path, "status": "ok", "reason": "", "key": key, "shard": shard,
                             "offset": offset, **size, **header}
            offset += n
    if ok:  # int32 notes or float16 frames
        atomic_save_npy(out_dir / "shards" / shard, np.concatenate([rows for _, (rows, _) in done if rows is not None]))


# ---------------------------------------------------------------------------- helpers

def _file_key(path: Path, enc_hash: str, st: os.stat_result | None = None) -> str:
    try:
        st = st or path.stat()
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    return hashlib.sha1(f"{os.path.abspath(path)}|{stamp}|{enc_hash}".encode()).hexdigest()


def _write_manifest(path: Path, manifest: dict, lines: list) -> None:
    """``manifest`` in ``atomic_write_json``'s layout, its files from ``lines``, their JSON
    made once: encoding every entry again after each shard costs more than reading files."""
    files = "[\n  " + ",\n  ".join(lines) + "\n ]" if lines else "[]"
    text = ",\n".join(f" {json.dumps(k)}: {files if k == 'files' else json.dumps(v)}" for k, v in manifest.items())
    atomic_write_bytes(path, ("{\n" + text + "\n}\n").encode())


def _load_manifest(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        m = read_json(path)
    except (OSError, ValueError):
        return {}  # unreadable: prepare everything again
    return m if m.get("format") == FORMAT and m.get("version") == VERSION else {}


def _entry_valid(entry: dict, out_dir: Path) -> bool:
    if "key" not in entry:
        return False
    return entry.get("status") != "ok" or (out_dir / "shards" / entry.get("shard", "")).is_file()


def _remove_unused_shards(out_dir: Path, files: list) -> None:
    used = {e.get("shard") for e in files}
    for p in (out_dir / "shards").glob("shard-*.npy"):
        if p.name not in used:
            p.unlink(missing_ok=True)


def _summary(files: list) -> dict:
    ok = [e for e in files if e["status"] == "ok"]
    if ok and "n_frames" in ok[0]:
        return {"files": len(files), "ok": len(ok), "skipped": len(files) - len(ok),
                "frames": int(sum(e["n_frames"] for e in ok)), "seconds": round(sum(e["seconds"] for e in ok), 2)}
    return {"files": len(files), "ok": len(ok), "skipped": len(files) - len(ok),
            "notes": int(sum(e.get("n_notes", 0) for e in ok)), "steps": int(sum(e.get("n_steps", 0) for e in ok))}


def _chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, dynamic_ncols=True)
