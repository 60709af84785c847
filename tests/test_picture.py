"""Piano-roll pictures: notes where they belong, in their track's colour, as a PNG that
decodes back to the same pixels."""
import struct
import zlib

import numpy as np
import pretty_midi

from musegan.cli import main
from musegan.io.files import write_png
from musegan.picture import PALETTE, pianoroll_picture
from musegan.representations.pianoroll import Song, Track


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h = size
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()  # filter type 0 on every row
    return rows[:, 1:].reshape(h, w, 3)


def test_notes_are_drawn_in_their_tracks_colour_and_the_png_decodes_back(tmp_path):
    song = Song(np.array([[0, 60, 0, 4, 80], [1, 64, 4, 8, 80]]), [Track("a"), Track("b")], 4, n_steps=16)
    img = pianoroll_picture(song, step_px=2, pitch_px=3)
    high = 64 + 2
    y0, y1 = (high - 60) * 3, (high - 64) * 3
    assert img.shape == ((66 - 58 + 1) * 3, 32, 3)
    assert (img[y0, 2:8] == PALETTE[0]).all() and (img[y0, 0] == PALETTE[0] // 2).all()  # darker first column
    assert (img[y1, 10:16] == PALETTE[1]).all()
    assert (img[y0, 8:16] != PALETTE[0]).any(-1).all()  # nothing after the note's end
    write_png(tmp_path / "x.png", img)
    assert np.array_equal(decode_png((tmp_path / "x.png").read_bytes()), img)


def test_render_writes_a_picture_of_a_midi_file(tmp_path, capsys):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(0)
    inst.notes = [pretty_midi.Note(80, 60 + i, i * 0.5, i * 0.5 + 0.5) for i in range(8)]
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "a.mid"))
    assert main(["render", str(tmp_path / "a.mid"), "--out", str(tmp_path / "a.png")]) == 0
    img = decode_png((tmp_path / "a.png").read_bytes())
    assert img.shape[0] == (67 + 2 - (60 - 2) + 1) * 3 and (img == PALETTE[0]).all(-1).any()
    assert main(["render", str(tmp_path / "a.mid"), "--out", str(tmp_path / "a.jpg")]) == 2
    assert ".png (piano-roll picture)" in capsys.readouterr().err


def test_render_draws_a_spectrogram_of_a_wav_with_its_tone_at_the_labelled_frequency(tmp_path):
    import soundfile as sf

    sr = 44100
    t = np.arange(sr) / sr
    y = np.concatenate([0.5 * np.sin(2 * np.pi * 1000 * t), np.zeros(sr)]).astype(np.float32)  # 1 s tone, 1 s silence
    sf.write(tmp_path / "tone.wav", y, sr)
    assert main(["render", str(tmp_path / "tone.wav"), "--out", str(tmp_path / "tone.png")]) == 0
    img = decode_png((tmp_path / "tone.png").read_bytes()).astype(int)
    ticks = 6 + np.flatnonzero((img[6:-18, 41] == 40).all(-1))  # the frequency ticks left of the body, top down:
    assert len(ticks) == 6  # 10 kHz, 5 kHz, 2 kHz, 1 kHz, 500 Hz, 100 Hz
    left, body = 44, img[6:-18, 44:-10]
    brightness = body.sum(-1)
    tone_cols = slice(20, 140)  # frames 10-70 (two pixels a frame): inside the tone
    assert abs(6 + int(np.argmax(brightness[:, tone_cols].mean(1))) - ticks[3]) <= 3
    assert brightness[:, 200:330].max() < 60  # the silent second is dark
    assert main(["render", str(tmp_path / "tone.wav"), "--out", str(tmp_path / "tone.mid")]) == 2
