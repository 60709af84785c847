"""The musical metrics on hand-made rolls whose answers are known."""
import math

import numpy as np
import pytest

from musegan import metrics as M


def roll(steps, *notes):
    """A one-track roll ``(steps, 128)`` from ``(pitch, start, end)`` notes."""
    r = np.zeros((steps, 128), bool)
    for p, s, e in notes:
        r[s:e, p] = True
    return r


def test_empty_bars_counts_bars_without_a_note():
    r = roll(64, (60, 0, 4), (62, 40, 41))  # 4 bars of 16: notes in bars 0 and 2
    assert M.empty_bars(r, 16) == 0.5  # the share of EMPTY bars, not of used ones
    assert M.empty_bars(roll(64), 16) == 1.0
    assert M.empty_bars(roll(20, (60, 18, 20)), 16) == 0.5  # the partial last bar is a bar


def test_used_pitch_classes_counts_distinct_classes_not_steps():
    # bar 0: C4 held 8 steps, C5, E4 -> 2 classes (C, E); bar 1: empty; bar 2: G, B, D -> 3
    r = roll(48, (60, 0, 8), (72, 8, 9), (64, 2, 3), (67, 32, 40), (71, 33, 34), (74, 34, 35))
    assert M.used_pitch_classes(r, 16) == 2.5  # over the bars with notes
    assert math.isnan(M.used_pitch_classes(roll(16), 16))


def test_qualified_notes_are_at_least_a_32nd_note():
    assert M.qualified_steps(24) == 3 and M.qualified_steps(4) == 1
    r = roll(96, (60, 0, 2), (62, 10, 13), (64, 20, 40), (65, 50, 51))  # lengths 2, 3, 20, 1 at 24/quarter
    assert M.qualified_notes(r, 24) == 0.5
    # a repeated note (onset inside a held span) is two notes of 3 steps: both qualified
    r = roll(24, (60, 0, 6))
    on = np.zeros_like(r)
    on[[0, 3], 60] = True
    assert M.qualified_notes(r, 24, on) == 1.0
    assert list(M.note_lengths(r, on)) == [3, 3]
    assert M.qualified_notes(r, 24) == 1.0  # one note of 6


def test_drum_pattern_weights_grid_and_near_grid_notes():
    # 24 steps per quarter: the 16th-note grid is every 6 steps
    r = roll(96, (36, 0, 1), (38, 6, 7), (42, 7, 8), (42, 3, 4), (36, 11, 12))
    # on grid: steps 0, 6 -> 1 each; one off: 7, 11 -> 0.1 each; step 3 -> 0
    assert M.drum_pattern(r, 24) == pytest.approx((2 + 0.2) / 5)
    assert M.drum_pattern(roll(16, (36, 0, 1), (36, 5, 6)), 4) == 1.0  # every 16th step is on the grid
    assert math.isnan(M.drum_pattern(roll(16), 4))


def test_tonal_distance_zero_for_same_classes_larger_for_clashes():
    c_major = roll(16, (60, 0, 16), (64, 0, 16), (67, 0, 16))
    c_bass = roll(16, (36, 0, 16), (43, 0, 16), (40, 0, 16))  # the same classes, other octave
    assert M.tonal_distance(c_major, c_bass, 16) == pytest.approx(0.0, abs=1e-12)
    f_sharp = roll(16, (66, 0, 16), (70, 0, 16), (73, 0, 16))  # F# major: a tritone away
    g_major = roll(16, (67, 0, 16), (71, 0, 16), (74, 0, 16))  # a fifth away
    assert M.tonal_distance(c_major, f_sharp, 16) > M.tonal_distance(c_major, g_major, 16) > 0
    # one pitch class against another a fifth apart: the distance of two columns of the matrix
    m = M.tonal_matrix()
    assert M.tonal_distance(roll(16, (60, 0, 4)), roll(16, (67, 0, 4)), 16) == pytest.approx(
        np.linalg.norm(m[:, 0] - m[:, 7]))
    # bars where one track is silent do not count
    two = np.concatenate([c_major, c_major])
    other = np.concatenate([c_bass, roll(16)])
    assert M.tonal_distance(two, other, 16) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(M.tonal_distance(c_major, roll(16), 16))


def test_polyphony_means_pitches_per_sounding_step_without_drums():
    piano = roll(8, (60, 0, 4), (64, 0, 2))  # steps 0-1: 2 pitches, 2-3: 1, 4-7: silence
    drums = roll(8, (36, 0, 8), (38, 0, 8))
    assert M.polyphony(np.stack([drums, piano]), is_drum=[True, False]) == 1.5
    assert M.polyphony(np.stack([drums, piano])) == pytest.approx((2 * 8 + 6) / 8)


def test_pitch_class_entropy_of_notes():
    one_class = roll(16, (60, 0, 2), (72, 4, 6))
    assert M.pitch_class_entropy(one_class) == 0.0
    four = roll(16, (60, 0, 1), (62, 1, 2), (64, 2, 3), (65, 3, 4))
    assert M.pitch_class_entropy(four) == pytest.approx(2.0)
    # counted per note, not per step: a long C and a short D are two equally likely notes
    assert M.pitch_class_entropy(roll(16, (60, 0, 15), (62, 15, 16))) == pytest.approx(1.0)
    assert math.isnan(M.pitch_class_entropy(roll(16)))


def test_scale_consistency_is_the_best_scale_share():
    c_scale = roll(16, *[(p, i, i + 1) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71])])
    assert M.scale_consistency(c_scale) == 1.0
    chromatic = roll(16, *[(60 + i, i, i + 1) for i in range(12)])
    assert M.scale_consistency(chromatic) == pytest.approx(7 / 12)
    drums = roll(16, (61, 0, 1), (63, 1, 2))
    both = np.stack([c_scale, drums])
    assert M.scale_consistency(both, is_drum=[False, True]) == 1.0
    assert M.scale_consistency(both) == pytest.approx(7 / 9)


def test_groove_consistency_compares_neighbouring_bars():
    same = roll(32, (36, 0, 1), (36, 4, 5), (36, 16, 17), (36, 20, 21))
    assert M.groove_consistency(same, 16) == 1.0
    # bar 1 adds one onset position: Hamming distance 1 out of 16
    diff = roll(32, (36, 0, 1), (36, 16, 17), (38, 18, 19))
    assert M.groove_consistency(diff, 16) == pytest.approx(1 - 1 / 16)
    # onsets of all tracks count, and a note held over the bar line starts nothing in bar 1
    two = np.stack([roll(32, (60, 2, 32)), roll(32, (36, 18, 19))])
    assert M.groove_consistency(two, 16) == 1.0
    assert M.groove_consistency(two[:1], 16) == pytest.approx(1 - 1 / 16)
    assert math.isnan(M.groove_consistency(roll(16, (60, 0, 1)), 16))


def test_overlapping_area_of_known_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 3000), rng.normal(0, 1, 3000)
    assert M.overlapping_area(a, b) == pytest.approx(1.0, abs=0.05)
    # two unit normals one apart overlap by 2 * Phi(-1/2) = 0.617
    assert M.overlapping_area(a, b + 1) == pytest.approx(0.617, abs=0.04)
    assert M.overlapping_area(a, b + 20) < 1e-3
    assert M.overlapping_area([1.0, 1.0], [1.0, 1.0]) == pytest.approx(1.0, abs=1e-3)
    assert math.isnan(M.overlapping_area([math.nan], [1.0]))
