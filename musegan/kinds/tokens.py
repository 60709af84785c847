"""Audio tokens: audio (WAV, FLAC, OGG) as sequences of codeword ids, one per log-mel
frame, from a k-means codebook of the corpus's own frames; modelled by the sequence
families (LSTM, conv) with a categorical head and decoded by overlap-add of the
corpus's grains or by Griffin-Lim (see ``data/tokens.py``, ``representations/tokens.py``).

Chosen with ``musegan train --corpus WAV_DIR --set data.kind=tokens``: it reads the
audio kind's prepared corpus (the same files and cache), so the log-mel settings
(``data.n_mels``, ``data.hop_length``, ...) are the audio kind's; ``data.codebook_size``
and ``data.token_decoder`` are its own.
"""
from __future__ import annotations

from ..errors import MuseganError
from .spectrogram import Spectrogram


class Tokens(Spectrogram):
    name = "tokens"
    reads = "audio"  # prepared as an audio corpus: its log-mel frames are what k-means reads
    heads = ("categorical",)
    default_head = "categorical"
    families = {}
    sample_example = "sound.wav --seconds 4"

    def encode(self, paths, config):
        from . import get_kind

        return get_kind(self.reads).encode(paths, config)

    def info(self, corpus, config) -> dict:
        from ..data.tokens import check_decoder, copy_reference, learn_tokens

        check_decoder(config.data.token_decoder)
        info = super().info(corpus, config)
        train_songs, _ = corpus.split(config.data.valid_percent)
        tokens = learn_tokens(corpus, train_songs, info["stats"], config.data.codebook_size, config.train.seed)
        return {**info, "kind": "tokens", **tokens, **copy_reference(corpus, info["stats"]["sr"])}

    def datasets(self, corpus, config, info, train_songs, valid_songs):
        from ..data.tokens import TokenDataset

        stats, window, seed, codebook = info["stats"], config.data.window_frames, config.train.seed, info["codebook"]
        train = TokenDataset(corpus, train_songs, window, max(1, window // 2), stats, codebook, jitter=True, seed=seed,
                             ids=info["train_ids"].long())
        return (train, TokenDataset(corpus, valid_songs, window, window, stats, codebook),
                TokenDataset(corpus, train_songs, window, window, stats, codebook, ids=train.ids))

    def model_settings(self, config, info) -> dict:
        return {"n_features": len(info["codebook"]), "steps_per_bar": 0, "n_frames": config.data.window_frames}

    def baseline(self, train_frames, valid_frames):
        from ..data.tokens import unigram_baseline

        return unigram_baseline(train_frames, valid_frames), "token frequencies"

    def check_head(self, head):
        if head is None:  # the GAN and coconet families have no frame head
            raise MuseganError("data.kind=tokens: only the lstm and conv families model token sequences")
        super().check_head(head)

    def player(self, model, config, info):
        from ..data.tokens import TokenAudioModel

        return TokenAudioModel(model, config, info)
