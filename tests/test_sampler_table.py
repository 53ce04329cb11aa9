"""The one sampler table (desktopgen/core/samplers.py) is what the engine and the CLI use."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from desktopgen import cli, nets, sampling
from desktopgen.core import samplers as table
from desktopgen.core.requests import RequestError, SampleRequest


def test_table_is_torch_free():
    code = "import sys, desktopgen.core.samplers; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_few_step_default_guidance_depends_on_the_step_count():
    spec = table.get_sampler("few-step")
    assert [spec.default_guidance(n) for n in (1, 2, 3, 4)] == [1.5, 1.5, 2.0, 2.0]
    assert table.get_sampler("ddim").default_guidance(1) == 2.0  # one guidance for every count
    req = SampleRequest(family="diffusion", sampler="few-step", steps=1)
    assert sampling.with_defaults(req).guidance == 1.5
    assert sampling.with_defaults(req.with_(steps=0)).guidance == 2.0  # its default 4 steps
    assert sampling.with_defaults(req.with_(guidance=1.0)).guidance == 1.0  # asked for: kept


def test_every_family_has_samplers_and_defaults_within_ranges():
    for family in ("diffusion", "ar"):
        specs = table.samplers_for(family)
        assert specs and table.default_sampler(family) is specs[0]
        for s in specs:
            assert s.family == family and table.get_sampler(s.name) is s
            assert (s.steps or s.steps_range.hi) in s.steps_range
            assert s.guidance in s.guidance_range and s.temperature in s.temperature_range
    assert table.default_sampler("diffusion").name == "dpmpp-2m"
    assert table.default_sampler("ar").name == "pixel"
    with pytest.raises(RequestError, match="unknown sampler 'euler'"):
        table.get_sampler("euler")


@pytest.mark.parametrize("family", ["diffusion", "ar"])
def test_with_defaults_fills_in_the_table_defaults(family):
    spec = table.default_sampler(family)
    req = sampling.with_defaults(SampleRequest(family=family))
    assert req.sampler == spec.name and req.guidance == spec.guidance
    assert req.model == spec.default_model
    assert req.steps == (spec.steps or spec.steps_range.hi)


def test_with_defaults_refuses_a_sampler_of_the_other_family_and_out_of_range_values():
    with pytest.raises(RequestError, match="for diffusion, not ar"):
        sampling.with_defaults(SampleRequest(family="ar", sampler="ddim"))
    with pytest.raises(RequestError, match="pixel: steps must be 784"):
        sampling.with_defaults(SampleRequest(family="ar", steps=20))
    with pytest.raises(RequestError, match="ddim: temperature must be 1"):
        sampling.with_defaults(SampleRequest(family="diffusion", sampler="ddim", temperature=0.5))


def test_ar_sampler_falls_back_to_the_table_guidance():
    """Issue 8: ar.sample's own fallback was guidance 1.0 against a default of 1.5."""
    torch.manual_seed(0)
    model = nets.build("pixel_ar", {"n_layer": 1, "n_embd": 32, "n_head": 2, "dropout": 0.0}).eval()

    def images(guidance):
        req = SampleRequest(family="ar", batch=2, seed=3, guidance=guidance)
        return sampling.run_to_end(sampling.ar.sample(model, req)).images

    assert table.default_sampler("ar").guidance != 1.0
    assert np.array_equal(images(-1.0), images(table.default_sampler("ar").guidance))


def test_cli_sampler_choices_and_ranges_come_from_the_table():
    p = cli.build_parser()
    for name in table.SAMPLERS:
        a = p.parse_args(["sample", "--family", "diffusion", "--sampler", name, "--n", "1",
                          "--out", "x.png", "--steps", "1000", "--guidance", "20"])
        assert a.sampler == name and a.steps == 1000
    for bad in (["--sampler", "euler"], ["--steps", "1001"], ["--guidance", "21"]):
        with pytest.raises(cli.UsageError):
            p.parse_args(["sample", "--family", "diffusion", "--n", "1", "--out", "x.png", *bad])


def test_eval_rows_replace_the_one_setting_and_the_sweep():
    """tools/cpu_evals.py measures several settings after one set-up (data, test features, floor)."""
    from desktopgen.engine import EvalConfig, _sweep_configs

    cfg = EvalConfig(family="ar", sampler="maskgit", rows=(("maskgit", 8, -1.0), ("maskgit", 12, 2.5)))
    assert [(c["sampler"], c["steps"], c["guidance"]) for c in _sweep_configs("ar", cfg)] == [
        ("maskgit", 8, -1.0), ("maskgit", 12, 2.5)]
    one = EvalConfig(family="ar", sampler="maskgit", steps=10)
    assert [(c["steps"], c["guidance"]) for c in _sweep_configs("ar", one)] == [(10, -1.0)]
