"""``musegan studio``: a local web page to generate, audition, infill and download music.

Standard library only (``http.server``); the page is plain HTML, JavaScript and CSS
shipped in ``static/`` (no CDN, no build step). The JSON API the page speaks:

=========================  ===========================================================
``GET  /api/runs``         the runs the page may load: ``{"runs": [{"id", "kind", "family"}], ...}``
``GET  /api/run?id=ID``    load one (once): its kind, tracks, bar length, what it can do
``POST /api/upload``       a MIDI file as the raw body (``X-Filename`` names it): a piece
``POST /api/generate``     ``{"run", "bars" | "seconds", "seed", "temperature", "top_p", "primer", "pulls"}``
``POST /api/infill``       ``{"run", "piece", "bars": [first, last], "tracks", "seed", ...}``
``POST /api/harmonize``    ``{"run", "piece", "as_track", "seed", ...}``
``GET  /api/jobs/JOB``     a job's state, stage and (partial) result
``GET  /files/PIECE.mid``  a piece's MIDI (``.wav``: its audio; ``?download=1``: as an attachment)
=========================  ===========================================================

Generation runs as a job (``202 {"job": id}``) that the page polls, so that long work
shows its stage. Every error is ``{"error": "<one line>"}`` with a 4xx status.

Safety: the page names runs by the ids the server lists and pieces by random ids the
server made; no path from a request reaches the disk. Uploads have a size limit and are
read by the same reader as ``prepare``. Files live in a temporary folder removed at
exit. Each model has a lock, so that concurrent requests take turns on it.
"""
from __future__ import annotations

import atexit
import base64
import json
import math
import mimetypes
import os
import re
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.parse
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import MuseganError, warn

STATIC = Path(__file__).resolve().parent / "static"
MAX_UPLOAD = 2 << 20  # bytes: a MIDI file of hours is well under it
MAX_JSON = 64 << 10
MAX_BARS = 256
MAX_SECONDS = 60.0
MAX_PIECES = 200  # the oldest pieces' files are removed past it
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CHECKPOINTS = ("best.pt", "checkpoint.pt")
MIDI_TYPES = ("audio/midi", "audio/x-midi", "application/octet-stream", "")


def _one_line(e: BaseException, limit: int = 300) -> str:
    return " ".join(str(e).split())[:limit]


