"""``musegan train --model conv`` end to end on real MIDI files, then generation (both heads)."""
import pytest

import musegan
from musegan.cli import main
from musegan.io.checkpoint import load_checkpoint
from musegan.io.midi import read_song

from conftest import link_files

TINY = ["model.hidden_size=16", "model.num_layers=3", "train.batch_size=8", "train.valid_batches=2",
        "train.samples=1", "train.sample_bars=2", "data.window_bars=2", "train.checkpoint_every=6",
        "train.valid_every=6", "model.head_hidden=8", "train.workers=1"]


@pytest.fixture(scope="module")
def corpus(data_dir, tmp_path_factory):
    files = sorted((data_dir / "midi" / "nottingham" / "MIDI").glob("*.mid"))[:12]
    return link_files(files, tmp_path_factory.mktemp("notts") / "midi")


@pytest.mark.parametrize("head", ["bernoulli", "nade"])
def test_train_conv_then_generate(corpus, tmp_path, head, capsys):
    run = tmp_path / "run"
    sets = [x for s in TINY + [f"model.head={head}"] for x in ("--set", s)]
    assert main(["train", "--corpus", str(corpus), "--out", str(run), "--model", "conv", "--steps", "12",
                 "--quiet", *sets]) == 0
    ckpt = load_checkpoint(run / "best.pt")
    assert ckpt["config"]["model"] == "conv" and ckpt["config"]["model_config"]["head"] == head
    assert ckpt["config"]["model_config"]["steps_per_bar"] == ckpt["info"]["steps_per_bar"] > 0
    assert sorted(p.name for p in (run / "samples").glob("*.mid")) == ["step000006-0.mid", "step000012-0.mid"]
    for name, seed in (("a.mid", 1), ("b.mid", 1)):
        assert main(["generate", str(run), "--out", str(tmp_path / name), "--bars", "12", "--seed", str(seed),
                     "--temperature", "1.5"]) == 0
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    song = read_song(tmp_path / "a.mid", 4)
    spb = ckpt["info"]["steps_per_bar"]
    assert len(song.notes) > 0 and song.notes[:, 3].max() <= 12 * spb
    primer = sorted(corpus.glob("*.mid"))[0]
    out = musegan.load(run).generate_song(bars=2, seed=0, primer=primer)
    assert out.n_steps == -(-read_song(primer, 4).n_steps // spb) * spb + 2 * spb
