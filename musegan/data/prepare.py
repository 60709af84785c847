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
after a shard whenever the files prepared since its last writing reach a tenth of
it (after every shard while it is small; ten writings in all beyond that), so a killed
run resumes where it stopped. A file that cannot be read is skipped with its reason;
it never stops the run.

Memory does not grow with the corpus but for about 0.8 kB a file (its path, key and
manifest entry as one JSON string): at most two shards of notes are in flight between
the workers and the shard being written, and the manifest is written from those
strings a block at a time.

``prepare_corpus(..., part=(i, n))`` prepares part i of n (1-based; a stable hash of
each file's path relative to the corpus folder), on as many machines, and
``merge_prepared`` joins the parts into one prepared folder.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import itertools
import json
import multiprocessing as mp
import os
import signal
import stat
import sys
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import MuseganError
from ..io.files import atomic_write_chunks, folder_lock, read_json
from ..io.audio import AUDIO_SUFFIXES
from ..io.midi import UnreadableFile, read_songs
from ..kinds import KINDS, get_kind

FORMAT = "musegan-corpus"
VERSION = 1
READER_VERSION = 3  # raise when readers change what they make of a file: caches are redone
SHARD_FILES = 1000  # source files per shard
CHUNK_FILES = 64  # most files a worker reads in one batch: their notes stay in the CPU's cache


def encoding_of(config: DataConfig) -> dict:
    """The part of the data config that changes what prepare writes."""
    kind = get_kind(config.kind)  # a kind that reads another's prepared corpus shares its cache
    enc = {"kind": kind.prepared, **{k: getattr(config, k) for k in kind.encoding_keys}}
    if "track_names" in enc:
        enc["track_names"] = list(enc["track_names"])
    enc["reader"] = READER_VERSION
    return enc


def list_music_files(source, kind: str = "midi") -> list[Path]:
    """Music files (``kind`` midi: symbolic; audio: WAV, FLAC, OGG) under a folder
    (recursively, in sorted order), or a file list as given."""
    return [path for path, _ in _music_files(source, kind)]


def _music_files(source, kind: str):
    """``list_music_files`` with the stat of each file that listing a folder made: an iterator."""
    if isinstance(source, (list, tuple)):
        return ((Path(p), None) for p in source)
    source = Path(source)
    if not source.exists():
        raise MuseganError(f"{source}: no such folder")
    if source.is_file():
        return [(source, None)]
    suffixes = get_kind(kind).suffixes
    files = _walk(source, suffixes)
    first = next(files, None)
    if first is None:
        raise MuseganError(f"{source}: no {'audio' if kind == 'audio' else 'music'} files in this folder "
                           f"(looked for {', '.join(suffixes)})")
    return itertools.chain([first], files)  # one at a time: a listing of 170,000 Paths is 180 MB


def _walk(folder: Path, suffixes):
    """The files under ``folder`` whose suffix is one of ``suffixes``, with their stats:
    depth first, each folder's entries by name (the order of sorted paths), not into
    links to folders (as ``Path.rglob``)."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: os.path.normcase(e.name))
    except PermissionError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(folder / entry.name, suffixes)
        elif os.path.splitext(entry.name)[1].lower() in suffixes:
            try:
                st = entry.stat()
            except OSError:  # a broken link
                continue
            if stat.S_ISREG(st.st_mode):
                yield folder / entry.name, st


def corpus_kind(source) -> str:
    """``audio`` for a folder that holds more audio files than symbolic ones (or a
    prepared audio corpus), else ``midi``."""
    source = Path(source)
    if (source / "manifest.json").is_file():
        return _load_manifest(source / "manifest.json").get("encoding", {}).get("kind", "midi")
    if not source.is_dir():
        return "audio" if source.suffix.lower() in AUDIO_SUFFIXES else "midi"
    counts = {kind: 0 for kind in KINDS}
    for p in source.rglob("*"):
        for kind in KINDS:
            counts[kind] += p.suffix.lower() in get_kind(kind).suffixes
    return "audio" if counts["audio"] > counts["midi"] else "midi"


def prepare_corpus(source, out_dir, config: DataConfig | None = None, workers: int = 0,
                   progress: bool = True, part: tuple[int, int] | None = None) -> dict:
    """Prepare ``source`` (a folder or a list of files) into ``out_dir``; returns the
    manifest (its ``files`` parsed from their JSON when read: see ``ManifestFiles``).
    ``workers`` 0 means one process per core. ``part`` ``(i, n)``: only part i of n
    (1-based) of the files, those of ``part_of(path relative to the folder, n) == i``;
    ``merge_prepared`` joins the parts."""
    config = config or DataConfig()
    out_dir = Path(out_dir)
    encoding = encoding_of(config)
    enc_hash = hashlib.sha1(json.dumps(encoding, sort_keys=True).encode()).hexdigest()[:12]
    head = {"format": FORMAT, "version": VERSION, "encoding": encoding}
    if part is not None:
        i, n = _check_part(part)
        root = None if isinstance(source, (list, tuple)) or Path(source).is_file() else str(source)
        head["part"] = {"index": i, "count": n, "root": root}
    files = []  # (path, key) of each file, in the listing's order
    for path, st in _music_files(source, config.kind):
        if part is None or part_of(_relative(str(path), head["part"]["root"]), n) == i:
            files.append((str(path), _file_key(path, enc_hash, st)))

    with folder_lock(out_dir):  # two prepares of one folder at once would delete each other's shards
        return _prepare_locked(out_dir, head, files, config, workers, progress)


def _prepare_locked(out_dir: Path, head: dict, files: list, config: DataConfig, workers: int,
                    progress: bool) -> dict:
    manifest = _Manifest(out_dir / "manifest.json", head, len(files))
    reuse = _reusable(manifest.path, out_dir)
    todo = []
    for pos, (path, key) in enumerate(files):
        if key in reuse:
            manifest.add(pos, *reuse[key])
        else:
            todo.append((pos, path, key))
    del reuse, files

    (out_dir / "shards").mkdir(parents=True, exist_ok=True)
    if todo:
        bar = _progress(len(todo), f"prepare {len(manifest.lines)} files ({len(manifest.lines) - len(todo)} cached)",
                        progress)
        with _gc_paused(), _pool(workers, len(todo)) as pool:  # one pool for every shard: forking costs
            n_procs = pool._processes if pool else 1
            size = max(1, min(CHUNK_FILES, -(-len(todo) // (4 * n_procs))))
            shards = [list(_chunks(shard, size)) for shard in _chunks(todo, SHARD_FILES)]
            jobs = (([path for _, path, _ in chunk], config) for shard in shards for chunk in shard)
            # workers go on while a shard is written, a shard and a little ahead at most
            results = _in_order(pool, jobs, ahead=len(shards[0]) + 2 * n_procs)
            for shard in shards:
                _write_shard([(chunk, next(results)) for chunk in shard], out_dir, manifest)
                if manifest.due() and shard is not shards[-1]:  # the last: saved complete below
                    manifest.save()
                bar.update(sum(map(len, shard)))
        bar.close()
    manifest.save(complete=True)
    _remove_unused_shards(out_dir, manifest.shards)
    return manifest.as_dict()


def part_of(relative_path: str, n: int) -> int:
    """The part (1 to ``n``) of a file, from its path relative to the corpus folder
    (``/``-separated): the same on every machine, whatever the folder's mount point,
    and unchanged when other files come or go."""
    return int.from_bytes(hashlib.sha1(relative_path.encode()).digest()[:8], "big") % n + 1


def _check_part(part) -> tuple[int, int]:
    i, n = part
    if not (isinstance(i, int) and isinstance(n, int) and 1 <= i <= n):
        raise MuseganError(f"part {i}/{n}: expected I/N with 1 <= I <= N")
    return i, n


def _relative(path: str, root: str | None) -> str:
    """``path`` relative to ``root`` (a list of files: as given), ``/``-separated."""
    return Path(os.path.relpath(path, root) if root else path).as_posix()


def merge_prepared(parts, out_dir) -> dict:
    """Join prepared folders into ``out_dir``: the parts 1/n to n/n of one corpus
    (``prepare_corpus(..., part=(i, n))``, on one machine or several), or whole prepared
    folders of distinct files. Their shards are hard-linked (copied across file
    systems) into ``out_dir/shards`` and the manifest, listing every file once in the
    order one prepare of the whole corpus gives, is written last, atomically: the parts
    are left as they are, and a killed merge is run again. Refuses, naming the folder
    and why: a folder that is not a finished prepare, another encoding, a part given
    twice or missing, a shard file missing, a file in two parts. Returns the manifest."""
    out_dir = Path(out_dir)
    folders = [Path(p) for p in parts]
    if not folders:
        raise MuseganError("merge: no prepared folders given")
    heads, items = [], []  # items: (order key, folder index, line, tally)
    for k, folder in enumerate(folders):
        head, lines = _read_manifest(folder / "manifest.json")
        if not head:
            raise MuseganError(f"{folder}: not a prepared corpus (no musegan manifest.json)")
        if not head.get("complete"):
            raise MuseganError(f"{folder}: its prepare did not finish ({len(lines)} files so far): run it again")
        if out_dir.exists() and out_dir.resolve() == folder.resolve():
            raise MuseganError(f"{folder}: also the output folder; merge into another one")
        _check_like(folder, head, folders[0], heads[0] if heads else head)
        heads.append(head)
        root = head.get("part", {}).get("root")
        shards = {p.name for p in (folder / "shards").glob("shard-*.npy")}
        for line in lines:
            entry = json.loads(line)
            tally = _tally(entry)
            if tally[-1] and tally[-1] not in shards:
                raise MuseganError(f"{folder}: shard file shards/{tally[-1]} is missing (for {entry['path']})")
            order = os.path.normcase(_relative(entry["path"], root)).replace("/", "\0")
            items.append((order, k, line, tally))
    _check_parts(folders, heads)
    items.sort(key=lambda item: item[0])
    for a, b in zip(items, items[1:]):
        if a[0] == b[0]:
            path = json.loads(a[2])["path"]
            raise MuseganError(f"{path}: in both {folders[a[1]]} and {folders[b[1]]} (overlapping parts)")
    with folder_lock(out_dir):
        return _merge_locked(out_dir, folders, heads, items)


def _merge_locked(out_dir: Path, folders: list, heads: list, items: list) -> dict:
    (out_dir / "shards").mkdir(parents=True, exist_ok=True)
    head = {k: v for k, v in heads[0].items() if k not in ("part", "complete", "summary")}
    manifest = _Manifest(out_dir / "manifest.json", head, len(items))
    for pos, (_, k, line, tally) in enumerate(items):
        if tally[-1] and tally[-1] not in manifest.shards:
            _link_or_copy(folders[k] / "shards" / tally[-1], out_dir / "shards" / tally[-1])
        manifest.add(pos, line, tally)
    manifest.save(complete=True)
    _remove_unused_shards(out_dir, manifest.shards)
    return manifest.as_dict()


def _check_like(folder: Path, head: dict, first: Path, first_head: dict) -> None:
    """Refuse a folder whose encoding or kind of part differs from the first one's."""
    a, b = head["encoding"], first_head["encoding"]
    if a != b:
        diff = ", ".join(f"{k} {a.get(k)!r} against {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        raise MuseganError(f"{folder}: prepared with another encoding than {first} ({diff})")
    if ("part" in head) != ("part" in first_head) or head.get("part", {}).get("count") != first_head.get("part", {}).get("count"):
        what = lambda h: f"part {h['part']['index']}/{h['part']['count']}" if "part" in h else "not a part (no --shard)"  # noqa: E731
        raise MuseganError(f"{folder}: {what(head)}, while {first} is {what(first_head)}")


def _check_parts(folders: list, heads: list) -> None:
    """Parts 1/n to n/n, each once (folders prepared whole: nothing to check)."""
    if "part" not in heads[0]:
        return
    n = heads[0]["part"]["count"]
    seen = {}
    for folder, head in zip(folders, heads):
        i = head["part"]["index"]
        if i in seen:
            raise MuseganError(f"{folder}: part {i}/{n} again ({seen[i]} is part {i}/{n} too)")
        seen[i] = folder
    missing = [f"{i}/{n}" for i in range(1, n + 1) if i not in seen]
    if missing:
        have = ", ".join(f"{i}/{n} ({seen[i]})" for i in sorted(seen))
        raise MuseganError(f"part{'s' * (len(missing) > 1)} {', '.join(missing)} missing: prepare it with "
                           f"--shard {missing[0]} (given: {have})")


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` a hard link to ``src``, or an atomic copy (another file system); kept
    when there already (a merge run again: shard names are unique)."""
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    try:
        os.link(src, dst)
    except FileExistsError:  # cut short by a kill while copying: copy again
        dst.unlink()
        os.link(src, dst)
    except OSError:
        with open(src, "rb") as f:
            atomic_write_chunks(dst, iter(lambda: f.read(1 << 24), b""))


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
    return get_kind(config.kind).encode(paths, config)


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
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn").Pool(n, initializer=_worker_signals)


def _worker_signals():
    """A forked worker inherits its parent's Python signal handlers (a caller's SIGTERM
    handler that does not exit would leave ``Pool.terminate`` waiting for it forever):
    SIGTERM ends a worker, and Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_order(pool, jobs, ahead: int):
    """``_work`` of each job, in order, at most ``ahead`` jobs given to the workers and
    not yet taken back (``Pool.imap`` runs ahead without bound: notes of a whole corpus
    pile up when writing is slower than reading)."""
    if pool is None:
        yield from map(_work, jobs)
        return
    pending = deque(pool.apply_async(_work, (job,)) for job in itertools.islice(jobs, ahead))
    while pending:
        result = pending.popleft().get()
        pending.extend(pool.apply_async(_work, (job,)) for job in itertools.islice(jobs, 1))
        yield result


def _write_shard(done: list, out_dir: Path, manifest: "_Manifest") -> None:
    """``done``: per chunk, its ``[(position, path, key)]`` and what ``_work`` made of it."""
    ok = any(header is not None for _, (_, results) in done for _, header, _ in results)
    shard = f"shard-{uuid.uuid4().hex[:12]}.npy" if ok else None
    offset = 0
    for chunk, (_, results) in done:
        for (pos, path, key), (n, header, reason) in zip(chunk, results):
            if header is None:
                entry = {"path": path, "status": "skipped", "reason": reason, "key": key}
            else:
                size = {} if "n_frames" in header else {"n_notes": n}  # audio headers count their frames
                entry = {"path": path, "status": "ok", "reason": "", "key": key, "shard": shard,
                         "offset": offset, **size, **header}
                offset += n
            manifest.add(pos, json.dumps(entry), _tally(entry))
    if ok:  # int32 notes or float16 frames
        _save_rows(out_dir / "shards" / shard, [rows for _, (rows, _) in done if rows is not None])


def _save_rows(path: Path, parts: list) -> None:
    """``np.save`` of the concatenation of ``parts``, written part by part: no copy of a shard in memory."""
    dtype = np.result_type(*parts)
    parts = [np.ascontiguousarray(p, dtype=dtype) for p in parts]
    shape = (sum(len(p) for p in parts), *parts[0].shape[1:])
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": shape})
    atomic_write_chunks(path, itertools.chain([header.getvalue()], (memoryview(p).cast("B") for p in parts if p.size)))


class _Manifest:
    """A manifest being made: per file its entry's JSON (made once: encoding every entry
    again at each writing costs more than reading files), in the listing's order, and
    running totals; no entry is kept as a dict."""

    def __init__(self, path: Path, head: dict, n_files: int):
        self.path, self.head = path, head
        self.lines: list[str | None] = [None] * n_files
        self.totals = [0, 0, 0, 0, 0.0]  # files, ok, notes (or frames), steps, seconds
        self.reasons = Counter()
        self.shards: set[str] = set()
        self.saved = self.unsaved = 0

    def add(self, pos: int, line: str, tally: tuple) -> None:
        ok, n, steps, seconds, reason, shard = tally
        self.lines[pos] = line
        t = self.totals
        t[0] += 1
        t[1] += ok
        t[2] += n
        t[3] += steps
        t[4] += seconds
        if reason:
            self.reasons[reason] += 1
        if shard:
            self.shards.add(shard)
        self.unsaved += 1

    def summary(self) -> dict:
        files, ok, n, steps, seconds = self.totals
        s = {"files": files, "ok": ok, "skipped": files - ok}
        if ok and self.head["encoding"].get("kind") == "audio":
            return {**s, "frames": n, "seconds": round(seconds, 2)}
        return {**s, "notes": n, "steps": steps}

    def due(self) -> bool:
        """Whether the files added since the last writing reach a tenth of the manifest."""
        return self.unsaved * 10 >= self.saved

    def save(self, complete: bool = False) -> None:
        lines = [line for line in self.lines if line is not None]
        _write_manifest(self.path, {**self.head, "complete": complete, "summary": self.summary()}, lines)
        self.saved, self.unsaved = len(lines), 0

    def as_dict(self) -> dict:
        lines = [line for line in self.lines if line is not None]
        return {**self.head, "complete": True, "summary": self.summary(), "files": ManifestFiles(lines)}


class ManifestFiles(Sequence):
    """A manifest's file entries, each parsed from its JSON when read (a new dict each
    time): the entries of a large corpus as dicts take 2.4 kB a file."""

    def __init__(self, lines: list):
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [json.loads(line) for line in self._lines[i]]
        return json.loads(self._lines[i])

    def __eq__(self, other):
        return list(self) == list(other) if isinstance(other, (list, tuple, ManifestFiles)) else NotImplemented

    def __repr__(self) -> str:
        return f"ManifestFiles({len(self)} entries)"


def _tally(entry: dict) -> tuple:
    """What an entry adds to the summary: ok, notes (or frames), steps, seconds, the
    kind of reason it was skipped, its shard."""
    if entry["status"] != "ok":
        return False, 0, 0, 0.0, entry["reason"].split(":")[0], None
    return (True, entry.get("n_notes", entry.get("n_frames", 0)), entry.get("n_steps", 0), entry.get("seconds", 0.0),
            "", entry["shard"])


def _reusable(path: Path, out_dir: Path) -> dict:
    """The entries of the manifest at ``path`` whose shard is there: ``{key: (JSON, tally)}``."""
    head, lines = _read_manifest(path)
    if not head:
        return {}
    shards = {p.name for p in (out_dir / "shards").glob("shard-*.npy")}
    reuse = {}
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:  # damaged by hand: prepare everything again
            return {}
        if "key" in e and (e.get("status") != "ok" or e.get("shard") in shards):
            reuse[e["key"]] = (line, _tally(e))
    return reuse


# ---------------------------------------------------------------------------- helpers

def _file_key(path: Path, enc_hash: str, st: os.stat_result | None = None) -> str:
    try:
        st = st or path.stat()
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    return hashlib.sha1(f"{os.path.abspath(path)}|{stamp}|{enc_hash}".encode()).hexdigest()


def _write_manifest(path: Path, head: dict, lines: list) -> None:
    """``head`` and then ``files`` from ``lines`` (each entry's JSON) in
    ``atomic_write_json``'s layout (one entry a line: ``_read_manifest`` reads it a line at
    a time), written a block of entries at a time."""
    text = "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items())
    if not lines:
        atomic_write_chunks(path, [("{\n" + text + ' "files": []\n}\n').encode()])
        return

    def chunks():
        yield ("{\n" + text + ' "files": [\n  ').encode()
        for i in range(0, len(lines), 4096):
            yield (",\n  " if i else "").encode() + ",\n  ".join(lines[i : i + 4096]).encode()
        yield b"\n ]\n}\n"

    atomic_write_chunks(path, chunks())


def _read_manifest(path: Path) -> tuple[dict, list]:
    """A musegan manifest's fields but ``files``, and its entries' JSON, one string each,
    read a line at a time; ``({}, [])`` when it is missing, unreadable or not one."""
    head, lines = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("  {"):  # an entry, in _write_manifest's layout
                    lines.append(line[2:].rstrip().rstrip(","))
                else:
                    head.append(line)
        m = json.loads("".join(head))
        if m.get("files"):  # another layout: read whole
            lines += [json.dumps(e) for e in m.pop("files")]
    except (OSError, ValueError, AttributeError):
        return {}, []
    if m.get("format") != FORMAT or m.get("version") != VERSION:
        return {}, []
    m.pop("files", None)
    return m, lines


def _load_manifest(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        m = read_json(path)
    except (OSError, ValueError):
        return {}  # unreadable: prepare everything again
    return m if m.get("format") == FORMAT and m.get("version") == VERSION else {}


def _remove_unused_shards(out_dir: Path, used: set) -> None:
    for p in (out_dir / "shards").glob("shard-*.npy"):
        if p.name not in used:
            p.unlink(missing_ok=True)


def _chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, dynamic_ncols=True)
