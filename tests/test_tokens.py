"""Audio tokens (data.kind=tokens): the k-means codebook and its grains, the categorical
head, and a tiny run end to end (train, checkpoint, generate 44.1 kHz WAV)."""
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

import musegan
from musegan.cli import main
from musegan.config import DataConfig, RunConfig
from musegan.data.dataset import PreparedCorpus
from musegan.data.prepare import prepare_corpus
from musegan.data.tokens import TokenAudioModel, TokenDataset, learn_tokens
from musegan.errors import MuseganError
from musegan.generation import guard_copies
from musegan.io.checkpoint import load_checkpoint
from musegan.kinds import get_kind
from musegan.models.base import CategoricalHead, FrameModel
from musegan.representations.tokens import CopyGuard, assign, cut_grain, ngram_table, overlap_add

torch.set_num_threads(1)
SR = 44100
PITCHES = (220.0, 660.0, 1760.0)


def noisy_tone(path, freq, seconds=1.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), SR)
    return path


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones") / "wavs"
    folder.mkdir()
    for k, f in enumerate(PITCHES):
        for j in range(2):  # two files of each pitch, so that the split leaves some for training
            noisy_tone(folder / f"p{k}-{j}.wav", f, seconds=1.0 + 0.3 * j, seed=3 * k + j)
    return folder


def test_codebook_tokens_separate_pitches_and_grains_come_from_them(wavs, tmp_path):
    config = DataConfig(kind="tokens")
    m = prepare_corpus(wavs, tmp_path / "prep", config, progress=False)
    assert m["encoding"]["kind"] == "audio"  # the audio kind's prepared frames (and cache)
    corpus = PreparedCorpus(tmp_path / "prep")
    stats = get_kind("audio").info(corpus, musegan.make_config("lstm", wavs))["stats"]
    songs = list(range(len(corpus)))
    tokens = learn_tokens(corpus, songs, stats, size=8, seed=0)
    codebook, grains = tokens["codebook"], tokens["grains"]
    assert codebook.shape == (8, 128) and grains.shape == (8, 4, 1, 1024)
    steady = {}  # pitch -> the tokens of its files' interior frames (no onset or end)
    for i, e in enumerate(corpus.entries):
        pitch = int(e["path"].split("/")[-1][1])
        frames = (np.asarray(corpus.rows(i), np.float32)[4:-4] - stats["shift"]) / stats["scale"]
        steady.setdefault(pitch, set()).update(assign(frames, codebook).tolist())
    for a in range(3):
        for b in range(a + 1, 3):
            assert not steady[a] & steady[b], (a, b, steady)
    for pitch, ids in steady.items():  # each pitch's codewords keep grains of that pitch
        for k in ids:
            for g in range(4):
                spectrum = np.abs(np.fft.rfft(grains[k, g, 0].float().numpy(), 8192))
                assert abs(np.argmax(spectrum) * SR / 8192 - PITCHES[pitch]) < 30


def test_grains_overlap_add_back_to_the_signal():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((1, 8000)).astype(np.float32)
    hop = 256
    n = 1 + 8000 // hop
    grains = np.stack([cut_grain(y, f, hop) for f in range(n)])
    out = overlap_add(torch.arange(n), grains, hop, 8000).numpy()
    assert out.shape == (1, 8000)
    np.testing.assert_allclose(out[:, hop:-2 * hop], y[:, hop:-2 * hop], atol=1e-5)
    held = torch.zeros(40, dtype=torch.int64)  # one token held: one grain repeats every hop (a buzz) ...
    one = overlap_add(held, grains[:, None][:, [0]], hop, 8000)[0]
    np.testing.assert_allclose(one[2 * hop:5 * hop], one[3 * hop:6 * hop], atol=1e-5)
    four = overlap_add(held, grains[:4][None], hop, 8000, seed=0)[0]  # ... unless it draws among several
    assert (four[2 * hop:5 * hop] - four[3 * hop:6 * hop]).abs().max() > 0.5


