"""Checkpoint -> samples -> MIDI or audio. The Python API for composition scripts::

    import musegan
    model = musegan.load("runs/mine")
    pm = model.generate(bars=16, seed=0, temperature=1.0, primer="intro.mid")
    pm.write("song.mid")

    sound = musegan.load("runs/wavs-lstm")        # a model trained on a folder of WAV files
    y, sr = sound.generate(seconds=4, seed=0)     # float32 waveform, 44100
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .data.dataset import frame_spec
from .errors import MuseganError
from .io.audio import write_wav
from .io.checkpoint import find_checkpoint, load_checkpoint
from .io.files import atomic_write_bytes
from .io.midi import read_primer, to_pretty_midi, write_pretty_midi
from .models import build_model
from .representations.pianoroll import END, START, TRACK, PITCH, Song, Track, frames_to_notes, map_tracks, notes_to_frames
from .representations.spectrogram import from_spectrogram, griffin_lim, mel_to_linear


def check_tempo(tempo) -> float | None:
    if tempo is not None and not 1 <= float(tempo) <= 1000:
        raise MuseganError(f"--tempo {tempo}: expected 1 to 1000 quarter notes per minute")
    return None if tempo is None else float(tempo)


def check_sampling(temperature: float, top_p: float) -> None:
    if temperature is None or temperature < 0:
        raise MuseganError(f"temperature={temperature}: expected >= 0")
    if not 0 < top_p <= 1:
        raise MuseganError(f"top_p={top_p}: expected more than 0 and at most 1")


@contextlib.contextmanager
def one_thread(device: torch.device):
    """Frame-by-frame sampling on one CPU thread: its small products gain nothing from a
    second one, which only spins against whatever else the machine runs."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise MuseganError(f"--device {device!r}: expected auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MuseganError(f"--device {device}: CUDA is not available on this machine")
    return torch.device(device)