class RequestError(Exception):
    """A bad request: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = int(status)


# ------------------------------------------------------------------------ runs

def _run_name(path: Path) -> str:
    return path.stem if path.is_file() else path.resolve().name or "run"


def _scan(runs_dir: Path, depth: int = 3) -> dict:
    """Run folders (holding a checkpoint) under ``runs_dir``, ``depth`` levels down at
    most, by their path relative to it; symbolic links are not followed."""
    found = {}
    root = runs_dir.resolve()
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if any(n in files for n in CHECKPOINTS):
            found[rel.as_posix() if rel.parts else _run_name(root)] = Path(folder)
            dirs[:] = []  # its samples are not runs
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if len(rel.parts) < depth else []
    return found


class Runs:
    """The runs the page may load: the ones named at start-up and the ones under
    ``runs_dir`` (looked for again on every listing). Each loaded model has its lock."""

    def __init__(self, runs=(), runs_dir=None):
        from ..io.checkpoint import find_checkpoint

        self.named: dict[str, Path] = {}
        for r in runs:
            find_checkpoint(r)  # a one-line error now rather than on the page
            path, name = Path(r), _run_name(Path(r))
            unique, k = name, 2
            while unique in self.named:
                unique, k = f"{name}-{k}", k + 1
            self.named[unique] = path
        self.runs_dir = None if runs_dir is None else Path(runs_dir)
        if self.runs_dir is not None and not self.runs_dir.is_dir():
            raise MuseganError(f"--runs-dir {runs_dir}: no such folder")
        self._models: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def paths(self) -> dict:
        found = dict(self.named)
        if self.runs_dir is not None:
            for name, path in _scan(self.runs_dir).items():
                found.setdefault(name if name not in found else f"{self.runs_dir.name}/{name}", path)
        return found

    def path(self, run_id) -> Path:
        if not isinstance(run_id, str) or not run_id:
            raise RequestError("run: expected the id of a run from the list")
        paths = self.named if run_id in self.named else self.paths()
        if run_id not in paths:
            raise RequestError(f"unknown run {run_id[:80]!r}", HTTPStatus.NOT_FOUND)
        return paths[run_id]

    def describe(self, run_id: str, path: Path) -> dict:
        """From the run's config.json, without loading it."""
        folder = path if path.is_dir() else path.parent
        try:
            config = json.loads((folder / "config.json").read_text())
            return {"id": run_id, "kind": config["data"].get("kind", "midi"), "family": config.get("model", "?")}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {"id": run_id, "kind": "?", "family": "?"}

    def lock(self, run_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(run_id, threading.Lock())

    def loaded(self, run_id: str) -> bool:
        return run_id in self._models

    def model(self, run_id: str):
        """The loaded model (loaded once). Call with ``lock(run_id)`` held."""
        if run_id not in self._models:  # a loaded run's path is not looked up (and runs_dir not walked) again
            from ..generation import load

            self._models[run_id] = load(self.path(run_id))
        return self._models[run_id]


def model_summary(run_id: str, model) -> dict:
    from ..generation import AudioModel
    from ..steering import PULLS

    family = model.config.model
    if isinstance(model, AudioModel):
        return {"id": run_id, "kind": "audio", "family": family, "sr": model.sr, "can_infill": False,
                "can_harmonize": False, "temperature": 1.0}
    return {"id": run_id, "kind": "midi", "family": family, "tracks": [t.name for t in model.tracks],
            "steps_per_bar": model.steps_per_bar, "resolution": int(model.config.data.resolution),
            "can_infill": bool(model.model.conditions_on_future), "can_harmonize": True,
            "temperature": float(model.model.default_temperature),
            "pulls": list(PULLS) if getattr(model.model, "steerable", False) else []}


# ---------------------------------------------------------------------- pieces and jobs

@dataclass
class Piece:
    """A piece of music the page shows: an upload or a result, as files in the temporary folder."""
    id: str
    name: str
    midi: Path | None = None
    wav: Path | None = None
    song: object = None  # its Song, for infill's length


@dataclass
class Job:
    id: str
    action: str
    state: str = "queued"  # queued, running, done, error
    stage: str = "waiting for the model"
    started: float = field(default_factory=time.monotonic)
    result: dict = field(default_factory=dict)
    error: str = ""
    timings: dict = field(default_factory=dict)  # seconds each stage took
    _since: float = field(default_factory=time.monotonic)

    def __setattr__(self, name, value):
        if name == "stage" and "timings" in self.__dict__:
            now = time.monotonic()
            self.timings[self.stage] = round(now - self._since, 3)
            object.__setattr__(self, "_since", now)
        object.__setattr__(self, name, value)

    def as_json(self) -> dict:
        return {"job": self.id, "action": self.action, "state": self.state, "stage": self.stage,
                "elapsed": round(time.monotonic() - self.started, 2), "result": self.result, "error": self.error,
                "timings": dict(self.timings)}


def roll_json(song, steps_per_bar: int | None = None) -> dict:
    """A Song as the page draws it: tracks, notes ``[track, pitch, start, end, velocity]``
    in steps, bar length, and seconds per step (for the playhead)."""
    spb = int(steps_per_bar or song.steps_per_bar)
    n_steps = max(int(song.n_steps), 1)
    tempo = float(song.tempos[0][1]) if song.tempos else 120.0
    return {"tracks": [{"name": t.name, "program": int(t.program), "is_drum": bool(t.is_drum)} for t in song.tracks],
            "notes": song.notes[:, :5].astype(int).tolist(), "steps_per_bar": spb, "n_steps": n_steps,
            "bars": -(-n_steps // spb), "seconds_per_step": 60.0 / (tempo * song.resolution)}


def align_tracks(song, tracks):
    """``song`` with the model's ``tracks`` first, in the model's order (an infill or a
    harmonization leaves out the tracks it has no notes on, and the page keeps its lanes),
    then any track of the song that is not one of them."""
    from dataclasses import replace

    import numpy as np

    order, names, index = list(tracks), [t.name for t in tracks], []
    for t in song.tracks:
        k = names.index(t.name) if t.name in names else -1
        if k < 0 or k in index:
            k = len(order)
            order.append(t)
        index.append(k)
    notes = song.notes.copy()
    if len(notes):
        notes[:, 0] = np.asarray(index, dtype=notes.dtype)[notes[:, 0]]
    return replace(song, notes=notes, tracks=order)


def spectrogram_json(S) -> dict:
    """A normalized log-spectrogram ``(channels, bins, frames)`` as 8-bit levels (channels
    averaged, at most 1024 frames), base64, frame after frame."""
    import numpy as np

    s = S.float().mean(0).numpy()  # (bins, frames)
    if s.shape[1] > 1024:
        edges = np.linspace(0, s.shape[1], 1025).astype(int)
        s = np.stack([s[:, a:max(b, a + 1)].max(1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    lo, hi = np.percentile(s, 1), s.max()
    levels = np.clip((s - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    return {"bins": int(levels.shape[0]), "frames": int(levels.shape[1]),
            "levels": base64.b64encode(levels.T.tobytes()).decode()}


# ------------------------------------------------------------------------ parameters

def _int(body: dict, key: str, default, lo: int, hi: int) -> int:
    v = body.get(key, default)
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise RequestError(f"{key}: expected a whole number from {lo} to {hi}, got {str(v)[:40]!r}")
    return v


def _float(body: dict, key: str, default, lo: float, hi: float, open_lo: bool = False) -> float:
    v = body.get(key, default)
    try:
        if isinstance(v, bool):
            raise ValueError
        f = float(v)
    except (TypeError, ValueError):
        f = math.nan
    if not (math.isfinite(f) and (lo < f if open_lo else lo <= f) and f <= hi):
        low = f"more than {lo:g}" if open_lo else f"at least {lo:g}"
        raise RequestError(f"{key}: expected a number {low} and at most {hi:g}, got {str(v)[:40]!r}")
    return f


def sampling(body: dict) -> dict:
    return {"seed": _int(body, "seed", 0, 0, 2**31 - 1),
            "temperature": _float(body, "temperature", 1.0, 0.0, 10.0),
            "top_p": _float(body, "top_p", 1.0, 0.0, 1.0, open_lo=True)}


# ------------------------------------------------------------------------ the app

class Studio:
    """The server: ``Studio(runs, runs_dir, host, port)`` binds (port 0: any free one),
    ``start()`` serves in a thread, ``serve_forever()`` in this one, ``close()`` stops it
    and removes its temporary folder."""

    def __init__(self, runs=(), runs_dir=None, host: str = "127.0.0.1", port: int = 8765,
                 max_upload: int = MAX_UPLOAD, workers: int = 2):
        self.runs = Runs(runs, runs_dir)
        if not self.runs.named and self.runs.runs_dir is None:
            raise MuseganError("studio: name at least one run folder, or give --runs-dir")
        self.max_upload = int(max_upload)
        self.host = host
        self.tmp = Path(tempfile.mkdtemp(prefix="musegan-studio-"))
        self.pieces: OrderedDict[str, Piece] = OrderedDict()
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="studio")
        self._thread = None
        self._closed = False
        from ..render import fluidsynth_available

        self.synth = "fluidsynth" if fluidsynth_available() else "numpy"
        try:
            self.httpd = (_Server6 if ":" in host else _Server)((host, port), _handler(self))
        except OSError as e:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self._pool.shutdown(wait=False)
            why = "in use" if e.errno in (98, 48, 10048) else (e.strerror or str(e))
            raise MuseganError(f"studio: cannot listen on {host}:{port} ({why}); choose another with --port") from None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def start(self) -> "Studio":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="studio-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
        self.httpd.server_close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ pieces

    def _new_piece(self, name: str) -> Piece:
        piece = Piece(secrets.token_hex(8), name)
        with self._lock:
            self.pieces[piece.id] = piece
            while len(self.pieces) > MAX_PIECES:
                _, old = self.pieces.popitem(last=False)
                for f in (old.midi, old.wav):
                    if f is not None:
                        f.unlink(missing_ok=True)
        return piece

    def piece(self, piece_id) -> Piece:
        with self._lock:
            piece = self.pieces.get(piece_id) if isinstance(piece_id, str) else None
        if piece is None or piece.midi is None:
            raise RequestError(f"unknown piece {str(piece_id)[:40]!r} (upload or generate one first)",
                               HTTPStatus.NOT_FOUND)
        return piece

    def upload(self, data: bytes, filename: str) -> dict:
        """A MIDI file from the page -> a piece, read as ``prepare`` reads files."""
        from ..io.files import atomic_write_bytes
        from ..io.midi import UnreadableFile, midi_bytes_to_song

        name = (re.sub(r"[^\w.\- ()]", "_", filename.replace("\\", "/").rsplit("/", 1)[-1]) or "upload.mid")[:80]
        if not data:
            raise RequestError(f"{name}: empty file")
        try:
            song = midi_bytes_to_song(data, 4)  # what read_song does with a MIDI file's bytes
        except UnreadableFile as e:
            raise RequestError(f"{name}: {e}") from None
        if not len(song.notes):
            raise RequestError(f"{name}: no notes in this file")
        piece = self._new_piece(name)
        piece.song, piece.midi = song, atomic_write_bytes(self.tmp / f"{piece.id}.mid", data)
        return {"piece": piece.id, "name": name, "midi": f"/files/{piece.id}.mid", "roll": roll_json(song)}

    # ------------------------------------------------------------------ jobs

    def submit(self, action: str, body: dict) -> dict:
        if not isinstance(body, dict):
            raise RequestError("expected a JSON object")
        run_id = body.get("run")
        kind = self.runs.describe(run_id, self.runs.path(run_id))["kind"]  # unknown run: refused now, not in the job
        work = getattr(self, f"_{action}")
        args = self._check(action, body, kind)
        job = Job(secrets.token_hex(8), action)
        with self._lock:
            self.jobs[job.id] = job
            while len(self.jobs) > MAX_PIECES:
                self.jobs.popitem(last=False)
        self._pool.submit(self._run, job, work, run_id, args)
        return {"job": job.id}

    def _check(self, action: str, body: dict, kind: str) -> dict:
        args = sampling(body)
        if kind == "audio":
            if action != "generate":
                raise RequestError(f"{body['run']} is an audio model: it can only generate")
            if body.get("primer"):
                raise RequestError(f"{body['run']} is an audio model: it takes no primer")
            args["seconds"] = _float(body, "seconds", 4.0, 0.0, MAX_SECONDS, open_lo=True)
            return args
        if action == "generate":
            args["bars"] = _int(body, "bars", 16, 1, MAX_BARS)
            if body.get("primer"):
                args["primer"] = self.piece(body["primer"])
            from ..steering import check_pulls

            pulls = body.get("pulls") or {}
            if not isinstance(pulls, dict):
                raise RequestError(f"pulls: expected {{name: nats}}, got {str(pulls)[:40]!r}")
            try:
                args["pulls"] = check_pulls(pulls) or None
            except MuseganError as e:
                raise RequestError(f"pulls: {e}") from None
        else:
            args["piece"] = self.piece(body.get("piece"))
        if action == "infill":
            bars = body.get("bars")
            if (not isinstance(bars, list) or len(bars) != 2 or any(isinstance(b, bool) or not isinstance(b, int)
                                                                   for b in bars)
                    or not 1 <= bars[0] <= bars[1] <= 4 * MAX_BARS):
                raise RequestError("bars: expected [first, last], whole numbers with 1 <= first <= last")
            args["bars"] = (bars[0], bars[1])
            tracks = body.get("tracks")
            if tracks is not None and (not isinstance(tracks, list) or not tracks or len(tracks) > 64
                                       or not all(isinstance(t, str) and len(t) <= 200 for t in tracks)):
                raise RequestError("tracks: expected a list of track names, or null for all")
            args["tracks"] = tracks
        if action == "harmonize":
            as_track = body.get("as_track")
            if as_track is not None and (not isinstance(as_track, str) or len(as_track) > 200):
                raise RequestError("as_track: expected a track name, or null")
            args["as_track"] = as_track or None
        return args

    def _run(self, job: Job, work, run_id: str, args: dict) -> None:
        try:
            with self.runs.lock(run_id):
                job.state, job.started = "running", time.monotonic()
                if not self.runs.loaded(run_id):
                    job.stage = "loading the model"
                model = self.runs.model(run_id)
                work(job, run_id, model, **args)
            job.stage, job.state = "done", "done"
        except (MuseganError, RequestError) as e:
            job.error, job.state = _one_line(e), "error"
        except Exception as e:  # a bug, or the machine: still one line on the page
            job.error, job.state = f"{type(e).__name__}: {_one_line(e, 250)}", "error"

    def _generate(self, job: Job, run_id: str, model, seed, temperature, top_p, bars=None, seconds=None,
                  primer=None, pulls=None):
        from ..generation import AudioModel

        if isinstance(model, AudioModel):
            return self._generate_audio(job, run_id, model, seconds or 4.0, seed, temperature, top_p)
        job.stage = f"sampling {bars} bars" + (" after the primer" if primer else "")
        song = model.generate_song(bars=bars, seed=seed, temperature=temperature, top_p=top_p,
                                   primer=None if primer is None else primer.midi, pulls=pulls)
        from ..io.midi import to_pretty_midi

        self._finish(job, f"{run_id}-seed{seed}", to_pretty_midi(song), song, model)

    def _infill(self, job: Job, run_id: str, model, piece: Piece, bars, tracks, seed, temperature, top_p):
        from ..generation import AudioModel

        if isinstance(model, AudioModel):
            raise MuseganError(f"{run_id} is an audio run: infill works on MIDI runs (coconet)")
        job.stage = f"infilling bars {bars[0]}-{bars[1]}"
        pm = model.infill(str(piece.midi), bars=bars, tracks=tracks, seed=seed, temperature=temperature, top_p=top_p)
        self._finish(job, f"{run_id}-infill-seed{seed}", pm, None, model, piece)

    def _harmonize(self, job: Job, run_id: str, model, piece: Piece, as_track, seed, temperature, top_p):
        job.stage = "harmonizing the melody"
        pm = model.harmonize(str(piece.midi), as_tracks=[as_track] if as_track else None, seed=seed,
                             temperature=temperature, top_p=top_p)
        self._finish(job, f"{run_id}-harmony-seed{seed}", pm, None, model, piece)

    def _finish(self, job: Job, name: str, pm, song, model, source: Piece | None = None):
        """Write the MIDI, show the roll (the page draws it now), then render the audio."""
        from dataclasses import replace

        from ..io.audio import write_wav
        from ..io.midi import from_pretty_midi, write_pretty_midi
        from ..render import SAMPLE_RATE, render_midi

        if song is None:  # infill, harmonize: as long as the piece they worked on
            res = int(model.config.data.resolution)
            song = align_tracks(from_pretty_midi(pm, res), model.tracks)
            if source is not None and source.song is not None:
                song = replace(song, n_steps=max(song.n_steps, source.song.n_steps * res // source.song.resolution))
        piece = self._new_piece(f"{name}.mid")
        piece.song, piece.midi = song, write_pretty_midi(self.tmp / f"{piece.id}.mid", pm)
        job.result = {"piece": piece.id, "name": piece.name, "midi": f"/files/{piece.id}.mid",
                      "roll": roll_json(song, model.steps_per_bar)}
        job.stage = f"rendering audio ({'FluidSynth' if self.synth == 'fluidsynth' else 'built-in synthesizer'})"
        y = render_midi(pm, SAMPLE_RATE, synth=self.synth)
        piece.wav = write_wav(self.tmp / f"{piece.id}.wav", y, SAMPLE_RATE)
        job.result = {**job.result, "wav": f"/files/{piece.id}.wav", "seconds": round(len(y) / SAMPLE_RATE, 3)}

    def _generate_audio(self, job: Job, run_id: str, model, seconds, seed, temperature, top_p):
        from ..generation import spectrogram_to_audio
        from ..io.audio import write_wav

        job.stage = f"sampling {seconds:g} s of spectrogram"
        S = model.generate_spectrogram(seconds, seed, temperature, top_p)
        job.result = {"spectrogram": spectrogram_json(S)}
        job.stage = "decoding audio (Griffin-Lim)"
        y = spectrogram_to_audio(S, model.stats, 32, seed, length=int(round(seconds * model.sr))).numpy()
        piece = self._new_piece(f"{run_id}-seed{seed}.wav")
        piece.wav = write_wav(self.tmp / f"{piece.id}.wav", y[0] if y.shape[0] == 1 else y, model.sr)
        job.result = {**job.result, "piece": piece.id, "name": piece.name, "wav": f"/files/{piece.id}.wav",
                      "seconds": round(y.shape[-1] / model.sr, 3)}

    def job(self, job_id: str) -> dict:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise RequestError(f"unknown job {job_id[:40]!r}", HTTPStatus.NOT_FOUND)
        return job.as_json()

    def load_run(self, run_id) -> dict:
        self.runs.path(run_id)
        with self.runs.lock(run_id):
            try:
                model = self.runs.model(run_id)
            except MuseganError as e:
                raise RequestError(_one_line(e), HTTPStatus.UNPROCESSABLE_ENTITY) from None
        return model_summary(run_id, model)

    def list_runs(self) -> dict:
        paths = self.runs.paths()
        return {"runs": [self.runs.describe(i, p) for i, p in paths.items()], "upload_limit": self.max_upload,
                "synth": self.synth, "max_bars": MAX_BARS, "max_seconds": MAX_SECONDS}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(app: Studio):
    static = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    loopback = app.host in LOCAL_HOSTS

    class Handler(BaseHTTPRequestHandler):
        server_version = "musegan-studio"
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: the terminal shows the URL only
            pass

        # -------------------------------------------------------------- replies

        def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj, status: int = 200):
            self._send(status, json.dumps(obj).encode(), "application/json")

        def _error(self, message: str, status: int):
            self._json({"error": message}, status)

        def _route(self, fn):
            try:
                if loopback and not self._local_host():
                    raise RequestError("this page is served to localhost only", HTTPStatus.FORBIDDEN)
                fn()
            except RequestError as e:
                self._error(str(e), e.status)
            except MuseganError as e:
                self._error(_one_line(e), HTTPStatus.UNPROCESSABLE_ENTITY)
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception as e:  # noqa: BLE001 - the page gets one line, never a traceback
                self._error(f"server error: {type(e).__name__}: {_one_line(e, 200)}", 500)

        def _local_host(self) -> bool:
            """A Host header naming this machine: a web page elsewhere cannot reach the
            server through a DNS name rebound to 127.0.0.1."""
            host = (self.headers.get("Host") or "").strip().lower()
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
            return name in LOCAL_HOSTS

        def _body(self, limit: int) -> bytes:
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                raise RequestError("a body with Content-Length is required", HTTPStatus.LENGTH_REQUIRED) from None
            if length > limit:
                left = length if length <= 16 * limit else 0  # read and dropped: the client hears the answer
                while left > 0 and (chunk := self.rfile.read(min(1 << 16, left))):
                    left -= len(chunk)
                self.close_connection = True
                raise RequestError(f"file too large: {length / 1e6:.1f} MB (the limit is {limit / 1e6:.1f} MB)",
                                   HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return self.rfile.read(length) if length > 0 else b""

        def _ctype(self) -> str:
            return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

        def _json_body(self):
            if self._ctype() != "application/json":  # also keeps other sites' forms out: they cannot send it unasked
                raise RequestError("expected Content-Type: application/json", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
            try:
                return json.loads(self._body(MAX_JSON) or b"null")
            except ValueError:
                raise RequestError("the request body is not valid JSON") from None

        # -------------------------------------------------------------- methods

        def do_GET(self):
            self._route(self._get)

        def do_HEAD(self):
            self._route(self._get)

        def do_POST(self):
            self._route(self._post)

        def do_PUT(self):
            self._route(self._not_allowed)

        do_DELETE = do_PATCH = do_PUT

        def _not_allowed(self):
            raise RequestError(f"{self.command} is not allowed", HTTPStatus.METHOD_NOT_ALLOWED)

        def _get(self):
            url = urllib.parse.urlsplit(self.path)
            path, query = url.path, urllib.parse.parse_qs(url.query)
            if path in ("/", "/index.html"):
                return self._static("index.html")
            if path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            if path == "/favicon.ico":
                return self._send(204, b"", "image/x-icon")
            if path == "/api/runs":
                return self._json(app.list_runs())
            if path == "/api/run":
                return self._json(app.load_run(query.get("id", [""])[0]))
            m = re.fullmatch(r"/api/jobs/([0-9a-f]{1,32})", path)
            if m:
                return self._json(app.job(m.group(1)))
            m = re.fullmatch(r"/files/([0-9a-f]{16})\.(mid|wav)", path)
            if m:
                return self._file(m.group(1), m.group(2), query.get("download", ["0"])[0] == "1")
            if path.startswith("/api/"):
                raise RequestError(f"no such endpoint: GET {path[:80]}", HTTPStatus.NOT_FOUND)
            raise RequestError("not found", HTTPStatus.NOT_FOUND)

        def _post(self):
            path = urllib.parse.urlsplit(self.path).path
            if path == "/api/upload":
                if self._ctype() not in MIDI_TYPES:
                    raise RequestError("expected a MIDI file as the body (Content-Type audio/midi)",
                                       HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
                data = self._body(app.max_upload)
                name = urllib.parse.unquote(self.headers.get("X-Filename", "upload.mid"))
                return self._json(app.upload(data, name))
            action = {"/api/generate": "generate", "/api/infill": "infill", "/api/harmonize": "harmonize"}.get(path)
            if action is None:
                raise RequestError(f"no such endpoint: POST {path[:80]}", HTTPStatus.NOT_FOUND)
            return self._json(app.submit(action, self._json_body()), HTTPStatus.ACCEPTED)

        def _static(self, name: str):
            if name not in static:  # a fixed list of files: no path from the request reaches the disk
                raise RequestError("not found", HTTPStatus.NOT_FOUND)
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype.endswith("javascript"):
                ctype += "; charset=utf-8"
            self._send(200, static[name].read_bytes(), ctype)

        def _file(self, piece_id: str, ext: str, download: bool):
            with app._lock:
                piece = app.pieces.get(piece_id)
            path = None if piece is None else (piece.midi if ext == "mid" else piece.wav)
            if path is None or not path.is_file():
                raise RequestError("no such file (it may not be ready yet)", HTTPStatus.NOT_FOUND)
            extra = {}
            if download:
                stem = re.sub(r"[^\w.\-]", "_", piece.name.rsplit(".", 1)[0])[:80] or "musegan"
                extra["Content-Disposition"] = f'attachment; filename="{stem}.{ext}"'
            self._send(200, path.read_bytes(), "audio/midi" if ext == "mid" else "audio/wav", extra)

    return Handler


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(runs=(), runs_dir=None, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the studio page until Ctrl-C; its temporary files are removed at exit."""
    if host not in LOCAL_HOSTS:
        warn(f"--host {host}: the studio page has no login; anyone who can reach this address can use it")
    app = Studio(runs, runs_dir, host, port)
    atexit.register(app.close)
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, _interrupt)  # a kill cleans up as Ctrl-C does
    n = len(app.runs.paths())
    print(f"musegan studio: {app.url}  ({n} run{'s' if n != 1 else ''}; Ctrl-C to stop)", flush=True)
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        print("musegan studio: stopped", flush=True)
    finally:
        app.close()
        if old is not None:  # the caller's handler back (a script, a test: not ours to keep)
            signal.signal(signal.SIGTERM, old)