def test_categorical_head_top_p_keeps_only_the_nucleus_and_nll_is_minus_log_p():
    head = CategoricalHead(4, 5)
    p = torch.tensor([0.5, 0.3, 0.1, 0.06, 0.04])
    with torch.no_grad():
        head.proj.weight.zero_()
    head.init_from_data(p)
    h = torch.zeros(4000, 4)
    g = torch.Generator().manual_seed(0)
    drawn = head.sample(h, 1.0, g, top_p=0.7).argmax(-1)
    counts = torch.bincount(drawn, minlength=5)
    assert counts[2:].sum() == 0 and counts[0] > 0 and counts[1] > 0  # 0.5 + 0.3 reach 0.7
    assert counts[0] / 4000 == pytest.approx(0.5 / 0.8, abs=0.03)
    full = torch.bincount(head.sample(h, 1.0, g).argmax(-1), minlength=5)
    assert (full > 0).all()
    assert (head.sample(h[:3], 0.0).argmax(-1) == 0).all()
    x = torch.nn.functional.one_hot(torch.tensor([[0, 3]]), 5).float()
    np.testing.assert_allclose(head.nll(h[None, :2], x)[0].detach().numpy(), -np.log(p[[0, 3]].numpy()), rtol=1e-4)


def plain(obj) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(plain(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor))


TINY = ["data.kind=tokens", "data.codebook_size=16", "model.hidden_size=16", "model.num_layers=1",
        "train.batch_size=4", "train.valid_batches=2", "train.samples=1", "train.sample_seconds=0.5",
        "data.window_frames=32", "train.checkpoint_every=4", "train.valid_every=4", "data.valid_percent=30"]


@pytest.mark.parametrize("family", ["lstm", "conv"])
def test_tiny_token_run_trains_checkpoints_plain_data_and_writes_44k_wav(wavs, tmp_path, family):
    config = musegan.make_config(family, corpus=wavs, overrides=TINY, steps=4)
    assert config.data.kind == "tokens" and config.model_config.head == "categorical"
    run = musegan.train(wavs, tmp_path / family, config, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(run / "checkpoint.pt")  # weights_only=True
    assert plain(ckpt["info"]) and plain(ckpt["config"])
    assert ckpt["info"]["codebook"].shape == (16, 128) and ckpt["info"]["grains"].shape == (16, 4, 1, 1024)
    assert ckpt["info"]["train_ids"].dtype == torch.int16 and len(ckpt["info"]["train_ids"]) > 100
    assert list((run / "samples").glob("*.wav"))
    out = tmp_path / f"{family}.wav"
    assert main(["generate", str(run), "--out", str(out), "--seconds", "1.5", "--seed", "3", "--top-p", "0.9"]) == 0
    y, sr = sf.read(out)
    assert sr == SR and len(y) == round(1.5 * SR) and np.abs(y).max() > 0
    free = tmp_path / f"{family}-free.wav"
    assert main(["generate", str(run), "--out", str(free), "--seconds", "0.5", "--max-copy-seconds", "0"]) == 0
    assert sf.info(free).frames == round(0.5 * SR)
    player = musegan.load(run)
    a, sr = player.generate(seconds=0.7, seed=1)
    player.decoder = "spectra"
    b, _ = player.generate(seconds=0.7, seed=1)
    assert sr == SR and a.shape == b.shape == (round(0.7 * SR),) and not np.allclose(a, b)


def test_tokens_are_chosen_by_set_and_only_on_audio(wavs, tmp_path):
    mids = tmp_path / "mids"
    mids.mkdir()
    (mids / "a.mid").write_bytes(b"MThd")
    assert main(["train", "--corpus", str(mids), "--set", "data.kind=tokens", "--out", str(tmp_path / "r")]) == 2
    config = musegan.make_config("gan", corpus=wavs, overrides=TINY[:1], steps=1)
    with pytest.raises(MuseganError, match="lstm and conv"):
        musegan.train(wavs, tmp_path / "gan", config, progress=False, log=lambda *_: None)
    config = musegan.make_config("lstm", corpus=wavs, overrides=TINY + ["data.token_decoder=bogus"], steps=1)
    with pytest.raises(MuseganError, match="token_decoder"):
        musegan.train(wavs, tmp_path / "bogus", config, progress=False, log=lambda *_: None)


def test_token_windows_are_the_stream_of_ids(wavs, tmp_path):
    prepare_corpus(wavs, tmp_path / "prep", DataConfig(kind="tokens"), progress=False)
    corpus = PreparedCorpus(tmp_path / "prep")
    stats = get_kind("audio").info(corpus, musegan.make_config("lstm", wavs))["stats"]
    codebook = learn_tokens(corpus, [0, 1], stats, size=4)["codebook"]
    ds = TokenDataset(corpus, [0, 1], 32, 16, stats, codebook)
    x = ds[1]
    assert x.shape == (32, 4) and torch.equal(x.sum(-1), torch.ones(32))
    assert torch.equal(x.argmax(-1), ds.ids[16:48])


class Copier(FrameModel):
    """A token model that has learned its training stream by heart: the next token is the
    one that followed the previous token in training (logit 12 against 0)."""

    def __init__(self, successor: torch.Tensor):
        v = len(successor)
        super().__init__(SimpleNamespace(n_features=v, n_tracks=0, steps_per_bar=0, head="categorical"))
        self.head = CategoricalHead(v, v)
        with torch.no_grad():
            self.head.proj.weight.zero_()
            self.head.proj.bias.zero_()
            self.head.proj.weight[successor, torch.arange(v)] = 12.0

    def init_state(self, batch_size, device):
        return None

    def step(self, frame, state, t):
        return frame, state  # the state is the previous token, one-hot


def copier_player(stream, max_copy_seconds):
    v = int(stream.max()) + 1
    successor = torch.zeros(v, dtype=torch.int64)
    successor[stream[:-1]] = stream[1:]
    config = RunConfig(model="lstm", data=DataConfig(kind="tokens"))
    stats = {"sr": SR, "hop_length": 512, "channels": 1, "n_bins": 3}
    info = {"stats": stats, "codebook": torch.zeros(v, 3), "grains": None, "train_ids": stream.to(torch.int16)}
    player = TokenAudioModel(Copier(successor), config, info)
    player.max_copy_seconds, player.copy_groups = max_copy_seconds, 0
    return player


def ngrams(ids, n):
    return {tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)}


