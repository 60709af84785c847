"""Prepared corpora as torch datasets of fixed-length windows of frames."""
from __future__ import annotations

import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import MuseganError
from ..io.files import load_npy, read_json
from ..representations.pianoroll import (
    END,
    PITCH,
    START,
    FrameSpec,
    Song,
    Track,
    notes_to_frames,
    steps_per_bar,
    transpose_notes,
)
from .prepare import FORMAT


class PreparedCorpus:
    """Read access to a prepared folder: its songs (notes through memory maps) and the
    corpus-wide facts a model needs (track set, bar length, typical tempo)."""

    def __init__(self, root):
        self.root = Path(root)
        path = self.root / "manifest.json"
        try:
            manifest = read_json(path)
        except (OSError, ValueError) as e:
            raise MuseganError(f"{path}: not a prepared corpus ({e})") from None
        if manifest.get("format") != FORMAT:
            raise MuseganError(f"{path}: not a musegan corpus manifest")
        self.manifest = manifest
        self.entries = [e for e in manifest["files"] if e["status"] == "ok"]
        self.resolution = int(manifest["encoding"].get("resolution", 0))
        self._shards: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getstate__(self):  # memory maps are reopened in each DataLoader worker
        return {**self.__dict__, "_shards": {}}

    @property
    def kind(self) -> str:
        """``midi`` (notes) or ``audio`` (spectrogram frames)."""
        return self.manifest["encoding"].get("kind", "midi")

    def rows(self, i: int) -> np.ndarray:
        """File ``i``'s rows of its shard: notes ``(n, 5)`` int32, or audio frames
        ``(n_frames, channels * n_bins)`` float16 (a memory map: copy what you keep)."""
        e = self.entries[i]
        shard = self._shards.get(e["shard"])
        if shard is None:
            path = self.root / "shards" / e["shard"]
            try:
                shard = self._shards[e["shard"]] = load_npy(path)
            except FileNotFoundError:
                raise MuseganError(f"{path}: missing, though {self.root / 'manifest.json'} lists it (the folder was "
                                   "changed while this run read it); prepare the corpus again") from None
        return shard[e["offset"] : e["offset"] + e.get("n_notes", e.get("n_frames"))]

    def notes(self, i: int) -> np.ndarray:
        return np.asarray(self.rows(i))

    def song(self, i: int) -> Song:
        e = self.entries[i]
        num, den = e["time_signature"]
        return Song(self.notes(i), [Track.from_dict(t) for t in e["tracks"]], self.resolution,
                    [(0, e["tempo"])], [(0, num, den)], e["n_steps"])

    def split(self, valid_percent: float) -> tuple[list[int], list[int]]:
        """Train and validation song indices, by a hash of each file's name: stable
        when files are added, and never one song on both sides."""
        train, valid = [], []
        for i, e in enumerate(self.entries):
            h = zlib.crc32(Path(e["path"]).name.encode()) % 10000
            (valid if h < valid_percent * 100 else train).append(i)
        if not valid and len(train) > 1:
            valid.append(train.pop())
        return train, valid

    def track_template(self) -> list[Track]:
        """Per row, the most common track (name, program, drum flag) across songs,
        not counting rows left blank (no name, program 0, not drums)."""
        n = max(len(e["tracks"]) for e in self.entries)
        rows = []
        for k in range(n):
            c = Counter(
                (t["name"], t["program"], t["is_drum"])
                for e in self.entries if k < len(e["tracks"])
                for t in [e["tracks"][k]] if t["name"] or t["program"] or t["is_drum"]
            )
            name, program, drum = c.most_common(1)[0][0] if c else ("", 0, False)
            rows.append(Track(name, program, drum))
        return rows

    def time_signature(self) -> tuple[int, int]:
        return tuple(Counter(tuple(e["time_signature"]) for e in self.entries).most_common(1)[0][0])

    def tempo(self) -> float:
        return float(np.median([e["tempo"] for e in self.entries]))


class WindowDataset(torch.utils.data.Dataset):
    """Windows of ``window`` steps, starting on bar lines (every ``hop`` steps), as
    frames ``(window, n_features)`` float32 0/1.

    With ``transpose`` > 0 each item is shifted by a random number of semitones in
    ``[-transpose, transpose]`` (drum tracks stay), drawn from the item's own index so
    that an epoch is reproducible. Index ``i`` and ``i + len(self)`` are the same window
    with other draws: samplers pass ``epoch * len + i``. ``shifts`` (``{song: semitones}``)
    moves each song first (``data.key=common``; a note pushed out of the modelled range
    moves an octave back). Picklable for DataLoader workers.
    """

    def __init__(self, corpus: PreparedCorpus, songs: list[int], spec: FrameSpec, window: int,
                 hop: int, transpose: int = 0, drum_tracks=(), seed: int = 0, shifts: dict | None = None):
        self.corpus, self.spec, self.window, self.transpose = corpus, spec, window, transpose
        self.drum_tracks, self.seed, self.shifts = tuple(drum_tracks), seed, shifts or {}
        items = []
        for i in songs:
            n = corpus.entries[i]["n_steps"]
            starts = range(0, max(n - window, 0) + 1, hop) if n >= hop else []
            items.extend((i, s) for s in starts)
        self.items = np.asarray(items, np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        song, start = self.items[index % len(self.items)]
        notes = self.corpus.notes(int(song))
        notes = notes[(notes[:, START] < start + self.window) & (notes[:, END] > start)]
        if self.shifts.get(int(song)):
            from ..arrange import transpose

            notes = transpose(notes, self.shifts[int(song)], self.drum_tracks, self.spec.pitch_low, self.spec.pitch_high)
        if self.transpose and len(notes):
            rng = np.random.default_rng([self.seed, int(index)])
            pitched = notes[~np.isin(notes[:, 0], self.drum_tracks)]
            lo = hi = self.transpose
            if len(pitched):  # keep every note inside the modelled range
                lo = min(lo, int(pitched[:, PITCH].min()) - self.spec.pitch_low)
                hi = min(hi, self.spec.pitch_high - int(pitched[:, PITCH].max()))
            shift = int(rng.integers(-max(lo, 0), max(hi, 0) + 1))
            notes = transpose_notes(notes, shift, self.drum_tracks)
        return torch.from_numpy(notes_to_frames(notes, self.spec, int(start), self.window))


def frame_spec(config: DataConfig, n_tracks: int) -> FrameSpec:
    return FrameSpec(n_tracks, config.pitch_low, config.pitch_high, config.onsets)


def bar_steps(config: DataConfig, corpus: PreparedCorpus) -> int:
    if config.steps_per_bar:
        return config.steps_per_bar
    return steps_per_bar(config.resolution, *corpus.time_signature())
