"""Issue 10: the shortcut model's samplers (flow Euler / Heun, few-step) and its training targets."""

import json

import numpy as np
import pytest
import torch

from desktopgen import cli, nets, sampling
from desktopgen.core import checkpoints
from desktopgen.core import samplers as table
from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.sampling import flow, seeding
from desktopgen.sampling.diffusion import to_uint8
from desktopgen.train import flow_recipes
from desktopgen.train.loop import TrainConfig, train

TINY = {"channels": 32, "mults": [1], "blocks": 1, "attn_res": []}
MU, S = 0.3, 0.5  # the closed-form case: every pixel ~ N(MU, S^2)


def gaussian_velocity(x, t, d=0.0):
    """The exact flow-matching velocity E[eps - x0 | x_t] for x0 ~ N(MU, S^2), eps ~ N(0, 1),
    x_t = (1 - t) x0 + t eps (Gaussian conditioning: the mean plus cov / var times the offset)."""
    var = (1 - t) ** 2 * S**2 + t**2
    return -MU + (t - (1 - t) * S**2) / var * (x - (1 - t) * MU)


class GaussianFlow(nets.ShortcutUNet):
    """A stand-in network whose velocity is exact; y and d are ignored."""

    def __init__(self):
        super().__init__(nets.ShortcutUNetConfig(**TINY))

    def forward(self, x, t, y, d=None):
        return gaussian_velocity(x, t[:, None, None, None])


def random_model(arch="shortcut_unet", seed=0):
    """A tiny network with every weight random (the U-Net's zero-initialised output would
    otherwise hide any conditioning)."""
    torch.manual_seed(seed)
    model = nets.build(arch, TINY).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def run(solver, n, x1):
    gen = solver(gaussian_velocity, x1, n)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def exact_image(x1):
    """Where the exact ODE takes x1: the monotone map of N(0, 1) onto N(MU, S^2)."""
    return MU + S * x1


X1 = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_euler_with_many_steps_lands_on_the_exact_image():
    out = run(flow.euler, 1000, X1)
    assert (out - exact_image(X1)).abs().max().item() < 5e-3  # first order: ~3 / steps here
    assert abs(out.mean().item() - MU) < 0.01 and abs(out.std().item() - S) < 0.01


@pytest.mark.parametrize("solver,order", [(flow.euler, 1), (flow.heun, 2)])
def test_error_falls_at_the_solver_order(solver, order):
    errs = [(run(solver, n, X1) - exact_image(X1)).abs().max().item() for n in (16, 32, 64)]
    for coarse, fine in zip(errs, errs[1:]):
        assert 2**order * 0.8 < coarse / fine < 2**order * 1.25, errs


def test_flow_sampler_through_the_request_reaches_the_exact_image():
    req = SampleRequest(family="diffusion", sampler="flow-heun", steps=100, batch=3, seed=5,
                        guidance=1.0)
    result = sampling.run_to_end(sampling.sample(GaussianFlow(), req))
    x1 = seeding.randn(seeding.generators(5, 3), (1, 28, 28), "cpu")
    diff = result.images.astype(int) - to_uint8(exact_image(x1)).astype(int)
    assert np.abs(diff).max() <= 1 and result.steps == 100 and result.extra["network_calls"] == 200


def test_guidance_mixes_the_velocities():
    class TwoVelocities(GaussianFlow):
        def forward(self, x, t, y, d=None):
            return torch.where((y == 10)[:, None, None, None], -1.0, 2.0) * torch.ones_like(x)

    velocity = flow.guided_velocity(TwoVelocities(), torch.tensor([3, 4]), 1.5)
    u = velocity(torch.zeros(2, 1, 28, 28), 0.5, 0.0)
    assert torch.equal(u, torch.full_like(u, -1.0 + 1.5 * (2.0 - -1.0)))
    assert torch.equal(flow.guided_velocity(TwoVelocities(), torch.tensor([3]), 0.0)(
        torch.zeros(1, 1, 28, 28), 0.5, 0.0), torch.full((1, 1, 28, 28), -1.0))


def test_step_size_conditioning_changes_the_output():
    model = random_model()
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    t, y = torch.full((2,), 0.5), torch.tensor([1, 10])
    with torch.no_grad():
        outs = [model(x, t, y, torch.full((2,), d)) for d in (0.0, 1 / 128, 0.25, 1.0)]
        assert torch.equal(model(x, t, y), outs[0])  # no d means d = 0
    for a in range(4):
        for b in range(a + 1, 4):
            assert (outs[a] - outs[b]).abs().max() > 1e-3


def test_one_step_of_size_one_is_x1_minus_u():
    model = random_model()
    req = SampleRequest(family="diffusion", sampler="few-step", steps=1, batch=2, seed=7,
                        class_label=2, guidance=1.0)
    result = sampling.run_to_end(sampling.sample(model, req))
    x1 = seeding.randn(seeding.generators(7, 2), (1, 28, 28), "cpu")
    with torch.no_grad():
        u = model(x1, torch.ones(2), torch.tensor([2, 2]), torch.ones(2))
    assert np.array_equal(result.images, to_uint8(x1 - u)) and result.steps == 1