def test_copy_guard_keeps_a_copying_model_from_every_training_ngram_of_its_length():
    stream = torch.randperm(40, generator=torch.Generator().manual_seed(0))  # no token repeats
    frames_per_second = SR / 512
    off = copier_player(stream, 0.0)
    assert off.forbid() is None
    train = stream.tolist()
    copied = off.generate_tokens(seconds=1.0, seed=0).tolist()
    assert len(ngrams(copied, 8) & ngrams(train, 8)) > 10  # unguarded, it recites its training stream
    for n in (2, 3, 5):
        on = copier_player(stream, n / frames_per_second)
        assert on.copy_frames == n
        ids = on.generate_tokens(seconds=1.0, seed=0).tolist()
        assert not ngrams(ids, n) & ngrams(train, n), n
        if n > 2:  # shorter stretches of it are allowed, and the model still takes them
            assert ngrams(ids, n - 1) & ngrams(train, n - 1)
    guard_copies(on, 0.0)  # --max-copy-seconds 0
    assert on.forbid() is None
    with pytest.raises(MuseganError, match="not an audio-token run"):
        guard_copies(object(), 0.1, "runs/x")


def test_copy_guard_bans_only_what_followed_the_training_prefix_and_held_tokens_unless_told():
    stream = np.array([5, 1, 2, 3, 7, 7, 7, 7, 4, 1, 2, 6])
    guard, lenient = CopyGuard(stream, 3, 8), CopyGuard(stream, 3, 8, skip_held=True)
    assert len(guard.table) == 9 and len(lenient.table) == 8  # lenient: (7, 7, 7) left out

    def frames(*rows):  # one (B, V) one-hot frame per step, the rows of a batch side by side
        return [torch.nn.functional.one_hot(torch.tensor(step), 8).float() for step in zip(*rows)]

    assert guard(frames([1])) is None  # fewer than n - 1 tokens drawn: nothing to check
    history = frames([1, 2], [3, 7], [7, 7], [2, 1])
    assert [np.flatnonzero(b).tolist() for b in guard(history).numpy()] == [[3, 6], [7], [4, 7], []]
    #       1 2 -> 3 or 6 | 3 7 -> 7 | 7 7 -> 4 or 7 | 2 1: no training prefix
    assert [np.flatnonzero(b).tolist() for b in lenient(history).numpy()] == [[3, 6], [7], [4], []]


def test_categorical_head_draws_no_banned_class_unless_all_are():
    head = CategoricalHead(4, 5)
    h = torch.zeros(2000, 4)
    banned = torch.zeros(2000, 5, dtype=torch.bool)
    banned[:1000, :3] = True
    banned[1000:] = True  # every class banned: drawn as if none were
    g = torch.Generator().manual_seed(0)
    drawn = head.sample(h, 1.0, g, banned=banned).argmax(-1)
    assert (drawn[:1000] >= 3).all() and len(set(drawn[1000:].tolist())) == 5
    assert (head.sample(h[:4], 0.0, banned=banned[:4]).argmax(-1) >= 3).all()


