"""Audio files: odd files generated with soundfile are read correctly or refused with a reason."""
import numpy as np
import pytest
import soundfile as sf

from musegan.io.audio import read_audio, write_wav
from musegan.io.midi import UnreadableFile

SR = 44100


def tone(seconds=0.5, sr=SR, freq=440.0, channels=1, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return np.stack([amp * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize("subtype,tol", [("PCM_U8", 1e-2), ("PCM_16", 1e-4), ("PCM_24", 1e-6), ("FLOAT", 0)])
def test_bit_depths_read_as_float(tmp_path, subtype, tol):
    y = tone()
    sf.write(tmp_path / "a.wav", y, SR, subtype=subtype)
    out, sr = read_audio(tmp_path / "a.wav")
    assert sr == SR and out.dtype == np.float32 and out.shape == (1, len(y))
    assert np.abs(out[0] - y[:, 0]).max() <= tol + 1e-7


def test_six_channels_mixed_down_or_kept(tmp_path):
    y = tone(0.2, channels=6)
    sf.write(tmp_path / "six.wav", y, SR, subtype="PCM_24")
    mono, _ = read_audio(tmp_path / "six.wav")
    assert mono.shape == (1, len(y))
    np.testing.assert_allclose(mono[0], y.mean(axis=1), atol=1e-5)
    kept, _ = read_audio(tmp_path / "six.wav", mono=False)
    assert kept.shape == (6, len(y))
    np.testing.assert_allclose(kept, y.T, atol=1e-5)
    two, _ = read_audio(tmp_path / "six.wav", mono=False, max_channels=2)
    assert two.shape == (2, len(y))


def test_96k_resampled_to_44k_keeping_the_pitch(tmp_path):
    sf.write(tmp_path / "hi.wav", tone(1.0, sr=96000, freq=1000.0), 96000, subtype="PCM_24")
    y, sr = read_audio(tmp_path / "hi.wav")
    assert sr == SR and abs(y.shape[1] - SR) <= 2
    spectrum = np.abs(np.fft.rfft(y[0]))
    assert abs(np.argmax(spectrum) * SR / y.shape[1] - 1000.0) < 2.0
    native, sr = read_audio(tmp_path / "hi.wav", sr=None)
    assert sr == 96000 and native.shape == (1, 96000)


def test_flac_and_ogg(tmp_path):
    y = tone(0.3, channels=2)
    sf.write(tmp_path / "a.flac", y, SR)
    sf.write(tmp_path / "a.ogg", y, SR)
    flac, _ = read_audio(tmp_path / "a.flac", mono=False)
    np.testing.assert_allclose(flac, y.T, atol=1e-4)
    ogg, _ = read_audio(tmp_path / "a.ogg", mono=False)
    assert ogg.shape[0] == 2 and abs(ogg.shape[1] - len(y)) < 2048 and np.abs(ogg).max() > 0.3


def test_odd_files_refused_with_a_reason(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(tmp_path / "nosamples.wav", np.zeros((0, 1), np.float32), SR)
    bad = tone(0.1)
    bad[100:200] = np.nan
    sf.write(tmp_path / "nan.wav", bad, SR, subtype="FLOAT")
    sf.write(tmp_path / "full.wav", tone(0.2), SR, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 10)
    expected = {"empty.wav": "empty", "nosamples.wav": "no audio", "nan.wav": "NaN", "cut.wav": "truncated",
                "junk.wav": "not readable", "missing.wav": "no such file"}
    for name, reason in expected.items():
        with pytest.raises(UnreadableFile, match=reason):
            read_audio(tmp_path / name)
    assert read_audio(tmp_path / "full.wav")[0].shape == (1, int(0.2 * SR))


def test_write_wav_round_trip_and_clipping(tmp_path):
    y = np.stack([tone(0.2)[:, 0], -tone(0.2)[:, 0] * 3])  # second channel clips
    path = write_wav(tmp_path / "sub" / "out.wav", y, SR)
    info = sf.info(path)
    assert info.samplerate == SR and info.channels == 2 and info.subtype == "PCM_16"
    back, _ = read_audio(path, mono=False)
    np.testing.assert_allclose(back[0], y[0], atol=1e-4)
    assert np.abs(back[1]).max() <= 1.0 and np.abs(back[1]).max() > 0.99
    assert not list(path.parent.glob(".*.tmp"))
