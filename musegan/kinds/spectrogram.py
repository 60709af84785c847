"""Spectrograms: audio (WAV, FLAC, OGG) as frames of normalized log-mel (or log-STFT)
magnitudes (see ``data/audio.py`` and ``representations/spectrogram.py``)."""
from __future__ import annotations

from ..io.audio import AUDIO_SUFFIXES
from .base import DataKind, encode_each


class Spectrogram(DataKind):
    name = "audio"
    suffixes = AUDIO_SUFFIXES
    encoding_keys = ("sample_rate", "channels", "spectrogram", "n_fft", "hop_length", "n_mels")
    heads = ("gaussian",)
    default_head = "gaussian"
    families = {"gan": "specgan"}  # the GAN family on spectrograms is the SpecGAN
    sample_example = "sound.wav --seconds 4"

    def encode(self, paths, config):
        from ..data.audio import encode_audio_file

        return encode_each(paths, config, encode_audio_file)

    def info(self, corpus, config) -> dict:
        from ..data.audio import corpus_stats, spectrogram_settings

        stats = corpus_stats(corpus.entries, spectrogram_settings(config.data))
        seconds = sum(e["seconds"] for e in corpus.entries)
        return {"kind": "audio", "stats": stats, "corpus_files": len(corpus), "corpus_seconds": round(seconds, 2)}

    def datasets(self, corpus, config, info, train_songs, valid_songs):
        from ..data.audio import SpectrogramDataset

        stats, window, seed = info["stats"], config.data.window_frames, config.train.seed
        return (SpectrogramDataset(corpus, train_songs, window, max(1, window // 2), stats, jitter=True, seed=seed),
                SpectrogramDataset(corpus, valid_songs, window, window, stats),
                SpectrogramDataset(corpus, train_songs, window, window, stats))

    def model_settings(self, config, info) -> dict:
        stats = info["stats"]
        return {"n_features": stats["channels"] * stats["n_bins"], "steps_per_bar": 0, "n_bins": stats["n_bins"],
                "n_channels": stats["channels"], "n_frames": config.data.window_frames}

    def baseline(self, train_frames, valid_frames):
        from ..metrics import gaussian_baseline_nll

        return gaussian_baseline_nll(train_frames, valid_frames), "Gaussians (mean, std)"

    def player(self, model, config, info):
        from ..generation import AudioModel

        return AudioModel(model, config, info)

    def write_samples(self, player, folder, step, train):
        from ..io.audio import write_wav

        for i in range(train.samples):
            write_wav(folder / f"step{step:06d}-{i}.wav", *player.generate(seconds=train.sample_seconds, seed=i))