def test_copy_guard_by_groups_also_bans_a_copy_made_of_near_codewords():
    stream = np.array([0, 2, 4, 6, 8])  # codewords 2k and 2k + 1 are near (one group)
    history = [torch.nn.functional.one_hot(torch.tensor([t]), 10).float() for t in (1, 3)]  # 0 2's twins
    assert not CopyGuard(stream, 3, 10)(history).any()
    banned = CopyGuard(stream, 3, 10, groups=np.arange(10) // 2)(history)
    assert np.flatnonzero(banned[0].numpy()).tolist() == [4, 5]  # 4 followed 0 2, and 5 is 4's twin


JUMPS = (0, 88, 174, 260)  # the first frame TokenAudioModel.draw draws of each second of 44.1 kHz at hop 512


class Reciter(FrameModel):
    """A token model that, at the start of each second, either recites its training
    stream from a random place (tokens 0 .. V - 2 in order: the corpus's frames) or
    holds a token of its own (V - 1, a sound the corpus does not have), one or the other
    with probability 1/2."""

    def __init__(self, v: int):
        super().__init__(SimpleNamespace(n_features=v, n_tracks=0, steps_per_bar=0, head="categorical"))
        self.head = CategoricalHead(v + 1, v)
        with torch.no_grad():
            self.head.proj.weight.zero_()
            self.head.proj.bias.zero_()
            successor = torch.cat([torch.arange(1, v - 1), torch.tensor([0, v - 1])])
            self.head.proj.weight[successor, torch.arange(v)] = 20.0
            self.head.proj.weight[v - 1, v] = float(np.log(v - 1))  # at a jump: half the mass on the new sound

    def init_state(self, batch_size, device):
        return None

    def step(self, frame, state, t):
        jump = float(t in JUMPS)
        return torch.cat([frame * (1 - jump), torch.full((len(frame), 1), jump)], 1), state


def test_second_check_redraws_every_second_the_evaluation_calls_a_copy(tmp_path):
    from musegan.data.tokens import reference_info
    from musegan.evaluation import evaluate_audio

    rng = np.random.default_rng(0)
    t = np.arange(SR // 4) / SR
    bursts = []  # twenty different decaying chords: the corpus, two files of 2.5 s
    for _ in range(20):
        f = rng.uniform(150, 4000, 3)
        bursts.append((np.sin(2 * np.pi * f[:, None] * t).sum(0) / 3 * (0.2 + np.exp(-t / 0.08))).astype(np.float32))
    y = 0.5 * np.concatenate(bursts)
    (tmp_path / "ref").mkdir()
    files = [y[: len(y) // 2], y[len(y) // 2:]]
    for k, part in enumerate(files):
        sf.write(tmp_path / "ref" / f"corpus{k}.wav", part, SR, subtype="FLOAT")
    grains = [cut_grain(y[None], k, 512) for k in range(len(y) // 512 + 1)]
    grains.append(cut_grain(0.3 * np.sin(2 * np.pi * 9000 * np.arange(1024) / SR)[None], 1, 512))  # its own sound
    v = len(grains)
    codebook = torch.randn(v, 3, generator=torch.Generator().manual_seed(0))  # for the n-gram guard's groups
    info = {"stats": {"sr": SR, "hop_length": 512, "channels": 1, "n_bins": 3}, "codebook": codebook,
            "grains": torch.from_numpy(np.stack(grains)), "train_ids": torch.arange(v - 1).to(torch.int16),
            **reference_info(files, SR)}
    player = TokenAudioModel(Reciter(v), RunConfig(model="lstm", data=DataConfig(kind="tokens")), info)
    player.max_copy_seconds = 0  # the n-gram guard off: the check alone

    def copies(min_distance):
        player.min_copy_distance = min_distance
        report = evaluate_audio("reciter", tmp_path / "ref", tmp_path / f"eval-{min_distance}.json", num=6,
                                seconds=3.0, model=player, log=lambda *_: None)
        return report["nearest_neighbour"]["generated_to_reference"]

    off = copies(0.0)
    assert off["copies"] >= 4 and off["min"] < 0.05  # recited seconds: copies by the evaluation's measure
    assert player.copy_report == []
    on = copies(0.25)
    assert on["copies"] == 0 and on["min"] >= 0.25 - 1e-3 and on["segments"] == off["segments"]
    report = player.copy_report  # the last clip's seconds, as the check measured them
    assert len(report) == 3 and all(r["distance"] >= 0.25 for r in report)
    ids = player.generate_tokens(seconds=3.0, seed=5)
    assert player.copy_report == report and torch.equal(ids, player.generate_tokens(seconds=3.0, seed=5))
