"""``data.key=common``: pieces moved to C major / A minor for training, and generation
moved back into the corpus's own keys (or into a given piece's key)."""
import dataclasses

import numpy as np
import pytest
import torch

import musegan
from musegan.arrange import common_key_shift, estimate_key, pitch_class_weights
from musegan.data.dataset import PreparedCorpus, WindowDataset, frame_spec
from musegan.errors import MuseganError
from musegan.data.prepare import prepare_corpus
from musegan.representations.pianoroll import PITCH, TRACK, frames_to_notes

from test_infill import SETS, SIZES, chorale

torch.set_num_threads(1)

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
KEY_OF = [0, 0, 2, 2, 2, 5, 7, 10]  # the corpus's pieces: chorales in C, D (3 of them), F, G and Bb


def scale_notes(tonic: int, steps, drum=False) -> np.ndarray:
    """A scale up and down, then its tonic triad held (notes: track, pitch, start, end, velocity)."""
    pitches = [60 + tonic + s for s in steps] + [60 + tonic + s for s in steps[::-1]]
    rows = [(0, p, 2 * i, 2 * i + 2, 80) for i, p in enumerate(pitches)]
    rows += [(0, 48 + tonic + s, 40, 48, 80) for s in (steps[0], steps[2], steps[4])]
    if drum:
        rows += [(1, 36, i, i + 1, 80) for i in range(0, 48, 4)]
    return np.asarray(rows, np.int32)


@pytest.mark.parametrize("tonic,minor,shift", [(0, False, 0), (2, False, -2), (9, True, 0), (3, False, -3),
                                               (7, False, 5), (4, True, 5), (6, False, -6), (11, False, 1)])
def test_common_key_shift_moves_the_key_to_c_major_or_a_minor(tonic, minor, shift):
    notes = scale_notes(tonic, MINOR if minor else MAJOR, drum=True)
    assert estimate_key(notes, drums=[1]) == (tonic, minor)
    assert common_key_shift(notes, drums=[1]) == shift
    moved = notes.copy()
    moved[moved[:, TRACK] == 0, PITCH] += shift
    h = pitch_class_weights(moved, drums=[1])
    assert set(np.flatnonzero(h)) <= set(MAJOR)  # C major's pitch classes: no sharp or flat
    assert common_key_shift(notes[notes[:, TRACK] == 1], drums=[1]) == 0  # drums alone have no key


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys") / "midi"
    folder.mkdir()
    for i, k in enumerate(KEY_OF):
        pm = chorale(i)
        for inst in pm.instruments:
            for n in inst.notes:
                n.pitch += k if k < 6 else k - 12
        pm.write(str(folder / f"piece{i:02d}.mid"))
    return folder


def train(corpus, out, model, key="common", steps=20):
    config = musegan.make_config(model, corpus="x", overrides=SETS + SIZES[model] + [f"data.key={key}"],
                                 steps=steps, device="cpu")
    musegan.train(corpus, out, config, progress=False, log=lambda *_: None)
    return musegan.load(out)


@pytest.fixture(scope="module")
def lstm(corpus, tmp_path_factory):
    return train(corpus, tmp_path_factory.mktemp("runs") / "lstm", "lstm")


def test_the_run_counts_the_corpus_keys_and_trains_on_c_major(lstm, corpus, tmp_path):
    counts = lstm.info["key_shifts"]  # songs moved by -6..5 semitones
    expected = np.bincount([common_key_shift_of(k) + 6 for k in KEY_OF], minlength=12).tolist()
    assert counts == expected
    prepare_corpus(corpus, tmp_path / "prepared", lstm.config.data, workers=1)
    corpus = PreparedCorpus(tmp_path / "prepared")
    spec = frame_spec(lstm.config.data, 3)
    songs = list(range(len(corpus)))
    shifts = {i: common_key_shift(corpus.notes(i)) for i in songs}
    assert sorted(set(shifts.values())) == sorted({common_key_shift_of(k) for k in KEY_OF})
    ds = WindowDataset(corpus, songs, spec, 32, 32, shifts=shifts)
    plain = WindowDataset(corpus, songs, spec, 32, 32)
    moved_off_c = 0
    for i in range(len(ds)):
        h = pitch_class_weights(frames_to_notes(ds[i].numpy(), spec))
        assert set(np.flatnonzero(h)) <= set(MAJOR)  # every training window in C major
        moved_off_c += not set(np.flatnonzero(pitch_class_weights(frames_to_notes(plain[i].numpy(), spec)))) <= set(MAJOR)
    assert moved_off_c > len(ds) // 2  # without the shifts most windows are in other keys


