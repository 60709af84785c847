"""The conv family and the NADE head: causality, step-by-step generation that matches the
teacher-forced pass, and a joint head that is a normalised distribution."""
import itertools

import pytest
import torch

from musegan.errors import MuseganError
from musegan.models import build_model, model_config_class
from musegan.models.base import shift_right
from musegan.models.conv import receptive_field
from musegan.models.nade import NADEHead


def make(name, **kw):
    torch.manual_seed(0)
    base = {"n_features": 12, "steps_per_bar": 4, "hidden_size": 16, "num_layers": 3, "dropout": 0.3}
    if name == "conv":
        base["kernel_size"] = 3
    config = model_config_class(name)(**{**base, **kw})
    return build_model(name, config).eval()


def frames(b=2, t=40, f=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, t, f, generator=g) < 0.3).float()


@pytest.mark.parametrize("norm", ["weight", "layer", "none"])
def test_conv_is_causal(norm):
    model = make("conv", norm=norm)
    x = frames()
    t = 17
    y = x.clone()
    y[:, t] = 1 - y[:, t]
    with torch.no_grad():
        a, b = model.hidden(shift_right(x)), model.hidden(shift_right(y))
    assert torch.equal(a[:, :t + 1], b[:, :t + 1])  # the state that predicts frame t (and before) never sees it
    assert not torch.allclose(a[:, t + 1], b[:, t + 1])  # the next one does


def test_conv_receptive_field_is_what_it_says():
    model = make("conv", num_layers=2, kernel_size=2)
    r = receptive_field(model.config)
    assert r == 7
    x = frames(t=30)
    y = x.clone()
    y[:, 5] = 1 - y[:, 5]
    with torch.no_grad():
        a, b = model.hidden(shift_right(x)), model.hidden(shift_right(y))
    assert not torch.allclose(a[:, 5 + r], b[:, 5 + r])
    assert torch.equal(a[:, 6 + r:], b[:, 6 + r:])


def step_by_step(model, x):
    state = model.init_state(x.shape[0], x.device)
    prev = torch.zeros_like(x[:, 0])
    out = []
    for t in range(x.shape[1]):
        h, state = model.step(prev, state, t)
        out.append(h)
        prev = x[:, t]
    return torch.stack(out, 1)


@pytest.mark.parametrize("name,kw", [("conv", {}), ("conv", {"norm": "layer", "kernel_size": 2}),
                                     ("conv", {"head": "nade", "head_hidden": 8}), ("lstm", {"head": "nade"})])
def test_step_by_step_gives_the_teacher_forced_states_and_logits(name, kw):
    model = make(name, **kw)
    x = frames(t=50)  # longer than the conv's receptive field (29): the caches roll over
    with torch.no_grad():
        forced = model.hidden(shift_right(x))
        stepped = step_by_step(model, x)
        assert torch.allclose(forced, stepped, atol=1e-5)
        if kw.get("head") == "nade":
            assert torch.allclose(model.head.logits(forced, x), model.head.logits(stepped, x), atol=1e-5)
            assert torch.allclose(model.head.nll(forced, x), model.nll(x), atol=1e-5)


def test_nade_sampling_uses_the_logits_of_the_teacher_forced_pass():
    torch.manual_seed(3)
    head = NADEHead(10, 30, 16)
    with torch.no_grad():
        head.V.normal_()
        head.bias_v.bias.fill_(-1.0)
    h = torch.randn(64, 10)
    frame, logits = head.sample_with_logits(h, 1.0, torch.Generator().manual_seed(0))
    assert 0 < frame.mean() < 1
    assert torch.allclose(logits, head.logits(h, frame), atol=1e-5)
    greedy = head.sample(h, 0.0)
    assert torch.equal(greedy, (head.logits(h, greedy) > 0).float())
    a = head.sample(h, 1.0, torch.Generator().manual_seed(5))
    b = head.sample(h, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_nade_is_a_normalised_distribution_over_frames():
    torch.manual_seed(4)
    n = 6
    head = NADEHead(5, n, 7)
    with torch.no_grad():
        head.V.normal_(std=2.0)
        head.W.normal_(std=2.0)
    every = torch.tensor(list(itertools.product([0, 1], repeat=n)), dtype=torch.float32)  # all 2^6 frames
    h = torch.randn(3, 1, 5).expand(-1, len(every), -1)
    with torch.no_grad():
        p = torch.exp(-head.nll(h, every.expand(3, -1, -1)).double()).sum(1)
    assert torch.allclose(p, torch.ones(3, dtype=torch.float64), atol=1e-5)
    # and it is not the independent model: the notes depend on each other
    with torch.no_grad():
        lone = head.logits(h[:1, :1], torch.tensor([[[1.0, 0, 0, 0, 0, 0]]]))
        pair = head.logits(h[:1, :1], torch.tensor([[[0.0, 0, 0, 0, 0, 0]]]))
    assert not torch.allclose(lone[..., 1:], pair[..., 1:])


def test_generation_of_any_length_is_reproducible_for_both_heads():
    for head in ("bernoulli", "nade"):
        model = make("conv", head=head, head_hidden=8)
        primer = frames(b=1, t=5)[0]
        a = model.generate(2, 60, primer=primer, generator=torch.Generator().manual_seed(1))
        b = model.generate(2, 60, primer=primer, generator=torch.Generator().manual_seed(1))
        assert a.shape == (2, 65, 12) and torch.equal(a, b)
        assert torch.equal(a[0, :5], primer)
        assert set(a.unique().tolist()) <= {0.0, 1.0}


def test_bad_head_and_norm_are_one_line_errors():
    with pytest.raises(MuseganError, match="model.head"):
        make("lstm", head="gauss")
    with pytest.raises(MuseganError, match="model.norm"):
        make("conv", norm="batch")
