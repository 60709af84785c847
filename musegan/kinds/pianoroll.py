"""Piano-rolls: symbolic music (MIDI, MusicXML, ABC, Humdrum) as frames of note and
onset bits per track and pitch (see ``representations/pianoroll.py``)."""
from __future__ import annotations

from ..io.midi import MUSIC_SUFFIXES
from .base import DataKind, encode_each


class PianoRoll(DataKind):
    name = "midi"
    suffixes = MUSIC_SUFFIXES
    encoding_keys = ("resolution", "tracks", "max_tracks", "track_names")
    heads = ("bernoulli", "nade")

    def encode(self, paths, config):
        from ..data.prepare import encode_file, encode_files

        try:
            return encode_files(paths, config)  # the whole chunk in one numpy pass
        except Exception:  # a bug or a library failure on some file: find it file by file
            return encode_each(paths, config, encode_file)

    def info(self, corpus, config) -> dict:
        from ..data.dataset import bar_steps

        num, den = corpus.time_signature()
        return {
            "tracks": [t.to_dict() for t in corpus.track_template()],
            "steps_per_bar": bar_steps(config.data, corpus),
            "time_signature": [int(num), int(den)],
            "tempo": round(corpus.tempo(), 3),
            "resolution": config.data.resolution,
            "corpus_files": len(corpus),
        }

    def datasets(self, corpus, config, info, train_songs, valid_songs):
        from ..data.dataset import WindowDataset, frame_spec

        d, seed = config.data, config.train.seed
        spec = frame_spec(d, len(info["tracks"]))
        window, bar = d.window_bars * info["steps_per_bar"], info["steps_per_bar"]
        drums = [k for k, t in enumerate(info["tracks"]) if t["is_drum"]]
        return (WindowDataset(corpus, train_songs, spec, window, bar, d.transpose, drums, seed),
                WindowDataset(corpus, valid_songs, spec, window, window),
                WindowDataset(corpus, train_songs, spec, window, window))

    def model_settings(self, config, info) -> dict:
        from ..data.dataset import frame_spec

        spec = frame_spec(config.data, len(info["tracks"]))
        return {"n_features": spec.n_features, "steps_per_bar": info["steps_per_bar"], "n_tracks": spec.n_tracks,
                "n_channels": spec.n_channels, "n_pitches": spec.n_pitches, "n_bars": config.data.window_bars}

    def baseline(self, train_frames, valid_frames):
        from ..metrics import frequency_baseline_nll

        return frequency_baseline_nll(train_frames, valid_frames), "frequencies"

    def player(self, model, config, info):
        from ..generation import MusicModel

        return MusicModel(model, config, info)

    def write_samples(self, player, folder, step, train):
        from ..io.midi import write_midi

        for i in range(train.samples):
            write_midi(folder / f"step{step:06d}-{i}.mid", player.generate_song(train.sample_bars, seed=i))
