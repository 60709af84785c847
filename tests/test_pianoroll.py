import numpy as np
import pytest

from musegan.representations.pianoroll import (
    TRACK_MODES,
    FrameSpec,
    Song,
    SongBatch,
    Track,
    frames_to_notes,
    from_notes,
    lex_order,
    make_notes,
    map_tracks,
    notes_to_frames,
    to_notes,
    transpose_notes,
)


def notes(*rows):
    return make_notes(*np.array(rows, dtype=np.int64).T)


def test_repeated_notes_stay_separate_through_the_roll():
    n = notes((0, 60, 0, 4, 90), (0, 60, 4, 8, 70), (0, 64, 2, 3, 50))
    mt = from_notes(n, n_tracks=1)
    assert mt.pianoroll.shape == (1, 8, 128)
    assert mt.onsets[0, :, 60].nonzero()[0].tolist() == [0, 4]
    assert np.array_equal(mt.to_notes(), n)


def test_overlapping_notes_of_one_pitch_are_split_at_each_onset():
    # 0-8 and 4-6 on the same pitch sound as 0-4 and 4-8; a duplicate start keeps the longer
    n = notes((0, 60, 0, 8, 90), (0, 60, 4, 6, 70), (1, 50, 1, 2, 10), (1, 50, 1, 5, 20))
    assert n[:, :4].tolist() == [[0, 60, 0, 4], [1, 50, 1, 5], [0, 60, 4, 8]]
    assert np.array_equal(to_notes(from_notes(n, 2).pianoroll, from_notes(n, 2).onsets), n)


def test_make_notes_gives_zero_length_notes_one_step_and_drops_bad_pitches():
    n = notes((0, 60, 3, 3, 200), (0, 130, 0, 2, 50))
    assert n.tolist() == [[0, 60, 3, 4, 127]]


def test_binary_roll_without_onsets_merges_repeats():
    roll = np.zeros((1, 6, 128), np.uint8)
    roll[0, 0:6, 60] = 1
    assert to_notes(roll).tolist() == [[0, 60, 0, 6, 1]]


def test_lpd5_mapping_by_program_family():
    tracks = [Track("dr", 0, True), Track("gtr", 27, False), Track("bass", 33, False), Track("vln", 40, False),
              Track("sax", 65, False)]
    n = notes(*[(k, 60 + k, 0, 1, 64) for k in range(5)])
    mapped, new = map_tracks(n, tracks, "lpd5")
    assert [t.name for t in new] == ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    assert [t.program for t in new] == [0, 0, 24, 32, 48] and new[0].is_drum
    # saxophone is outside the families: it counts as piano
    assert sorted(mapped[:, [0, 1]].tolist()) == [[0, 60], [1, 64], [2, 61], [3, 62], [4, 63]]


def test_merge_drops_drums_and_keep_selects_by_name():
    tracks = [Track("Horn", 60), Track("Bass", 0), Track("Soprano", 0), Track("Drums", 0, True)]
    n = notes((0, 70, 0, 2, 64), (1, 40, 0, 2, 64), (2, 72, 0, 2, 64), (3, 36, 0, 2, 64))
    merged, mt = map_tracks(n, tracks, "merge")
    assert len(mt) == 1 and sorted(merged[:, 1].tolist()) == [40, 70, 72]
    kept, kt = map_tracks(n, tracks, "keep", names=("soprano", "alto", "bass"))
    assert [t.name for t in kt] == ["Soprano", "Alto", "Bass"]
    assert sorted(kept[:, [0, 1]].tolist()) == [[0, 72], [2, 40]]
    first2, ft = map_tracks(n, tracks, "keep", max_tracks=2)
    assert [t.name for t in ft] == ["Horn", "Bass"] and sorted(first2[:, 0].tolist()) == [0, 1]
    with pytest.raises(ValueError):
        map_tracks(n, tracks, "nope")


def test_frames_round_trip_with_onsets_and_window():
    spec = FrameSpec(n_tracks=2, pitch_low=40, pitch_high=80, onsets=True)
    n = notes((0, 60, 0, 4, 80), (0, 60, 4, 6, 80), (1, 45, 2, 10, 80), (1, 90, 0, 2, 80))
    frames = notes_to_frames(n, spec, 0, 12)
    assert frames.shape == (12, spec.n_features) == (12, 2 * 2 * 41)
    back = frames_to_notes(frames, spec)
    assert back.tolist() == [[0, 60, 0, 4, 80], [1, 45, 2, 10, 80], [0, 60, 4, 6, 80]]  # pitch 90 out of range
    # a window that starts inside a note: it sounds from the window start, with no onset bit
    w = notes_to_frames(n, spec, 3, 4).reshape(4, 2, 2, 41)
    assert w[0, 0, 0, 20] == 1 and w[0, 0, 1, 20] == 0 and w[1, 0, 1, 20] == 1


def test_transpose_leaves_drums():
    n = notes((0, 36, 0, 1, 80), (1, 60, 0, 1, 80))
    assert transpose_notes(n, 3, drum_tracks=[0])[:, 1].tolist() == [36, 63]


def test_song_multitrack_round_trip():
    s = Song(notes((0, 60, 0, 3, 80), (1, 64, 5, 9, 100)), [Track("a"), Track("b", 33)], 4, n_steps=16)
    mt = s.to_multitrack()
    assert mt.n_steps == 16 and mt.steps_per_bar == 16
    back = mt.to_song()
    assert np.array_equal(back.notes, s.notes) and back.n_steps == 16


@pytest.mark.parametrize("high", [3, 300, 70_000, 2**20, 2**62])
def test_lex_order_is_lexsort(high):
    # spans that take one and two 16-bit passes, one packed argsort, and lexsort itself
    rng = np.random.default_rng(high)
    keys = [rng.integers(-high // 2, high // 2 + 1, 5000) for _ in range(3)]
    assert np.array_equal(lex_order(*keys), np.lexsort(keys[::-1]))
    assert np.array_equal(lex_order(keys[0] % 7), np.argsort(keys[0] % 7, kind="stable"))  # ties keep their order


def random_song(rng, n_tracks):
    tracks = [Track(f"t{k}", int(rng.integers(0, 128)), bool(rng.random() < 0.2)) for k in range(n_tracks)]
    n = int(rng.integers(0, 60))
    start = rng.integers(0, 40, n)
    raw = make_notes(rng.integers(0, n_tracks, n), rng.integers(58, 64, n), start, start + rng.integers(0, 9, n),
                     rng.integers(1, 128, n), canonical=False)  # many overlaps and repeats
    return raw, tracks


@pytest.mark.parametrize("mode", TRACK_MODES)
def test_a_batch_maps_each_song_as_it_would_alone_and_as_a_roll_sees_it(mode):
    rng = np.random.default_rng(1)
    songs = [random_song(rng, int(rng.integers(1, 5))) for _ in range(30)]
    names = ("t1", "t0") if mode == "keep" else ()
    batch = SongBatch(np.concatenate([n for n, _ in songs]), np.cumsum([0] + [len(n) for n, _ in songs]),
                      [t for _, t in songs], [[(0, 120.0)]] * 30, [[(0, 4, 4)]] * 30).map_tracks(mode, 3, names)
    for k, (raw, tracks) in enumerate(songs):
        alone, new_tracks = map_tracks(raw, tracks, mode, 3, names)
        assert np.array_equal(batch.song(k).notes, alone) and batch.tracks[k] == new_tracks
        roll = from_notes(alone, len(new_tracks))
        assert np.array_equal(to_notes(roll.pianoroll, roll.onsets), alone)  # disjoint, canonical order
