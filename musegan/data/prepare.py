"""Corpus preparation: a folder of music files -> shards of notes (or, for audio,
spectrogram frames: see ``audio.py``) and a manifest.

``prepare_corpus(sources, out_dir, data_config)`` reads every file in parallel
processes, maps its tracks, and writes

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
import hashlib
import json
import multiprocessing as mp
import os
import sys
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import MuseganError
from ..io.files import atomic_save_npy, atomic_write_json, read_json
from ..io.audio import AUDIO_SUFFIXES
from ..io.midi import MUSIC_SUFFIXES, UnreadableFile, read_song
from ..representations.pianoroll import map_tracks
from .audio import encode_audio_file

FORMAT = "musegan-corpus"
VERSION = 1
READER_VERSION = 2  # raise when readers change what they make of a file: caches are redone
SHARD_FILES = 1000  # source files per shard
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
    (recursively), or a file list as given."""
    if isinstance(source, (list, tuple)):
        return [Path(p) for p in source]
    source = Path(source)
    if not source.exists():
        raise MuseganError(f"{source}: no such folder")
    if source.is_file():
        return [source]
    suffixes = SUFFIXES[kind]
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    if not files:
        raise MuseganError(f"{source}: no {'audio' if kind == 'audio' else 'music'} files in this folder "
                           f"(looked for {', '.join(suffixes)})")
    return files


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
    files = list_music_files(source, config.kind)
    encoding = encoding_of(config)
    enc_hash = hashlib.sha1(json.dumps(encoding, sort_keys=True).encode()).hexdigest()[:12]

    manifest_path = out_dir / "manifest.json"
    old = _load_manifest(manifest_path)
    reuse = {e["key"]: e for e in old.get("files", []) if _entry_valid(e, out_dir)}

    entries: dict[str, dict] = {}
    todo = []
    for path in files:
        key = _file_key(path, enc_hash)
        if key in reuse:
            entries[str(path)] = reuse[key]
        else:
            todo.append((str(path), key))

    manifest = {"format": FORMAT, "version": VERSION, "encoding": encoding, "files": []}

    def save():
        manifest["files"] = [entries[str(p)] for p in files if str(p) in entries]
        manifest["summary"] = _summary(manifest["files"])
        atomic_write_json(manifest_path, manifest)

    (out_dir / "shards").mkdir(parents=True, exist_ok=True)
    if todo:
        bar = _progress(len(todo), f"prepare {len(files)} files ({len(files) - len(todo)} cached)", progress)
        with _pool(workers, len(todo)) as pool:  # one pool for every shard: forking costs
            for chunk in _chunks(todo, SHARD_FILES):
                results = _run(pool, chunk, config)
                _write_shard(results, out_dir, entries)
                save()
                bar.update(len(chunk))
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

def encode_file(path: str, config: DataConfig):
    """Read one file and map its tracks. Returns ``(notes, header)`` or raises
    :class:`UnreadableFile` with the reason."""
    song = read_song(path, config.resolution, canonical=False)  # map_tracks makes them canonical
    if len(song.notes) == 0:
        raise UnreadableFile("no notes")
    notes, tracks = map_tracks(song.notes, song.tracks, config.tracks, config.max_tracks, config.track_names)
    if len(notes) == 0:
        raise UnreadableFile(f"no notes left after track mapping ({config.tracks})")
    header = {
        "n_steps": int(max(song.n_steps, int(notes[:, 3].max()))),
        "tempo": float(song.tempos[0][1]),
        "time_signature": [int(song.time_signatures[0][1]), int(song.time_signatures[0][2])],
        "tracks": [t.to_dict() for t in tracks],
    }
    return notes, header


def _work(args):
    path, key, config = args
    encode = encode_audio_file if config.kind == "audio" else encode_file
    try:
        notes, header = encode(path, config)
        return path, key, notes, header, ""
    except UnreadableFile as e:
        return path, key, None, None, str(e)
    except Exception as e:  # a bug or a library failure on one file must not stop the corpus
        return path, key, None, None, f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


def _pool(workers: int, n_jobs: int):
    """Worker processes, or a null context (run in this process) when one would do."""
    n = min(workers or os.cpu_count() or 1, n_jobs)
    if n <= 1 or n_jobs < 8:
        return contextlib.nullcontext()
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn").Pool(n)


def _run(pool, chunk, config):
    jobs = [(p, k, config) for p, k in chunk]
    if pool is None:
        return [_work(j) for j in jobs]
    return list(pool.imap_unordered(_work, jobs, chunksize=max(1, min(64, len(jobs) // (4 * pool._processes)))))


def _write_shard(results, out_dir: Path, entries: dict) -> None:
    ok = [r for r in results if r[2] is not None]
    shard = f"shard-{uuid.uuid4().hex[:12]}.npy" if ok else None
    offset = 0
    arrays = []
    for path, key, notes, header, reason in results:
        if notes is None:
            entries[path] = {"path": path, "status": "skipped", "reason": reason, "key": key}
            continue
        size = {} if "n_frames" in header else {"n_notes": int(len(notes))}  # audio headers count their frames
        entries[path] = {"path": path, "status": "ok", "reason": "", "key": key, "shard": shard,
                         "offset": offset, **size, **header}
        arrays.append(notes)
        offset += len(notes)
    if ok:
        atomic_save_npy(out_dir / "shards" / shard, np.concatenate(arrays))  # int32 notes or float16 frames


# ---------------------------------------------------------------------------- helpers

def _file_key(path: Path, enc_hash: str) -> str:
    try:
        st = path.stat()
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    return hashlib.sha1(f"{os.path.abspath(path)}|{stamp}|{enc_hash}".encode()).hexdigest()


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
