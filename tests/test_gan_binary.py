"""BinaryMuseGAN's binary neurons: 0/1 phrases forward, straight-through gradients
backward; generation as in training; configs written before them still build."""
import pytest
import torch

from musegan.config import RunConfig
from musegan.models.base import BatchNoise
from musegan.models.gan import GANConfig, binary_neurons

from test_gan import C, K, PI, S, P, frames, small


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_straight_through_is_binary_forward_and_passes_gradients_back(mode):
    m = small(binary_neurons=mode)
    x = frames(4, P)
    fake = m.fake(m.real(x), BatchNoise(torch.Generator().manual_seed(0), 4, 0, 4, "cpu"))
    assert set(fake.unique().tolist()) <= {0.0, 1.0}
    m.zero_grad()
    m(x, "generator", BatchNoise(torch.Generator().manual_seed(1), 4, 0, 4, "cpu"))["loss"].backward()
    grads = [p.grad for p in m.generator.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_binary_neuron_values_and_identity_gradient():
    logits = torch.tensor([-2.0, -0.1, 0.1, 3.0], requires_grad=True)
    p = torch.sigmoid(logits)
    out = binary_neurons(p, "deterministic")
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0]
    out.sum().backward()
    assert torch.allclose(logits.grad, p * (1 - p))  # d sigmoid: the neuron passes the gradient through
    u = torch.tensor([0.5, 0.5, 0.9, 0.0])
    assert binary_neurons(p.detach(), "stochastic", u).tolist() == [0.0, 0.0, 0.0, 1.0]
    assert binary_neurons(p, "none") is p


@pytest.mark.parametrize("mode,sampling", [("deterministic", "threshold"), ("stochastic", "bernoulli"),
                                           ("none", "bernoulli")])
def test_generation_samples_as_in_training_and_repeats_with_a_seed(mode, sampling):
    m = small(binary_neurons=mode)
    with torch.no_grad():  # notes near the threshold, so both ways of sampling write some
        for g in m.generator.bars:
            g.out.bias.fill_(0.2)
    assert m.sampling == sampling
    out = [m.generate(2, 3 * S, generator=torch.Generator().manual_seed(s)) for s in (7, 7, 8)]
    assert set(out[0].unique().tolist()) == {0.0, 1.0}
    assert torch.equal(out[0], out[1]) and not torch.equal(out[0], out[2])
    if mode == "deterministic":  # the critic's view: the output thresholded, whatever the draw after it
        probs = torch.full((1, K, P, S, PI), 0.6)
        assert torch.equal(m.binarize(probs, 1.0, torch.Generator().manual_seed(0)), torch.ones_like(probs))


def test_a_config_from_before_binary_neurons_still_builds_and_keeps_its_sampling():
    old = {"n_features": K * C * PI, "steps_per_bar": S, "n_tracks": K, "n_channels": C, "n_pitches": PI,
           "n_bars": P, "mode": "hybrid", "z_dim": 4, "hidden": 8, "cond_dim": 8, "critic_hidden": 8,
           "pitch_dim": 4, "gp_weight": 10.0, "n_critic": 5, "beta1": 0.5, "beta2": 0.9, "cond_tracks_p": 0.5,
           "cond_bars_p": 0.5, "binarize": "bernoulli", "truncation": 0.0, "overlap_bars": 0}
    config = RunConfig.from_dict({"model": "gan", "model_config": old})
    assert config.model_config.binary_neurons == "deterministic" and config.model_config.binarize == "bernoulli"
    m = small(**{k: old[k] for k in ("binarize",)})
    assert m.sampling == "bernoulli"  # an old run samples as it did
    keys = set(small(binary_neurons="none").state_dict())
    assert keys == set(small().state_dict())  # the same weights: old checkpoints load
    with pytest.raises(Exception, match="binary_neurons"):
        small(binary_neurons="soft")


def test_key_logits_start_at_zero_and_keep_the_weights_of_old_runs_otherwise():
    assert set(small().state_dict()) == set(small(binary_neurons="none").state_dict())  # old checkpoints load
    m = small(key_logits=True)
    assert not m.generator.key.weight.any() and (m.generator.key_gain == 1).all()
    z = m.sample_latents(2, "cpu", torch.Generator().manual_seed(0))
    known, mask = torch.zeros(2, K, P, S, PI), torch.zeros(2, K, P, dtype=torch.bool)
    with torch.no_grad():
        before = m.generator(z, known, mask)
        m.generator.key.bias[3] = 2.0  # pitch class 3 up in every track
        after = m.generator(z, known, mask)
    assert torch.allclose((after - before)[..., 3::12], torch.tensor(2.0)) and torch.equal(after[..., :3], before[..., :3])
