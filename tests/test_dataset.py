import pickle

import numpy as np
import pytest
import torch

from musegan.config import DataConfig
from musegan.data.dataset import PreparedCorpus, WindowDataset, frame_spec
from musegan.data.prepare import prepare_corpus
from musegan.representations.pianoroll import frames_to_notes

from conftest import link_files


@pytest.fixture(scope="module")
def prepared(data_dir, tmp_path_factory):
    files = sorted((data_dir / "midi" / "pop_multitrack" / "midis").glob("*.mid"))[:4]
    root = tmp_path_factory.mktemp("ds")
    link_files(files, root / "corpus")
    prepare_corpus(root / "corpus", root / "out", DataConfig(), workers=1, progress=False)
    return PreparedCorpus(root / "out")


def make(prepared, transpose=0, spec=None):
    spec = spec or frame_spec(DataConfig(), 5)
    return WindowDataset(prepared, list(range(len(prepared))), spec, window=64, hop=16,
                         transpose=transpose, drum_tracks=(0,), seed=1)


def test_windows_start_on_bars_and_hold_the_song(prepared):
    ds = make(prepared)
    spec = ds.spec
    n_steps = prepared.entries[0]["n_steps"]
    assert len([1 for s, _ in ds.items if s == 0]) == (n_steps - 64) // 16 + 1
    x = ds[3]
    assert x.shape == (64, spec.n_features) and x.dtype == torch.float32
    song, start = ds.items[3]
    notes = prepared.notes(int(song))
    got = frames_to_notes(x.numpy(), spec)
    inside = notes[(notes[:, 2] >= start) & (notes[:, 3] <= start + 64)
                   & (notes[:, 1] >= spec.pitch_low) & (notes[:, 1] <= spec.pitch_high)]
    # every note wholly inside the window comes back (velocities aside)
    assert {(k, p, s - start, e - start) for k, p, s, e, _ in inside} <= {tuple(r[:4]) for r in got}


def test_transposition_is_reproducible_in_range_and_spares_drums(prepared):
    spec = frame_spec(DataConfig(), 5)
    plain, moved = make(prepared), make(prepared, transpose=6)
    assert torch.equal(moved[5], moved[5])
    shifts = set()
    for i in range(0, 40, 2):
        a = frames_to_notes(plain[i].numpy(), spec)
        b = frames_to_notes(moved[i].numpy(), spec)
        drums_a, drums_b = a[a[:, 0] == 0], b[b[:, 0] == 0]
        assert np.array_equal(drums_a[:, :4], drums_b[:, :4])
        pa, pb = a[a[:, 0] > 0], b[b[:, 0] > 0]
        if len(pa) and len(pa) == len(pb):
            shifts.add(int(np.median(pb[:, 1]) - np.median(pa[:, 1])))
    assert len(shifts) > 2 and all(abs(s) <= 6 for s in shifts)
    # index i + len is the same window with another draw
    n = len(moved)
    assert any(not torch.equal(moved[i], moved[i + n]) for i in range(10))


def test_dataset_pickles_and_loads_in_worker_processes(prepared):
    ds = make(prepared, transpose=3)
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[7], ds[7])
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2, shuffle=False)
    batch = next(iter(loader))
    assert batch.shape == (8, 64, ds.spec.n_features)
    assert torch.equal(batch[2], ds[2])


def test_split_is_by_file_and_stable(prepared):
    train, valid = prepared.split(25)
    assert sorted(train + valid) == list(range(len(prepared))) and valid and not set(train) & set(valid)
    assert prepared.split(25) == (train, valid)
