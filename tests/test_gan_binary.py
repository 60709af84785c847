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


def test_a_voice_track_sounds_at_most_one_pitch_per_step_in_training_and_generation():
    m = small(mono_tracks=(1, 0, 0), voices=True)
    with torch.no_grad():  # every pitch likely, so that without the voice rule all would sound
        for g in m.generator.bars:
            g.out.bias.fill_(2.0)
    x = torch.zeros(4, P * S, K * C * PI)  # what a random mask keeps of it is silent
    fake = m.fake(m.real(x), BatchNoise(torch.Generator().manual_seed(0), 4, 0, 4, "cpu"))  # (B, K, P, S, pitches)
    assert fake[:, 0].sum(-1).max() == 1 and fake[:, 1].sum(-1).max() > 1
    out = m.generate(2, 3 * S, generator=torch.Generator().manual_seed(1)).view(2, 3 * S, K, C, PI)
    assert out[:, :, 0, 0].sum(-1).max() == 1 and out[:, :, 1, 0].sum(-1).min() > 1
    with torch.no_grad():  # no pitch above 0.5, but the voice's mass is 12 x 0.1: it sounds, one pitch a step
        for g in m.generator.bars:
            g.out.weight.zero_(), g.out.bias.fill_(-2.2)
    quiet = m.generate(2, 3 * S, generator=torch.Generator().manual_seed(1)).view(2, 3 * S, K, C, PI)
    assert (quiet[:, :, 0, 0].sum(-1) == 1).all() and quiet[:, :, 1, 0].sum() == 0
    m.config.voices = False  # the rule is the setting's: off, the voice track sounds chords too
    with torch.no_grad():
        for g in m.generator.bars:
            g.out.bias.fill_(2.0)
    assert m.generate(2, 3 * S, generator=torch.Generator().manual_seed(1)).view(2, 3 * S, K, C, PI)[:, :, 0, 0].sum(-1).max() > 1


@pytest.mark.parametrize("onsets", [True, False])
def test_the_critic_reads_where_notes_start_only_with_critic_onsets(onsets):
    m = small(critic_onsets=onsets)
    held = torch.zeros(1, K, P, S, PI)
    held[:, 0, :, :, 5] = 1
    chopped = held.clone()
    chopped[:, 0, :, 1::2, 5] = 0
    chopped[:, 0, :, 1::2, 7] = 1  # the same count of sounding notes per step, in other pitch classes
    first = m.critic.bar[0]
    with torch.no_grad():  # only the onset chroma left to read, if there is one
        first.weight[:, : K * (m.config.pitch_dim + 12)] = 0
    a, b = m.critic(held), m.critic(chopped)
    assert (not torch.allclose(a, b)) == onsets


def test_the_onset_penalty_adds_note_starts_per_step_to_the_generator_loss():
    m = small(onset_penalty=0.5)
    x = frames(4, P)
    noise = lambda: BatchNoise(torch.Generator().manual_seed(3), 4, 0, 4, "cpu")  # noqa: E731
    out = m(x, "generator", noise())
    fake = m.fake(m.real(x), noise()).flatten(2, 3)  # (B, K, P*S, pitches), the same draw
    starts = fake * (1 - torch.nn.functional.pad(fake, (0, 0, 1, 0))[:, :, :-1])
    per_step = starts.sum(-1).mean()
    assert per_step > 0 and torch.allclose(out["loss"] - out["g_loss"], 0.5 * per_step)


def test_a_voice_holds_its_note_where_two_pitches_take_turns_and_rests_where_its_mass_is_low():
    from musegan.models.gan import voice_path

    T, D = 16, 6
    probs = torch.full((1, T, D), 0.01)
    probs[0, :12, 2] = torch.tensor([0.45, 0.40] * 6)  # the likeliest pitch flips every step
    probs[0, :12, 3] = torch.tensor([0.40, 0.45] * 6)
    held = voice_path(probs, change=0.2)[0]
    assert (held[:12] == held[0]).all() and held[0] in (3, 4) and (held[12:] == 0).all()  # then a rest
    free = voice_path(probs, change=0.999)[0]  # no prior to hold: the likeliest state of each step
    assert free[:12].tolist() == [3, 4] * 6