def common_key_shift_of(k: int) -> int:
    return (-k + 6) % 12 - 6


def test_generation_moves_each_piece_back_into_a_key_of_the_corpus(lstm):
    own = musegan.generation.MusicModel(lstm.model, dataclasses.replace(
        lstm.config, data=dataclasses.replace(lstm.config.data, key="own")), lstm.info)
    drawn = set()
    for seed in range(12):
        shift = lstm.key_shift(seed)
        drawn.add(shift)
        a, b = lstm.generate_song(4, seed), own.generate_song(4, seed)
        assert len(a.notes) == len(b.notes) > 0
        moved = b.notes.copy()
        moved[:, PITCH] -= shift  # the same draw, moved from C back by the drawn shift
        low, high = lstm.spec.pitch_low, lstm.spec.pitch_high
        moved[:, PITCH] = np.where(moved[:, PITCH] > high, moved[:, PITCH] - 12,
                                   np.where(moved[:, PITCH] < low, moved[:, PITCH] + 12, moved[:, PITCH]))
        assert np.array_equal(a.notes, moved)
    assert drawn <= {common_key_shift_of(k) for k in KEY_OF} and len(drawn) >= 2


def test_a_primer_is_read_in_c_and_its_continuation_comes_back_in_its_key(lstm, tmp_path):
    seen = []
    generate = lstm.model.generate

    def spy(*args, primer=None, **kwargs):
        seen.append(primer)
        return generate(*args, primer=primer, **kwargs)

    lstm.model.generate = spy
    try:
        pm = chorale(5)
        for inst in pm.instruments:
            for n in inst.notes:
                n.pitch += 2  # D major
        path = tmp_path / "primer.mid"
        pm.write(str(path))
        song = lstm.generate_song(4, 0, primer=str(path))
    finally:
        del lstm.model.generate
    spec = lstm.spec
    h = pitch_class_weights(frames_to_notes(seen[0].numpy(), spec))
    assert set(np.flatnonzero(h)) <= set(MAJOR)  # the model read the primer in C major
    primer_len = 8 * lstm.steps_per_bar
    assert estimate_key(song.notes[song.notes[:, 2] < primer_len]) == (2, False)  # the primer as given


def test_a_bad_key_mode_is_refused_in_one_line(corpus, tmp_path):
    with pytest.raises(MuseganError, match="data.key='sharp': expected own or common"):
        train(corpus, tmp_path / "bad", "lstm", key="sharp", steps=1)


def test_harmonize_reads_the_melody_in_c_and_writes_the_parts_in_its_key(lstm, tmp_path):
    import symusic

    pm = chorale(7)
    pm.instruments = pm.instruments[:1]  # the melody alone
    for n in pm.instruments[0].notes:
        n.pitch += 2  # D major
    path = tmp_path / "melody.mid"
    pm.write(str(path))
    seen = []
    complete = lstm.model.complete

    def spy(frames, known, *args, **kwargs):
        seen.append(frames[0].numpy())
        return complete(frames, known, *args, **kwargs)

    lstm.model.complete = spy
    try:
        out = tmp_path / "out.mid"
        lstm.harmonize(str(path), seed=0).write(str(out))
    finally:
        del lstm.model.complete
    h = pitch_class_weights(frames_to_notes(seen[0], lstm.spec))
    assert set(np.flatnonzero(h)) <= set(MAJOR)  # the model read the melody in C major
    score = symusic.Score(str(out))
    given = [(n.time, n.duration, n.pitch) for n in symusic.Score(str(path)).tracks[0].notes]
    assert [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes] == given  # kept as it was
    written = [n for t in score.tracks[1:] for n in t.notes]
    in_d, in_c = (np.mean([(n.pitch - k) % 12 in MAJOR for n in written]) for k in (2, 0))
    assert written and in_d > in_c  # the parts moved back to D major