class MusicModel:
    """A trained model with what it needs to speak MIDI: its data encoding, its track
    set, bar length and tempo."""

    def __init__(self, model, config: RunConfig, info: dict):
        self.model, self.config, self.info = model.eval(), config, info
        self.tracks = [Track.from_dict(t) for t in info["tracks"]]
        self.spec = frame_spec(config.data, len(self.tracks))

    def steering(self, pulls: dict | None):
        """The :class:`~musegan.steering.Steering` that ``pulls`` (``{"hold" | "key" |
        "groove" | "chord": nats}``) ask for, or None when none is on. A young note is one shorter
        than a 32nd note; the key is counted over 4 bars (a half-life)."""
        from .steering import Steering, check_pulls

        pulls = check_pulls(pulls)
        if not any(pulls.values()):
            return None
        if not getattr(self.model, "steerable", False):
            raise MuseganError(f"--pull: the {self.config.model} family draws no frame after frame to pull; "
                               "the sequence families (lstm, conv) take pulls")
        res, spb = self.config.data.resolution, self.steps_per_bar
        return Steering(self.spec.n_tracks, self.spec.n_channels, self.spec.n_pitches, self.spec.pitch_low,
                        self.drums, min_steps=max(1, -(-res // 8)), half_life=4 * spb, steps_per_bar=spb, **pulls)

    @property
    def steps_per_bar(self) -> int:
        return int(self.info["steps_per_bar"])

    def primer_frames(self, primer) -> tuple[Song, np.ndarray]:
        """Read a primer (path or PrettyMIDI), map its tracks as in training, and pad it
        to whole bars. Returns the mapped song and its frames ``(T, F)``."""
        d = self.config.data
        song = read_primer(primer, d.resolution)
        notes, _ = map_tracks(song.notes, song.tracks, d.tracks, d.max_tracks, d.track_names)
        length = -(-max(song.n_steps, 1) // self.steps_per_bar) * self.steps_per_bar
        song = Song(notes, self.tracks, d.resolution, song.tempos, song.time_signatures, length)
        return song, notes_to_frames(notes, self.spec, 0, length)

    def _temperature(self, temperature: float | None, top_p: float) -> float:
        """The temperature to sample at (None: the family's own), checked with ``top_p``."""
        temperature = self.model.default_temperature if temperature is None else temperature
        check_sampling(temperature, top_p)
        return temperature

    def generate_song(self, bars: int = 16, seed: int = 0, temperature: float | None = None, primer=None,
                      top_p: float = 1.0, pulls: dict | None = None) -> Song:
        """Sample ``bars`` bars (after the primer, if any) as a :class:`Song`.
        ``temperature`` divides the logits (0: the likeliest choice; None: the family's
        default, 1 but for coconet); ``top_p`` < 1 keeps
        only the nucleus of each choice (each voice's categorical, each note bit). Without
        a primer, the first step is not silent unless the corpus's pieces start so.
        ``pulls``: ``{"hold" | "key" | "groove" | "chord": nats}``, logit offsets while sampling
        (``musegan.steering``; sequence families)."""
        if bars < 1:
            raise MuseganError(f"bars={bars}: expected at least 1")
        temperature = self._temperature(temperature, top_p)
        steer = self.steering(pulls)
        primer_song, primer_frames = self.primer_frames(primer) if primer is not None else (None, None)
        shift = self.key_shift(seed, None if primer_song is None else primer_song.notes)
        if shift and primer_song is not None:
            primer_frames = notes_to_frames(self.move(primer_song.notes, shift), self.spec, 0, len(primer_frames))
        device = next(self.model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(seed))
        with one_thread(device):
            frames = self.model.generate(
                1, bars * self.steps_per_bar,
                primer=None if primer_frames is None else torch.from_numpy(primer_frames),
                temperature=temperature, generator=gen, top_p=top_p,
                sounding_start=self.info.get("silent_start", 1.0) < 0.5, **({} if steer is None else {"steer": steer}),
            )[0].numpy()
        notes = self.move(frames_to_notes(frames, self.spec, velocity=80), -shift)
        num, den = self.info["time_signature"]
        tempos, time_signatures = [(0, float(self.info["tempo"]))], [(0, int(num), int(den))]
        if primer_song is not None:
            notes = _join_primer(primer_song.notes, notes, primer_song.n_steps)
            tempos, time_signatures = primer_song.tempos, primer_song.time_signatures
        return Song(notes, self.tracks, self.config.data.resolution, tempos, time_signatures, len(frames))

    def key_shift(self, seed: int, given: np.ndarray | None = None) -> int:
        """A run trained in a common key (``data.key=common``) writes in C major / A
        minor: the semitones that move the ``given`` notes there (a primer, a melody), or
        without them a shift drawn (by ``seed``) from the corpus's own; what the model
        writes is moved back by minus it, so that its pieces come in the corpus's keys.
        0 for a run trained in its pieces' own keys."""
        if self.config.data.key != "common":
            return 0
        from .arrange import common_key_shift

        if given is not None:
            return common_key_shift(given, self.drums)
        counts = np.asarray(self.info["key_shifts"], float)
        return int(np.random.default_rng([int(seed), 12]).choice(12, p=counts / counts.sum())) - 6

    @property
    def drums(self) -> list[int]:
        return [k for k, t in enumerate(self.tracks) if t.is_drum]

    def move(self, notes: np.ndarray, shift: int) -> np.ndarray:
        """``notes`` moved by ``shift`` semitones (drums stay), kept in the modelled range."""
        from .arrange import transpose

        return transpose(notes, shift, self.drums, self.spec.pitch_low, self.spec.pitch_high) if shift else notes

    def generate(self, bars: int = 16, seed: int = 0, temperature: float | None = None, primer=None, top_p: float = 1.0,
                 key: str | None = None, tempo: float | None = None, programs: dict | None = None,
                 time_signature: str | None = None, pulls: dict | None = None):
        """Sample music; returns a ``pretty_midi.PrettyMIDI`` (one named track per row
        of the model, its program, drums on channel 10). See ``generate_song``.
        Steering: ``key`` (e.g. ``"D minor"``; without a primer: the piece is moved by
        the transposition, within a tritone, that fits that key best, Krumhansl's
        profiles), ``tempo`` (quarter notes per minute), ``programs`` (``{track name:
        General MIDI program 0-127}``), ``time_signature`` (``"3/4"``: only the one the
        model was trained on)."""
        song = self.generate_song(bars, seed, temperature, primer, top_p, pulls)
        return to_pretty_midi(self.steer_song(song, key, tempo, programs, time_signature, primer is not None))

    # -- steering -----------------------------------------------------------------------
    def check_time_signature(self, time_signature: str | None) -> None:
        if time_signature is None:
            return
        num, den = self.info["time_signature"]
        given = time_signature.replace(" ", "")
        if given != f"{num}/{den}":
            raise MuseganError(f"--time-signature {time_signature}: this model was trained on {num}/{den} bars "
                               f"({self.steps_per_bar} steps) and writes only those")

    def program_rows(self, programs: dict | None) -> dict:
        """``{track name or number: program}`` -> ``{row: program}``."""
        from .arrange import row_index

        out = {}
        for name, program in (programs or {}).items():
            if not 0 <= int(program) <= 127:
                raise MuseganError(f"--program {name}={program}: expected a General MIDI program 0-127")
            out[row_index(str(name), self.tracks, "--program")] = int(program)
        return out

    def steer_song(self, song: Song, key=None, tempo=None, programs=None, time_signature=None,
                   primed: bool = False) -> Song:
        from dataclasses import replace

        from .arrange import estimate_key, key_name, parse_key, shift_to_key, transpose

        self.check_time_signature(time_signature)
        if check_tempo(tempo) is not None:
            song = replace(song, tempos=[(0, float(tempo))])
        rows = self.program_rows(programs)
        if rows:
            tracks = [Track(t.name, rows.get(k, t.program), t.is_drum) for k, t in enumerate(song.tracks)]
            song = replace(song, tracks=tracks)
        if key is not None:
            if primed:
                raise MuseganError("--key: a continuation keeps the key of its primer; give --key without --primer")
            target = parse_key(key)
            drums = self.drums
            shift = shift_to_key(song.notes, target, drums)
            notes = transpose(song.notes, shift, drums)
            reads = estimate_key(notes, drums) if len(notes) else target
            if reads != target:
                from .errors import warn

                warn(f"--key {key}: the piece reads as {key_name(*reads)} after moving it {shift:+d} semitones "
                     f"(the model chose its mode)")
            song = replace(song, notes=notes)
        return song

    # -- infill, harmonize, accompany --------------------------------------------------------
    def _refuse_infill(self) -> None:
        if not self.model.conditions_on_future:
            from .models import infill_families

            raise MuseganError(f"a {self.config.model} model cannot infill: it draws left to right and never sees the "
                               f"music after a span; the families that can: {', '.join(infill_families())} "
                               f"(musegan train --model coconet)")

    def _piece(self, source):
        from .arrange import GivenPiece
        from .io.midi import read_given

        score, name = read_given(source, self.config.data.resolution)
        piece = GivenPiece(score, self.config.data, self.tracks, name)
        num, den = self.info["time_signature"]
        if piece.time_signature != (num, den):
            from .errors import warn

            warn(f"{name}: its bars are {piece.time_signature[0]}/{piece.time_signature[1]}, the model's "
                 f"{num}/{den}: bars are counted in the model's")
        return piece

    def _complete(self, piece, known: np.ndarray, frames: np.ndarray, seed, temperature, top_p, iterations,
                  pitch_shift: int = 0, pulls: dict | None = None):
        """Draw the cells not ``known`` ``(T, K)`` of ``frames`` ``(T, F)`` and add the notes
        that start in them to ``piece``."""
        temperature = self._temperature(temperature, top_p)
        steer = self.steering(pulls)
        device = next(self.model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(seed))
        with one_thread(device):
            out = self.model.complete(torch.from_numpy(frames)[None], torch.from_numpy(known)[None], temperature,
                                      gen, top_p, iterations,
                                      **({} if steer is None else {"steer": steer}))[0].numpy()
        size = self.spec.n_channels * self.spec.n_pitches
        drawn = out * np.repeat(~known, size, axis=1)
        piece.add(frames_to_notes(drawn, self.spec), pitch_shift)

    def _infill(self, song, bars: tuple, tracks=None, seed: int = 0, temperature: float | None = None,
                top_p: float = 1.0, iterations: int | None = None, pulls: dict | None = None):
        """``infill``: the piece (its score changed in place)."""
        from .arrange import row_index

        self._refuse_infill()
        first, last = (int(b) for b in bars)
        if not 1 <= first <= last:
            raise MuseganError(f"--infill {first}-{last}: expected bars FIRST-LAST with 1 <= FIRST <= LAST")
        piece = self._piece(song)
        if not piece.rows:
            raise MuseganError(f"{piece.name}: none of its tracks is one of the model's "
                               f"({', '.join(t.name for t in self.tracks)})")
        K, spb = len(self.tracks), self.steps_per_bar
        rows = list(range(K)) if not tracks else [row_index(t, self.tracks, "--tracks") for t in tracks]
        lo, hi = (first - 1) * spb, last * spb
        T = -(-max(piece.n_steps(), hi) // spb) * spb
        piece.drop(lambda j, s: np.isin(piece.rows[j], rows) & (s >= lo) & (s < hi))
        notes = piece.model_notes(lambda j, s: np.ones(len(s), bool))
        known = np.ones((T, K), bool)
        known[lo:hi, rows] = False
        for k, _, start, end, _ in notes[(notes[:, START] < lo) & (notes[:, END] > lo)]:
            known[lo : min(end, hi), k] = True  # a kept note that sounds into the span goes on
        shift = self.key_shift(seed, notes)
        self._complete(piece, known, notes_to_frames(self.move(notes, shift), self.spec, 0, T), seed, temperature,
                       top_p, iterations, pitch_shift=-shift, pulls=pulls)
        return piece

    def infill(self, song, bars: tuple, tracks=None, seed: int = 0, temperature: float | None = None, top_p: float = 1.0,
               iterations: int | None = None, tempo: float | None = None, programs: dict | None = None):
        """Regenerate bars ``first..last`` (from 1, inclusive) of ``song`` (a path or a
        ``PrettyMIDI``), on all of the model's tracks or only ``tracks`` (names), given
        the music on both sides; returns a ``pretty_midi.PrettyMIDI``. Every note outside
        the span is kept exactly (a note belongs to the span where it starts; a note that
        starts before the span and sounds into it is kept, and the new notes begin after
        it). Only a model that sees the future can (``--model coconet``). ``tempo`` and
        ``programs``: as in ``generate``."""
        from .io.midi import score_to_pretty_midi

        piece = self._infill(song, bars, tracks, seed, temperature, top_p, iterations)
        return score_to_pretty_midi(self.steer_piece(piece, tempo=tempo, programs=programs))

    def _harmonize(self, melody, keep_tracks=None, as_tracks=None, seed: int = 0, temperature: float | None = None,
                   top_p: float = 1.0, iterations: int | None = None, pulls: dict | None = None):
        """``harmonize``: the piece (its score changed in place)."""
        from .arrange import fit_octaves, match_given, row_index
        from .errors import warn

        piece = self._piece(melody)
        mono = tuple(self.info.get("mono_tracks", ()))
        if keep_tracks:
            rows = [row_index(t, self.tracks, "--keep-tracks") for t in keep_tracks]
            given = {j: r for j, r in piece.rows.items() if r in rows}
            missing = [self.tracks[r].name for r in rows if r not in given.values()]
            if missing:
                raise MuseganError(f"{piece.name}: no track of it plays {', '.join(missing)} "
                                   f"(its tracks: {', '.join(t.name or '(unnamed)' for t in piece.tracks)})")
            others = {j: r for j, r in piece.rows.items() if r not in rows}
            piece.drop(lambda j, s: np.full(len(s), j in others))  # the model writes those rows anew
        else:
            given, others = match_given(piece, self.tracks, as_tracks or (), mono), {}
        piece.rows = {**given, **others}
        given_rows = sorted(set(given.values()))
        if len(given_rows) == len(self.tracks):
            raise MuseganError(f"{piece.name}: it gives every track of the model; nothing is left to write")
        notes = piece.model_notes(lambda j, s: np.full(len(s), j in given))
        d = self.config.data
        ranges = self.info.get("track_ranges") or [[d.pitch_low, d.pitch_high]] * len(self.tracks)
        first = given_rows[0]  # every given track moves by the same octaves: they keep their intervals
        low, high = ranges[first]
        shift = fit_octaves(notes[notes[:, TRACK] == first], max(low, d.pitch_low), min(high, d.pitch_high))
        if shift:
            warn(f"{piece.name}: moved {shift:+d} semitones into the range of the model's {self.tracks[first].name} "
                 f"({low}-{high}); the given notes are written as they were, the new ones moved back")
            notes[~np.isin(notes[:, TRACK], self.drums), PITCH] += shift
        off = piece.off_grid(given_rows)
        if off:
            warn(f"{piece.name}: {off} note starts or ends fall between the model's steps (1/{d.resolution} "
                 f"quarter); the model reads them quantized, the given notes are written as they were")
        spb, K = self.steps_per_bar, len(self.tracks)
        T = -(-piece.n_steps() // spb) * spb
        known = np.zeros((T, K), bool)
        known[:, given_rows] = True
        key_shift = self.key_shift(seed, notes)
        self._complete(piece, known, notes_to_frames(self.move(notes, key_shift), self.spec, 0, T), seed, temperature,
                       top_p, iterations, pitch_shift=-shift - key_shift, pulls=pulls)
        return piece

    def harmonize(self, melody, keep_tracks=None, as_tracks=None, seed: int = 0, temperature: float | None = None,
                  top_p: float = 1.0, iterations: int | None = None, tempo: float | None = None,
                  programs: dict | None = None):
        """Keep the given track(s) of ``melody`` (a path or a ``PrettyMIDI``) and write the
        model's other tracks around them for its whole length; returns a
        ``pretty_midi.PrettyMIDI``. A track is matched to one of the model's by name, else
        by program, or as named by ``as_tracks`` (in order); with ``keep_tracks`` (names)
        a multi-track piece keeps those and its other tracks are written anew. A melody
        outside the model's range is moved by octaves (and the new parts moved back), one
        off its grid is read quantized; both warn. The coconet family draws with both
        sides in view; the sequence families clamp the given tracks while they draw left
        to right; the GAN takes them bar by bar as given tracks. ``tempo`` and
        ``programs``: as in ``generate``."""
        from .io.midi import score_to_pretty_midi

        piece = self._harmonize(melody, keep_tracks, as_tracks, seed, temperature, top_p, iterations)
        return score_to_pretty_midi(self.steer_piece(piece, tempo=tempo, programs=programs))

    def steer_piece(self, piece, key=None, tempo=None, programs=None, time_signature=None):
        """Steering of a given piece -> its score: its tempo and programs may change; its
        key and time signature are the piece's own."""
        import symusic

        if key is not None:
            raise MuseganError("--key: an infill or harmonization keeps the key of the given music")
        self.check_time_signature(time_signature)
        score = piece.score
        if check_tempo(tempo) is not None:
            score.tempos.clear()
            score.tempos.append(symusic.Tempo(0, float(tempo)))
        for r, program in self.program_rows(programs).items():
            for j in piece.tracks_of(r):
                score.tracks[j].program = program
        return score

    def write_files(self, paths: list, seed: int = 0, temperature: float | None = None, bars: int | None = None,
                    seconds: float | None = None, primer=None, run="", top_p: float = 1.0, infill=None,
                    tracks=None, harmonize=None, keep_tracks=None, as_tracks=None, key=None, tempo=None,
                    programs=None, time_signature=None, iterations=None, pulls=None) -> None:
        """File ``i`` of ``paths`` (.mid, or .wav: rendered at 44.1 kHz) from seed ``seed + i``:
        new music (after ``primer``, if any), or ``primer`` with bars ``infill`` (first,
        last) of ``tracks`` drawn again, or ``harmonize`` (a melody file) or ``primer``
        with ``keep_tracks`` and the other tracks written around them."""
        if seconds is not None:
            raise MuseganError(f"{run} is a symbolic model: give its length with --bars, not --seconds")
        if infill is not None and primer is None:
            raise MuseganError("--infill needs --primer: the piece whose bars are drawn again")
        if keep_tracks and primer is None:
            raise MuseganError("--keep-tracks needs --primer: the piece whose tracks are kept")
        if harmonize is not None and (primer is not None or infill is not None):
            raise MuseganError("--harmonize takes the melody file itself: give it without --primer and --infill")
        if tracks and infill is None:
            raise MuseganError("--tracks chooses the tracks of --infill; to keep tracks of a primer use --keep-tracks")
        if as_tracks and harmonize is None:
            raise MuseganError("--as names the tracks of the --harmonize melody")
        edit = infill is not None or harmonize is not None or bool(keep_tracks)
        if edit and bars is not None:
            raise MuseganError("--bars: an infill or harmonization is as long as the given piece")
        synth = "auto"  # warns once if FluidSynth is missing, then the same synthesizer for every file
        for i, path in enumerate(paths):
            if infill is not None:
                piece = self._infill(primer, infill, tracks, seed + i, temperature, top_p, iterations, pulls)
            elif edit:
                piece = self._harmonize(harmonize if harmonize is not None else primer, keep_tracks, as_tracks,
                                        seed + i, temperature, top_p, iterations, pulls)
            if edit:
                from .io.midi import score_to_pretty_midi

                score = self.steer_piece(piece, key, tempo, programs, time_signature)
                if path.suffix.lower() != ".wav":
                    atomic_write_bytes(path, score.dumps_midi())
                    continue
                pm = score_to_pretty_midi(score)
            else:
                pm = self.generate(16 if bars is None else bars, seed + i, temperature, primer, top_p, key, tempo,
                                   programs, time_signature, pulls)
            if path.suffix.lower() == ".wav":
                from .render import SAMPLE_RATE, fluidsynth_available, render_midi

                write_wav(path, render_midi(pm, SAMPLE_RATE, synth=synth), SAMPLE_RATE)
                synth = "fluidsynth" if fluidsynth_available() else "numpy"
            else:
                write_pretty_midi(path, pm)


class AudioModel:
    """A trained model of spectrogram frames, with what it needs to speak audio: the
    corpus's spectrogram settings and normalization (``info["stats"]``)."""

    def __init__(self, model, config: RunConfig, info: dict):
        self.model, self.config, self.info = model.eval(), config, info
        self.stats = info["stats"]

    @property
    def sr(self) -> int:
        return int(self.stats["sr"])

    def generate_frames(self, seconds: float = 4.0, seed: int = 0, temperature: float | None = None,
                        top_p: float = 1.0) -> torch.Tensor:
        """Sample the model's frames ``(n_frames, F)`` for ``seconds`` of audio (as many as
        an STFT of that many samples has)."""
        if not seconds > 0:
            raise MuseganError(f"seconds={seconds}: expected more than 0")
        temperature = 1.0 if temperature is None else temperature
        check_sampling(temperature, top_p)
        n_frames = 1 + -(-int(round(seconds * self.sr)) // self.stats["hop_length"])
        device = next(self.model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(int(seed))
        with one_thread(device):
            return self.draw(n_frames, seconds, seed, temperature, gen, top_p)

    def draw(self, n_frames: int, seconds: float, seed: int, temperature: float, generator, top_p: float,
             primer: torch.Tensor | None = None, forbid=None) -> torch.Tensor:
        """The sampler of :meth:`generate_frames`: ``n_frames`` frames ``(n_frames, F)``
        (after ``primer`` ``(T_p, F)``, kept: ``(T_p + n_frames, F)``) for ``seconds`` of
        audio from ``seed``, drawn with ``generator`` and ``forbid`` (default
        :meth:`forbid`; token runs check each second for copies)."""
        forbid = self.forbid() if forbid is None else forbid
        return self.model.generate(1, n_frames, primer, temperature=temperature, generator=generator, top_p=top_p,
                                   **({} if forbid is None else {"forbid": forbid}))[0]

    def forbid(self):
        """What the sampler of :meth:`generate_frames` may not draw next (``forbid`` of
        ``FrameModel.complete``); None: anything (token runs forbid copies)."""
        return None

    def generate_spectrogram(self, seconds: float = 4.0, seed: int = 0, temperature: float | None = None,
                             top_p: float = 1.0) -> torch.Tensor:
        """Sample ``seconds`` of normalized log-spectrogram: ``(channels, n_bins, n_frames)``
        (``top_p`` < 1: a Gaussian head's noise clipped to its central ``top_p``)."""
        frames = self.generate_frames(seconds, seed, temperature, top_p)  # (T, C * bins)
        return frames.reshape(len(frames), self.stats["channels"], self.stats["n_bins"]).permute(1, 2, 0)

    def generate(self, seconds: float = 4.0, seed: int = 0, temperature: float | None = None, n_iter: int = 8,
                 top_p: float = 1.0):
        """Sample audio; returns ``(y, sr)``: ``y`` float32 ``(n,)`` (mono) or
        ``(channels, n)``, at ``sr`` = 44100 by default. The spectrogram is decoded by
        fast Griffin-Lim started from PGHI with ``n_iter`` iterations (after a
        least-squares mel inverse): 8 reach the quality of 32 from a random start (Sonic
        Pi's samples: spectral convergence 0.287 against 0.305) at 3-4x the speed of
        ``librosa.griffinlim`` (benchmarks/audio/phase.py)."""
        S = self.generate_spectrogram(seconds, seed, temperature, top_p)
        y = spectrogram_to_audio(S, self.stats, n_iter, seed, length=int(round(seconds * self.sr))).numpy()
        return (y[0] if y.shape[0] == 1 else y), self.sr

    def write_files(self, paths: list, seed: int = 0, temperature: float | None = None, bars: int | None = None,
                    seconds: float | None = None, primer=None, run="", top_p: float = 1.0, **controls) -> None:
        """WAV file ``i`` of ``paths`` from seed ``seed + i``, ``seconds`` long (default 4)."""
        given = [k for k, v in controls.items() if v]
        if given:
            raise MuseganError(f"{run} is an audio model: {', '.join(given)} work on symbolic (MIDI) models only")
        if any(p.suffix.lower() != ".wav" for p in paths):
            raise MuseganError(f"--out {paths[0]}: {run} is an audio model; expected a .wav file")
        if bars is not None or primer is not None:
            raise MuseganError(f"{run} is an audio model: give its length with --seconds (no --bars, no --primer)")
        for i, path in enumerate(paths):
            write_wav(path, *self.generate(4.0 if seconds is None else seconds, seed + i, temperature, top_p=top_p))


def spectrogram_to_audio(S: torch.Tensor, stats: dict, n_iter: int = 8, seed: int = 0,
                         length: int | None = None) -> torch.Tensor:
    """Normalized log-spectrogram ``(..., n_bins, frames)`` -> waveform ``(..., length)``
    (default ``(frames - 1) * hop_length``), peak-limited to 0.99."""
    mag = from_spectrogram(S, stats)
    if stats["kind"] == "mel":
        mag = mel_to_linear(mag, stats["sr"], stats["n_fft"])
    y = griffin_lim(mag, n_iter, n_fft=stats["n_fft"], hop_length=stats["hop_length"], length=length, seed=seed)
    peak = float(y.abs().max()) if y.numel() else 0.0
    return y * (0.99 / peak) if peak > 0.99 else y


def make_player(model, config: RunConfig, info: dict) -> MusicModel | AudioModel:
    """The model with its decoder (its data kind's player): :class:`AudioModel` for audio
    runs, :class:`MusicModel` for symbolic ones."""
    from .kinds import get_kind

    return get_kind(config.data.kind).player(model, config, info)


def load(run, device: str = "cpu") -> MusicModel | AudioModel:
    """Load a trained model from a run folder or a checkpoint file: a :class:`MusicModel`
    (``generate(bars=...)`` gives MIDI) or, for audio runs, an :class:`AudioModel`
    (``generate(seconds=...)`` gives ``(y, sr)``)."""
    path = find_checkpoint(run)
    ckpt = load_checkpoint(path)
    config = RunConfig.from_dict(ckpt["config"])
    model = build_model(config.model, config.model_config)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise MuseganError(f"{path}: weights do not fit the model in its config ({str(e).splitlines()[0]})") from None
    return make_player(model.to(resolve_device(device)), config, ckpt["info"])


def generate_files(run, out, num: int = 1, bars: int | None = None, seed: int = 0, temperature: float | None = None,
                   primer=None, device: str = "cpu", seconds: float | None = None, top_p: float = 1.0,
                   max_copy_seconds: float | None = None, **controls) -> list[Path]:
    """Write ``num`` MIDI files (or WAV files, rendered at 44.1 kHz, when ``out`` ends in
    .wav) of ``bars`` bars (default 16); from an audio run, WAV files of ``seconds``
    seconds (default 4). File ``i`` uses seed ``seed + i`` (``out`` itself when ``num``
    is 1, else ``out`` with ``-i`` before the suffix). ``max_copy_seconds``: an audio-token
    run's copy guard (see :func:`guard_copies`). ``controls``: infill, harmonize and
    steering (see ``MusicModel.write_files``)."""
    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi", ".wav"):
        raise MuseganError(f"--out {out}: expected a .mid or .wav file")
    if num < 1:
        raise MuseganError(f"--num {num}: expected at least 1")
    model = load(run, device)
    guard_copies(model, max_copy_seconds, run)
    paths = [out] if num == 1 else [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(num)]
    model.write_files(paths, seed, temperature, bars=bars, seconds=seconds, primer=primer, run=run, top_p=top_p,
                      **controls)
    return paths


def guard_copies(model, max_copy_seconds: float | None, run="") -> None:
    """Set the copy guard of an audio-token run (``TokenAudioModel.max_copy_seconds``: no
    stretch that long of its training tokens is drawn; 0: none); None keeps its default."""
    if max_copy_seconds is None:
        return
    from .data.tokens import TokenAudioModel

    if not isinstance(model, TokenAudioModel):
        raise MuseganError(f"--max-copy-seconds: {run} is not an audio-token run (data.kind=tokens)")
    model.max_copy_seconds = max_copy_seconds


def _join_primer(primer_notes: np.ndarray, notes: np.ndarray, length: int) -> np.ndarray:
    """The primer's own notes (velocities kept), then the generated notes from its end;
    a generated note that holds a primer note over the join lengthens it. On tracks the
    primer leaves silent, the generated notes within it are kept too (accompaniment: a
    model that fills them, the GAN; a sequence model leaves them silent)."""
    primer_notes = np.array(primer_notes, copy=True)
    held = notes[(notes[:, START] < length) & (notes[:, END] > length)]
    ends = {(int(k), int(p)): int(e) for k, p, _, e, _ in held}
    for row in primer_notes:
        key = (int(row[TRACK]), int(row[PITCH]))
        if row[END] == length and key in ends:
            row[END] = ends[key]
    silent = ~np.isin(notes[:, TRACK], primer_notes[:, TRACK])
    return np.concatenate([primer_notes, notes[(notes[:, START] >= length) | silent]])
