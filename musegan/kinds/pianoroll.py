"""Piano-rolls: symbolic music (MIDI, MusicXML, ABC, Humdrum) as frames of note and
onset bits per track and pitch (see ``representations/pianoroll.py``)."""
from __future__ import annotations

import numpy as np

from ..io.midi import MUSIC_SUFFIXES
from ..representations.pianoroll import END, PITCH, START, TRACK
from ..errors import MuseganError
from .base import DataKind, encode_each

# a track is a voice when at least this share of its sounding steps hold one pitch: Bach's
# voices 99.5%; Nottingham's melodies 97.3% (ornaments, a second voice in a few tunes);
# chords, piano and drums far less
MONO_SHARE = 0.95
KEY_MODES = ("own", "common")
SONGS_LOOKED_AT = 2000  # corpus statistics from at most this many songs (evenly spaced)


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

        if config.data.key not in KEY_MODES:
            raise MuseganError(f"data.key={config.data.key!r}: expected {' or '.join(KEY_MODES)}")
        num, den = corpus.time_signature()
        return {
            "tracks": [t.to_dict() for t in corpus.track_template()],
            "steps_per_bar": bar_steps(config.data, corpus),
            "time_signature": [int(num), int(den)],
            "tempo": round(corpus.tempo(), 3),
            "resolution": config.data.resolution,
            "corpus_files": len(corpus),
            "mono_tracks": monophonic_tracks(corpus, config.data),
            "voice_changes": voice_changes(corpus, config.data),
            "track_ranges": track_ranges(corpus, config.data),
            "silent_start": silent_start_share(corpus),
            **({"key_shifts": key_shift_counts(corpus, config.data)} if config.data.key == "common" else {}),
        }

    def datasets(self, corpus, config, info, train_songs, valid_songs):
        from ..data.dataset import WindowDataset, frame_spec

        d, seed = config.data, config.train.seed
        spec = frame_spec(d, len(info["tracks"]))
        window, bar = d.window_bars * info["steps_per_bar"], info["steps_per_bar"]
        drums = [k for k, t in enumerate(info["tracks"]) if t["is_drum"]]
        shifts = common_key_shifts(corpus, train_songs + valid_songs, drums) if d.key == "common" else None
        return (WindowDataset(corpus, train_songs, spec, window, bar, d.transpose, drums, seed, shifts),
                WindowDataset(corpus, valid_songs, spec, window, window, drum_tracks=drums, shifts=shifts),
                WindowDataset(corpus, train_songs, spec, window, window, drum_tracks=drums, shifts=shifts))

    def model_settings(self, config, info) -> dict:
        from ..data.dataset import frame_spec

        spec = frame_spec(config.data, len(info["tracks"]))
        return {"n_features": spec.n_features, "steps_per_bar": info["steps_per_bar"], "n_tracks": spec.n_tracks,
                "n_channels": spec.n_channels, "n_pitches": spec.n_pitches, "n_bars": config.data.window_bars,
                "mono_tracks": tuple(info.get("mono_tracks", ())),
                "voice_changes": tuple(info.get("voice_changes", ()))}

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


def _songs(corpus) -> range:
    return range(0, len(corpus), max(1, len(corpus) // SONGS_LOOKED_AT))


def monophonic_tracks(corpus, data) -> list[int]:
    """Per track, 1 if the corpus shows it monophonic: at least ``MONO_SHARE`` of the
    steps where it sounds (within the modelled pitch range) hold one pitch; drums never
    are. (A voice keeps its highest pitch where two sound.)"""
    n_tracks = max(len(e["tracks"]) for e in corpus.entries)
    sounding, several = np.zeros(n_tracks), np.zeros(n_tracks)
    for i in _songs(corpus):
        notes = corpus.notes(i)
        notes = notes[(notes[:, PITCH] >= data.pitch_low) & (notes[:, PITCH] <= data.pitch_high)]
        if not len(notes):
            continue
        edges = np.zeros((int(notes[:, END].max()) + 1, n_tracks), np.int32)
        np.add.at(edges, (notes[:, START], notes[:, TRACK]), 1)
        np.add.at(edges, (notes[:, END], notes[:, TRACK]), -1)
        count = np.cumsum(edges, 0)
        sounding += (count >= 1).sum(0)
        several += (count >= 2).sum(0)
    drums = [t.is_drum for t in corpus.track_template()]
    return [int(s > 0 and m <= (1 - MONO_SHARE) * s and not d) for s, m, d in zip(sounding, several, drums)]


def voice_changes(corpus, data) -> list[float]:
    """Per track, the share of its steps where what it plays changes: a note starts, or a
    note ends without another starting (a voice's rate of moving; the GAN's voice decoder
    takes it as its prior)."""
    n_tracks = max(len(e["tracks"]) for e in corpus.entries)
    changes, steps = np.zeros(n_tracks), 0
    for i in _songs(corpus):
        notes = corpus.notes(i)
        notes = notes[(notes[:, PITCH] >= data.pitch_low) & (notes[:, PITCH] <= data.pitch_high)]
        if not len(notes):
            continue
        steps += int(notes[:, END].max())
        for k in range(n_tracks):
            mine = notes[notes[:, TRACK] == k]
            changes[k] += len(np.unique(mine[:, START])) + len(np.setdiff1d(mine[:, END], mine[:, START]))
    return [round(float(c / max(steps, 1)), 4) for c in changes]


def track_ranges(corpus, data) -> list[list[int]]:
    """Per track, the pitches its notes span in the corpus (the 1st to the 99th
    percentile, within the modelled range); a melody to harmonize is moved by octaves
    into its track's range. ``[pitch_low, pitch_high]`` for a track with no notes."""
    n_tracks = max(len(e["tracks"]) for e in corpus.entries)
    pitches = [[] for _ in range(n_tracks)]
    for i in _songs(corpus):
        notes = corpus.notes(i)
        notes = notes[(notes[:, PITCH] >= data.pitch_low) & (notes[:, PITCH] <= data.pitch_high)]
        for k in range(n_tracks):
            pitches[k].append(notes[notes[:, TRACK] == k, PITCH])
    out = []
    for p in pitches:
        p = np.concatenate(p) if p else np.zeros(0)
        out.append([int(np.percentile(p, 1)), int(np.percentile(p, 99))] if len(p) else [data.pitch_low, data.pitch_high])
    return out


def _drums(corpus) -> list[int]:
    return [k for k, t in enumerate(corpus.track_template()) if t.is_drum]


def common_key_shifts(corpus, songs, drums) -> dict[int, int]:
    """``{song: semitones}`` that move each song to C major / A minor (``data.key=common``)."""
    from ..arrange import common_key_shift

    return {int(i): common_key_shift(corpus.notes(i), drums) for i in songs}


def key_shift_counts(corpus, data) -> list[int]:
    """How many songs the corpus moves by each of -6..5 semitones to C major / A minor:
    generation draws the inverse from these counts, so that its pieces come in the
    corpus's own keys."""
    shifts = common_key_shifts(corpus, _songs(corpus), _drums(corpus))
    return np.bincount(np.asarray(list(shifts.values()), int) + 6, minlength=12).tolist()


def silent_start_share(corpus) -> float:
    """The share of songs with no note on their first step."""
    songs = list(_songs(corpus))
    return round(sum(int((corpus.notes(i)[:, START] == 0).sum() == 0) for i in songs) / max(1, len(songs)), 4)
