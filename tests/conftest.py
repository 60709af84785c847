import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # two threads are often many times slower on a shared 2-core machine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data (``../shared/data`` beside the repository, or
    ``MUSEGAN_TEST_DATA``); tests that need it skip cleanly when it is absent."""
    path = Path(os.environ.get("MUSEGAN_TEST_DATA", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (set MUSEGAN_TEST_DATA)")
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """Prepared corpora go to a temporary cache, never the user's."""
    monkeypatch.setenv("MUSEGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def link_files(files, folder: Path) -> Path:
    """A corpus folder of symbolic links to real files (nothing copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f.name).symlink_to(f)
    return folder
