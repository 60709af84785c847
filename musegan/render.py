"""MIDI -> audio at 44.1 kHz.

Through FluidSynth (``pretty_midi``'s ``fluidsynth``, which needs the ``pyfluidsynth``
package and the libfluidsynth library) with a General MIDI soundfont (by default
TimGM6mb.sf2, which ships inside pretty_midi); without FluidSynth, a small numpy
synthesizer with a warning: additive harmonic voices shaped per General MIDI program
family, and decaying noise bursts for drums (channel 10) whose colour and length depend
on the drum (kick, snare, hats, cymbals, toms).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import MuseganError, warn

SAMPLE_RATE = 44100
TAIL_SECONDS = 1.0  # after the last note ends, as pretty_midi's FluidSynth rendering


def fluidsynth_available() -> bool:
    import contextlib
    import io

    try:
        # pyfluidsynth prints where it found the library to stdout when $CI is set: it
        # must not reach a command's output (musegan studio's first line is its address)
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth  # noqa: F401  (pyfluidsynth; raises ImportError without libfluidsynth)
    except (ImportError, OSError):
        return False
    return True


def render_midi(pm, sr: int = SAMPLE_RATE, soundfont=None, synth: str = "auto") -> np.ndarray:
    """A ``pretty_midi.PrettyMIDI`` -> mono float32 audio ``(n,)`` at ``sr``, peak 0.9
    (silence stays silent). ``synth``: ``"auto"`` (FluidSynth when installed, else the
    numpy synthesizer with a warning), ``"fluidsynth"`` or ``"numpy"``."""
    if synth not in ("auto", "fluidsynth", "numpy"):
        raise MuseganError(f"synth={synth!r}: expected auto, fluidsynth or numpy")
    if soundfont is not None and not Path(soundfont).is_file():
        raise MuseganError(f"{soundfont}: no such soundfont file")
    if synth == "auto":
        synth = "fluidsynth" if fluidsynth_available() else "numpy"
        if synth == "numpy":
            warn("FluidSynth is not installed (pip install pyfluidsynth, and libfluidsynth); "
                 "rendering with the basic built-in synthesizer")
    if synth == "fluidsynth":
        if not fluidsynth_available():
            raise MuseganError("FluidSynth is not installed (pip install pyfluidsynth, and libfluidsynth)")
        y = pm.fluidsynth(fs=int(sr), sf2_path=None if soundfont is None else str(soundfont))
    else:
        if soundfont is not None:
            warn("the built-in synthesizer does not use a soundfont; --soundfont ignored")
        y = synthesize(pm, sr)
    return _normalize(np.asarray(y, dtype=np.float32))


def render_file(midi_path, out, soundfont=None, synth: str = "auto", sr: int = SAMPLE_RATE,
                seconds: float | None = None) -> Path:
    """Render a MIDI file (its first ``seconds``, when given) to a WAV file (16-bit,
    ``sr``), or to a piano-roll picture (.png); an audio file (WAV, FLAC, OGG) to a
    spectrogram picture (.png); returns the path."""
    from .io.audio import AUDIO_SUFFIXES, write_wav
    from .io.midi import UnreadableFile, read_pretty_midi

    out = Path(out)
    if Path(midi_path).suffix.lower() in AUDIO_SUFFIXES:
        if out.suffix.lower() != ".png":
            raise MuseganError(f"--out {out}: {midi_path} is audio; expected a .png (spectrogram picture) file")
        return render_spectrogram(midi_path, out, seconds)
    if out.suffix.lower() == ".png":
        return render_picture(midi_path, out)
    if out.suffix.lower() != ".wav":
        raise MuseganError(f"--out {out}: expected a .wav (audio) or .png (piano-roll picture) file")
    try:
        pm = read_pretty_midi(midi_path)
    except UnreadableFile as e:
        raise MuseganError(f"{midi_path}: {e}") from None
    y = render_midi(pm, sr, soundfont, synth)
    return write_wav(out, y if seconds is None else y[..., :int(round(seconds * sr))], sr)


def render_picture(midi_path, out, resolution: int = 4) -> Path:
    """A piano-roll picture of a MIDI file (``resolution`` steps per quarter) as PNG."""
    from .io.files import write_png
    from .io.midi import UnreadableFile, read_song
    from .picture import pianoroll_picture

    try:
        song = read_song(midi_path, resolution)
    except UnreadableFile as e:
        raise MuseganError(f"{midi_path}: {e}") from None
    return write_png(out, pianoroll_picture(song))


def render_spectrogram(audio_path, out, seconds: float | None = None) -> Path:
    """A log-mel spectrogram picture of an audio file (its first ``seconds``, when given)
    as PNG (``picture.spectrogram_picture``)."""
    from .io.audio import read_audio
    from .io.files import write_png
    from .io.midi import UnreadableFile
    from .picture import spectrogram_picture

    try:
        y, sr = read_audio(audio_path, SAMPLE_RATE)
    except UnreadableFile as e:
        raise MuseganError(f"{audio_path}: {e}") from None
    return write_png(out, spectrogram_picture(y if seconds is None else y[..., :int(round(seconds * sr))], sr))


def _normalize(y: np.ndarray, peak: float = 0.9) -> np.ndarray:
    top = float(np.abs(y).max()) if y.size else 0.0
    return (y * (peak / top)).astype(np.float32) if top > 0 else y


# ------------------------------------------------------------------ the numpy synthesizer

# per program family (program // 8): harmonic amplitudes, decay (1/s; 0 sustains), attack (s)
_FAMILIES = {
    0: ([1, .5, .3, .2, .1, .05], 3.0, .005),       # piano
    1: ([1, .3, .6, .1, .3], 6.0, .002),             # chromatic percussion
    2: ([1, .8, .6, .5, .4, .3], 0.0, .02),          # organ
    3: ([1, .6, .4, .3, .2, .1, .05], 4.5, .003),   # guitar
    4: ([1, .4, .1], 2.0, .01),                       # bass
    5: ([1, .5, .33, .25, .2, .17, .14], 0.0, .08),  # strings (saw-like, slow attack)
    6: ([1, .5, .33, .25, .2, .17], 0.0, .08),       # ensemble
    7: ([1, .7, .5, .4, .3, .2], 0.0, .03),          # brass
    8: ([1, 0, .33, 0, .2, 0, .14], 0.0, .03),       # reed (odd harmonics)
    9: ([1, .1, .05], 0.0, .04),                      # pipe (near sine)
    10: ([1, .5, .33, .25, .2, .17, .14, .12], 0.0, .01),  # synth lead
    11: ([1, .3, .2, .1], 0.0, .2),                   # synth pad
}


def synthesize(pm, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The numpy fallback: ``pretty_midi.PrettyMIDI`` -> float32 ``(n,)`` at ``sr``,
    ``n = ceil((end_time + 1 s) * sr)``; not normalized."""
    n = int(np.ceil((pm.get_end_time() + TAIL_SECONDS) * sr))
    out = np.zeros(n, np.float64)
    rng = np.random.default_rng(0)
    for inst in pm.instruments:
        for note in inst.notes:
            start = int(round(note.start * sr))
            if start >= n:
                continue
            dur = max(note.end - note.start, 0.0)
            voice = _drum(note.pitch, sr, rng) if inst.is_drum else _pitched(inst.program, note.pitch, dur, sr)
            voice = voice[: n - start] * (note.velocity / 127.0)
            out[start:start + len(voice)] += voice
    return out.astype(np.float32)


