"""MIDI -> 44.1 kHz audio: the numpy synthesizer, FluidSynth when installed, the CLI."""
import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from musegan.cli import main
from musegan.errors import MuseganError
from musegan.render import fluidsynth_available, render_midi, synthesize

SR = 44100


def song(drum_pitches=(), pitched=((0, 60),), start=0.0, dur=0.5):
    pm = pretty_midi.PrettyMIDI()
    for program, pitch in pitched:
        inst = pretty_midi.Instrument(program)
        inst.notes.append(pretty_midi.Note(100, pitch, start, start + dur))
        pm.instruments.append(inst)
    if drum_pitches:
        drums = pretty_midi.Instrument(0, is_drum=True)
        for k, p in enumerate(drum_pitches):
            drums.notes.append(pretty_midi.Note(100, p, start + 0.25 * k, start + 0.25 * k + 0.1))
        pm.instruments.append(drums)
    return pm


def flatness(y):
    """Spectral flatness of the first 0.1 s: near 1 for noise, near 0 for tones."""
    power = np.abs(np.fft.rfft(y[: SR // 10] * np.hanning(SR // 10))) ** 2 + 1e-12
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


def centroid(y):
    mag = np.abs(np.fft.rfft(y[: SR // 10]))
    return float((np.fft.rfftfreq(SR // 10, 1 / SR) * mag).sum() / mag.sum())


def test_numpy_synth_length_and_loudness(capsys):
    pm = song(pitched=((0, 60), (33, 40)), start=0.5, dur=1.0)
    y = render_midi(pm, SR, synth="numpy")
    assert y.dtype == np.float32 and y.shape == (int(np.ceil((1.5 + 1.0) * SR)),)
    assert np.abs(y).max() == pytest.approx(0.9, abs=1e-6)
    assert np.abs(y[: SR // 2 - 10]).max() == 0  # silent before the first note
    assert np.sqrt(np.mean(y[SR // 2: SR] ** 2)) > 0.05
    spectrum = np.abs(np.fft.rfft(synthesize(song(pitched=((0, 69),)), SR)))
    assert abs(np.argmax(spectrum) * SR / (2 * (len(spectrum) - 1)) - 440) < 3  # A4 sounds as A4


def test_drums_sound_as_drums_and_differ_by_pitch():
    piano = synthesize(song(pitched=((0, 60),)), SR)
    kick, snare, hat = (synthesize(song(drum_pitches=(p,), pitched=()), SR) for p in (36, 38, 42))
    assert min(flatness(snare), flatness(hat)) > 10 * flatness(piano)  # noise, not a tone
    assert centroid(kick) < centroid(snare) < centroid(hat)  # different drums, different colour
    assert len(synthesize(pretty_midi.PrettyMIDI(), SR)) == SR  # nothing: one second of silence


def test_programs_sound_different():
    piano, organ = (synthesize(song(pitched=((p, 60),), dur=1.0), SR) for p in (0, 16))
    late = slice(int(0.8 * SR), int(0.9 * SR))
    assert np.abs(organ[late]).max() > 3 * np.abs(piano[late]).max()  # organ sustains, piano decays


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth (pyfluidsynth + libfluidsynth) not installed")
def test_fluidsynth_renders_with_the_general_midi_soundfont():
    y = render_midi(song(drum_pitches=(36, 38), pitched=((0, 60),)), SR, synth="fluidsynth")
    assert y.dtype == np.float32 and len(y) >= int(1.5 * SR) and np.abs(y).max() == pytest.approx(0.9, abs=1e-6)


def test_render_cli(tmp_path, capsys, monkeypatch):
    song(drum_pitches=(36, 42), pitched=((0, 60), (24, 64))).write(str(tmp_path / "in.mid"))
    out = tmp_path / "out.wav"
    assert main(["render", str(tmp_path / "in.mid"), "--out", str(out), "--synth", "numpy"]) == 0
    y, sr = sf.read(out)
    assert sr == SR and y.ndim == 1 and np.abs(y).max() > 0.5
    assert main(["render", str(tmp_path / "in.mid"), "--out", str(tmp_path / "cut.wav"), "--synth", "numpy",
                 "--seconds", "0.25"]) == 0
    cut, _ = sf.read(tmp_path / "cut.wav")
    assert len(cut) == round(0.25 * SR) < len(y)
    monkeypatch.setattr("musegan.render.fluidsynth_available", lambda: False)
    assert main(["render", str(tmp_path / "in.mid"), "--out", str(tmp_path / "b.wav")]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: FluidSynth is not installed" in err
    (tmp_path / "bad.mid").write_bytes(b"RIFF....")
    assert main(["render", str(tmp_path / "bad.mid"), "--out", str(out)]) == 2
    assert main(["render", str(tmp_path / "in.mid"), "--out", str(tmp_path / "x.mp3")]) == 2
    assert main(["render", str(tmp_path / "in.mid"), "--out", str(out), "--soundfont", "nope.sf2"]) == 2
    err = capsys.readouterr().err
    assert "not a MIDI file" in err and "expected a .wav (audio)" in err and "no such soundfont" in err
    with pytest.raises(MuseganError):
        render_midi(pretty_midi.PrettyMIDI(), SR, synth="other")


def test_generate_renders_wav_from_a_symbolic_run(data_dir, tmp_path, capsys, monkeypatch):
    import musegan
    from conftest import link_files

    files = sorted((data_dir / "midi" / "nottingham" / "MIDI").glob("*.mid"))[:8]
    corpus = link_files(files, tmp_path / "midi")
    sets = ["model.hidden_size=16", "model.num_layers=1", "train.batch_size=4", "train.valid_batches=1",
            "train.samples=0", "train.workers=1", "data.window_bars=1", "train.checkpoint_every=2", "train.valid_every=2"]
    config = musegan.make_config("lstm", corpus="x", overrides=sets, steps=2)
    musegan.train(corpus, tmp_path / "run", config, progress=False, log=lambda *_: None)
    monkeypatch.setattr("musegan.render.fluidsynth_available", lambda: False)
    out = tmp_path / "song.wav"
    assert main(["generate", str(tmp_path / "run"), "--out", str(out), "--bars", "2", "--seed", "0"]) == 0
    assert "FluidSynth is not installed" in capsys.readouterr().err
    y, sr = sf.read(out)
    pm = musegan.load(tmp_path / "run").generate(bars=2, seed=0)
    assert sr == SR and len(y) == int(np.ceil((pm.get_end_time() + 1.0) * SR))
    assert main(["generate", str(tmp_path / "run"), "--out", str(out), "--bars", "1", "--num", "2"]) == 0
    assert capsys.readouterr().err.count("FluidSynth is not installed") == 1  # once, not per file
    assert sf.info(tmp_path / "song-1.wav").samplerate == SR
    assert main(["generate", str(tmp_path / "run"), "--out", str(tmp_path / "x.mp3")]) == 2