def test_few_step_tells_the_network_its_step_size():
    seen = []

    class Recorder(GaussianFlow):
        def forward(self, x, t, y, d=None):
            seen.append((t[0].item(), d[0].item()))
            return torch.zeros_like(x)

    sampling.run_to_end(sampling.sample(Recorder(), SampleRequest(
        family="diffusion", sampler="few-step", steps=4, guidance=1.0)))
    assert seen == [(1.0, 0.25), (0.75, 0.25), (0.5, 0.25), (0.25, 0.25)]


def test_self_consistency_target_on_a_linear_model():
    a, b, c, e = 0.5, -2.0, 3.0, 0.25

    def u(x, t, y, d):  # a linear toy velocity: a x + b t + c d + e
        return a * x + (b * t + c * d + e)[:, None, None, None]

    x = torch.randn(3, 1, 28, 28, dtype=torch.float64)
    t = torch.tensor([1.0, 0.5, 2**-7], dtype=torch.float64)
    d = torch.tensor([1.0, 0.25, 2**-7], dtype=torch.float64)
    target = flow_recipes.shortcut_targets(u, x, t, d, torch.zeros(3, dtype=torch.long))
    expected = []
    for i in range(3):
        h = d[i].item() / 2
        h_in = h if h >= 2**-7 else 0.0  # below the smallest trained step: the flow velocity
        s1 = a * x[i] + b * t[i].item() + c * h_in + e
        s2 = a * (x[i] - h * s1) + b * (t[i].item() - h) + c * h_in + e
        expected.append((s1 + s2) / 2)
    assert torch.allclose(target, torch.stack(expected), atol=1e-12, rtol=0)


def test_shortcut_times_lie_on_their_step_grid():
    t, d = flow_recipes.shortcut_times(4000, torch.Generator().manual_seed(0), "cpu")
    assert set(torch.log2(d).round().int().tolist()) == set(range(-7, 1))
    assert torch.equal(t / d, (t / d).round()) and (t - d >= 0).all() and (t <= 1).all()


def test_samples_depend_only_on_seed_and_index():
    model = random_model()
    req = SampleRequest(family="diffusion", sampler="flow-euler", steps=2, batch=3, seed=11,
                        class_label=4)
    whole = sampling.run_to_end(sampling.sample(model, req)).images
    for i in range(3):
        one = sampling.run_to_end(sampling.sample(model, req.with_(batch=1, first_index=i))).images
        assert np.array_equal(one[0], whole[i])


def test_flow_samplers_refuse_a_diffusion_model_and_the_reverse():
    with pytest.raises(ValueError, match="needs a flow model"):
        sampling.run_to_end(sampling.sample(random_model("unet"), SampleRequest(
            family="diffusion", sampler="few-step")))
    with pytest.raises(ValueError, match="needs a diffusion-unet model"):
        sampling.run_to_end(sampling.sample(random_model(), SampleRequest(
            family="diffusion", sampler="ddim")))


def test_missing_flow_model_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    with pytest.raises(checkpoints.ModelNotFoundError, match="fmnist-flow, which is not shipped"):
        sampling.load("diffusion", "", "cpu", sampler="flow-euler")
    code = cli.main(["sample", "--family", "diffusion", "--sampler", "few-step", "--n", "1",
                     "--out", str(tmp_path / "x.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "desktopgen train flow" in err


def test_tiny_training_runs_and_the_checkpoint_samples(tmp_path, monkeypatch):
    out = tmp_path / "fmnist-flow"
    card = train(TrainConfig(model="shortcut", out=str(out), steps=20, batch=4, limit=64,
                             device="cpu", arch=TINY))
    assert card["steps"] == 20 and np.isfinite(card["final_loss"])
    assert json.loads((out / "config.json").read_text())["arch"] == "shortcut_unet"
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    model, card = sampling.load("diffusion", "", "cpu", sampler="few-step")
    assert card["name"] == "fmnist-flow" and nets.kind_of(model) == "flow"
    result = sampling.run_to_end(sampling.sample(model, SampleRequest(
        family="diffusion", sampler="few-step", steps=2, batch=2)))
    assert result.images.shape == (2, 28, 28)
    assert cli.build_parser().parse_args(["train", "flow", "--out", "x"]).model == "flow"


@pytest.mark.parametrize("arch", ["shortcut_unet", "inpaint_unet"])
def test_parameter_count_from_the_config_equals_the_built_network(arch):
    checked = nets.check_config(arch, TINY)
    built = nets.build(arch, TINY)
    assert nets.parameter_count(arch, checked) == sum(p.numel() for p in built.parameters())
    with pytest.raises(nets.ConfigError, match="unknown"):
        nets.check_config(arch, {"kernels": 3})


@pytest.mark.parametrize("spec", [s for s in table.samplers_for("diffusion") if s.model_kind == "flow"],
                         ids=lambda s: s.name)
def test_every_flow_sampler_runs_at_its_extreme_step_counts(spec):
    for steps in sorted({int(spec.steps_range.lo), 2, int(spec.steps_range.hi)}):
        req = SampleRequest(family="diffusion", sampler=spec.name, steps=steps, batch=1, guidance=2.0)
        result = sampling.run_to_end(sampling.sample(GaussianFlow(), req, preview_every=0))
        assert result.steps == steps and result.images.shape == (1, 28, 28)
    with pytest.raises(RequestError, match="steps must be"):
        sampling.with_defaults(SampleRequest(family="diffusion", sampler=spec.name,
                                             steps=int(spec.steps_range.hi) + 1))