def _pitched(program: int, pitch: int, dur: float, sr: int) -> np.ndarray:
    harmonics, decay, attack = _FAMILIES.get(int(program) // 8, _FAMILIES[0])
    release = 0.15
    t = np.arange(int((dur + release) * sr)) / sr
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    wave = np.zeros_like(t)
    for k, a in enumerate(harmonics, start=1):
        if a and k * f0 < sr / 2:
            wave += a * np.sin(2 * np.pi * k * f0 * t) * (np.exp(-decay * k * 0.5 * t) if decay else 1.0)
    env = np.minimum(t / attack, 1.0) * (np.exp(-decay * t) if decay else 1.0)
    env *= np.clip((dur + release - t) / release, 0.0, 1.0)  # release after note off
    return wave * env / sum(harmonics)


def _drum(pitch: int, sr: int, rng) -> np.ndarray:
    """A General MIDI drum: filtered noise plus, for kicks and toms, a falling tone."""
    p = int(pitch)
    if p in (35, 36):  # kick
        return _burst(sr, rng, .35, 30.0, 150, tone=(110.0, 45.0), noise=.15)
    if p in (38, 40):  # snare
        return _burst(sr, rng, .2, 22.0, 2500, tone=(190.0, 180.0), noise=.8)
    if p in (37, 39):  # side stick, clap
        return _burst(sr, rng, .12, 40.0, 1800, noise=1.0)
    if p in (42, 44):  # closed / pedal hi-hat
        return _burst(sr, rng, .08, 60.0, 8000, noise=1.0, highpass=True)
    if p == 46:  # open hi-hat
        return _burst(sr, rng, .4, 9.0, 8000, noise=1.0, highpass=True)
    if p in (49, 51, 52, 55, 57, 59):  # cymbals
        return _burst(sr, rng, 1.2, 3.0, 6000, noise=1.0, highpass=True)
    if p in (41, 43, 45, 47, 48, 50):  # toms, low to high
        f = 80.0 * 2.0 ** ((p - 41) / 9.0)
        return _burst(sr, rng, .3, 14.0, 400, tone=(f, f * .6), noise=.3)
    return _burst(sr, rng, .15, 25.0, 200 + 60 * (p % 40), noise=1.0)  # other percussion


def _burst(sr, rng, seconds, decay, cutoff, tone=None, noise=1.0, highpass=False):
    t = np.arange(int(seconds * sr)) / sr
    white = rng.standard_normal(len(t))
    a = np.exp(-2 * np.pi * cutoff / sr)  # one-pole low-pass; high-pass = white - low-pass
    low = _one_pole(white, a)
    y = noise * (white - low if highpass else low * (1 + cutoff / 2000.0))
    if tone is not None:
        f_start, f_end = tone
        freq = f_end + (f_start - f_end) * np.exp(-t * 30.0)
        y = y + np.sin(2 * np.pi * np.cumsum(freq) / sr)
    return y * np.exp(-decay * t)


def _one_pole(x: np.ndarray, a: float) -> np.ndarray:
    from scipy.signal import lfilter

    return lfilter([1 - a], [1, -a], x)
