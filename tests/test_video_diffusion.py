"""The space-time U-Net, its training recipe, and the joint video diffusion sampler (tiny, CPU)."""

import contextlib
from dataclasses import asdict

import numpy as np
import pytest
import torch

from desktopgen import nets
from desktopgen.core import checkpoints
from desktopgen.core.events import RunResult
from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.nets.video_unet import VideoUNet, VideoUNetConfig, condition_input, parameter_count
from desktopgen.sampling import run_to_end, video_diffusion
from desktopgen.train import video_recipes

TINY = {"channels": 8, "mults": [1, 1, 2], "blocks": 1, "temporal_res": [12], "head_dim": 8}


def _tiny(seed=0, randomise=True) -> VideoUNet:
    torch.manual_seed(seed)
    m = nets.build("video_unet", TINY)
    if randomise:  # the zero-initialised output layers would hide every path through the net
        with torch.no_grad():
            for p in m.parameters():
                if not p.abs().sum():
                    p.normal_(0, 0.1)
    return m.eval()


@pytest.mark.parametrize("config", [TINY, {}, {"channels": 48, "mults": [1, 2, 2, 4], "head_dim": 16,
                                               "temporal_res": [6, 24]}])
def test_parameter_count_from_the_config_equals_the_built_network(config):
    checked = nets.check_config("video_unet", config)
    with torch.device("meta"):
        built = nets.build("video_unet", checked)
    assert parameter_count(checked) == sum(p.numel() for p in built.parameters())


def test_default_network_fits_the_size_budget():
    assert 2 * parameter_count(asdict(VideoUNetConfig())) <= 20e6  # float16 weights, <= 20 MB


@pytest.mark.parametrize("bad", [{"mults": [1, 2, 2, 2, 2]}, {"temporal_res": [7]}, {"channels": 12},
                                 {"image_size": 28}, {"frames": 16}, {"head_dim": 48}])
def test_bad_configs_are_refused(bad):
    with pytest.raises(nets.ConfigError):
        nets.check_config("video_unet", bad)


def test_registered_as_a_video_diffusion_model():
    m = _tiny(randomise=False)
    assert nets.arch_of(m)[0] == "video_unet" and nets.kind_of(m) == "video-diffusion"
    assert checkpoints.ARCH_FAMILY["video_unet"] == "video-diffusion"


@pytest.mark.parametrize("frames", [1, 3, 6])
def test_any_number_of_frames(frames):
    m = _tiny()
    x = torch.randn(2, frames, 48, 48)
    with torch.no_grad():
        v = m(x, torch.tensor([10.0, 900.0]), torch.tensor([3, 10]))
    assert v.shape == x.shape and torch.isfinite(v).all()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [3, 6, 18])
def test_a_clip_does_not_depend_on_the_rest_of_the_batch(batch, threads):
    """Also on one thread (the app's workers on a 2-core machine), where oneDNN's 1x1 convolution
    gave batch-dependent bits until the skip became a Pointwise (break-checked)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _check_batch_independence(batch)
    finally:
        torch.set_num_threads(before)


def _check_batch_independence(batch):
    m = _tiny()
    x, y = torch.randn(batch, 3, 48, 48), torch.arange(batch) % 11
    t = torch.rand(batch) * 999
    with torch.no_grad():
        whole, last = m(x, t, y), m(x[-2:], t[-2:], y[-2:])
    assert torch.equal(whole[-2:], last)  # bit for bit


def test_temporal_attention_in_slices_equals_all_at_once(monkeypatch):
    from desktopgen.nets import video_unet

    m = _tiny()
    x, t, y = torch.randn(2, 3, 48, 48), torch.tensor([100.0, 700.0]), torch.tensor([0, 5])
    with torch.no_grad():
        whole = m(x, t, y)
        monkeypatch.setattr(video_unet, "MAX_SEQUENCES", 7)  # 2 * 144 pixel sequences at 12 px
        assert torch.allclose(m(x, t, y), whole, atol=1e-6)


def test_frames_see_each_other_and_their_order():
    m = _tiny()
    x = torch.randn(1, 4, 48, 48)
    t, y = torch.tensor([500.0]), torch.tensor([1])
    with torch.no_grad():
        base = m(x, t, y)
        x2 = x.clone()
        x2[:, 0] += 1  # change frame 0 only
        assert (m(x2, t, y)[:, 3] - base[:, 3]).abs().max() > 1e-4
        swapped = m(x[:, [1, 0, 2, 3]], t, y)[:, [1, 0, 2, 3]]
        assert (swapped - base).abs().max() > 1e-4  # frames know their index


def test_known_frames_reach_the_network():
    m = _tiny()
    x = torch.randn(1, 4, 48, 48)
    known = torch.rand(1, 4, 48, 48) * 2 - 1
    t, y = torch.tensor([500.0]), torch.tensor([2])
    with torch.no_grad():
        free = m(x, t, y)
        assert torch.equal(free, m(x, t, y, condition_input(known, torch.ones(1, 4))))  # nothing known
        cond = m(x, t, y, condition_input(known, torch.tensor([[0.0, 0, 1, 1]])))
    assert (cond - free).abs().max() > 1e-4


def test_condition_input_zeroes_the_frames_to_generate():
    known = torch.rand(2, 3, 48, 48)
    c = condition_input(known, torch.tensor([[0.0, 1, 1], [0, 0, 1]]))
    assert c.shape == (2, 2, 3, 48, 48)
    assert torch.equal(c[0, 0, 0], known[0, 0]) and not c[0, 0, 1:].any() and not c[1, 0, 2].any()
    assert torch.equal(c[1, 1, :, 0, 0], torch.tensor([0.0, 0, 1]))


def test_context_masks_mix_no_context_and_known_prefixes():
    g = torch.Generator().manual_seed(0)
    m = video_recipes.context_masks(4000, 16, g, "cpu")
    k = (m == 0).sum(1)
    assert ((m[:, 1:] - m[:, :-1]) >= 0).all()  # known frames are a prefix
    assert 0.55 < (k == 0).float().mean() < 0.65 and 0.2 < (k == 4).float().mean() < 0.25
    assert k.max() == 15 and (m[:, -1] == 1).all()  # always something to generate


def test_recipe_loss_counts_only_generated_frames(monkeypatch):
    recipe = video_recipes.VideoDiffusionRecipe("cpu")
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2])
    masks = torch.tensor([[1.0] * 16, [0.0] * 4 + [1.0] * 12, [0.0] * 15 + [1.0]])
    monkeypatch.setattr(video_recipes, "context_masks", lambda n, f, g, d: masks)
    seen = {}

    def model(x_t, t, y, cond):
        seen["cond"] = cond
        out = torch.zeros_like(x_t)
        out[1, :4] = 1e6  # garbage on known frames: must not count
        out[2, :15] = -1e6
        return out

    loss = recipe.loss(model, images, labels, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss < 10
    assert torch.equal(seen["cond"][:, 1, :, 0, 0], masks)
    loss.backward() if loss.requires_grad else None


# ---- the sampler -------------------------------------------------------------------------

def _req(**kw):
    return SampleRequest(family="diffusion", **{"steps": 1, "guidance": 2.0, "seed": 3, **kw})


def _run(model, req, frames, **kw):
    return run_to_end(video_diffusion.sample_video(model, req, frames, "cpu", **kw))


def test_blocks_cover_the_clip_with_known_frames_from_the_last_block():
    assert video_diffusion.blocks(16) == [(0, 16)]
    assert video_diffusion.blocks(8) == [(0, 8)]
    assert video_diffusion.blocks(64) == [(0, 16), (12, 28), (24, 40), (36, 52), (48, 64)]
    assert video_diffusion.blocks(20) == [(0, 16), (4, 20)]
    assert video_diffusion.blocks(7, 4, 2) == [(0, 4), (2, 6), (3, 7)]


def test_clip_shape_steps_and_previews_of_every_frame():
    m = _tiny()
    events = []
    res = run_to_end(video_diffusion.sample_video(m, _req(batch=2, class_label=4, steps=2), 7, "cpu",
                                                  preview_every=1, block=4, context=2), events.append)
    assert isinstance(res, RunResult) and res.images.shape == (2, 7, 48, 48) and res.images.dtype == np.uint8
    assert res.labels.tolist() == [4, 4] and res.steps == 6 and len(events) == 6
    assert [e.step for e in events] == list(range(1, 7)) and all(e.total == 6 for e in events)
    assert all(e.preview.shape == (2, 7, 48, 48) and e.preview_clean.shape == (2, 7, 48, 48) for e in events)
    assert not events[0].preview[:, 4:].any()  # frames not reached yet are black
    assert np.array_equal(events[-1].preview, res.images)
    assert res.extra["blocks"] == [(0, 4), (2, 6), (3, 7)]


def test_sample_depends_only_on_seed_and_index():
    m = _tiny()
    whole = _run(m, _req(batch=3, steps=2), 5, block=4, context=2).images
    one = _run(m, _req(batch=1, steps=2, first_index=2), 5, block=4, context=2).images
    assert np.array_equal(whole[2:], one)  # bit for bit, through an extension block
    assert np.array_equal(whole[:1], _run(m, _req(batch=1, steps=2), 5, block=4, context=2).images)
    other_seed = _run(m, _req(batch=1, steps=2, seed=4), 5, block=4, context=2).images
    assert not np.array_equal(whole[:1], other_seed)


@pytest.mark.parametrize("sampler", ["dpmpp-2m", "ddim", "ddpm"])
def test_extension_keeps_the_conditioning_frames_exact(sampler):
    m = _tiny()
    known_u8 = np.random.default_rng(0).integers(0, 256, (2, 4, 48, 48)).astype(np.uint8)
    known = video_diffusion.from_uint8(known_u8, "cpu")
    gens = [torch.Generator().manual_seed(i) for i in range(2)]

    def noise():
        return torch.stack([torch.randn((4, 48, 48), generator=g) for g in gens])

    run = video_diffusion.denoise_block(m, torch.tensor([1, 2]), known, 3, sampler, 3, 2.0, noise,
                                        contextlib.nullcontext)
    try:
        while True:
            next(run)
    except StopIteration as stop:
        x = stop.value
    out = video_diffusion.to_uint8(x)
    assert np.array_equal(out[:, :3], known_u8[:, :3])  # bit for bit
    assert not np.array_equal(out[:, 3], known_u8[:, 3])  # the frame to make is made


def test_a_longer_clip_starts_with_the_short_clip_and_continues_from_it():
    m = _tiny()
    short = _run(m, _req(batch=2), 4, block=4, context=2).images
    long = _run(m, _req(batch=2), 8, block=4, context=2)
    assert np.array_equal(long.images[:, :4], short)
    assert long.extra["blocks"] == [(0, 4), (2, 6), (4, 8)]


def test_cancel_mid_run():
    gen = video_diffusion.sample_video(_tiny(), _req(steps=3), 4, "cpu", block=4)
    next(gen)
    gen.close()


@pytest.mark.parametrize("kw,frames", [({"sampler": "flow-euler"}, 4), ({}, 0), ({}, 1000),
                                       ({"batch": 0}, 4), ({"steps": 1001}, 4)])
def test_bad_requests_are_refused_in_one_line(kw, frames):
    with pytest.raises(RequestError):
        next(video_diffusion.sample_video(_tiny(randomise=False), _req(**kw), frames, "cpu"))


def test_missing_default_model_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    with pytest.raises(checkpoints.ModelNotFoundError, match="train video-diffusion"):
        video_diffusion.load()


def test_saved_tiny_model_loads_as_a_video_model(tmp_path):
    checkpoints.save_model(_tiny(), tmp_path / "vd", {"model": "video-diffusion"})
    model, card = video_diffusion.load(str(tmp_path / "vd"))
    assert isinstance(model, VideoUNet) and card["name"] == "vd"
    checkpoints.save_model(nets.build("classifier", {"width": 4, "feature_dim": 8}), tmp_path / "c", {})
    with pytest.raises(checkpoints.CheckpointError, match="not a video diffusion model"):
        video_diffusion.load(str(tmp_path / "c"))


def _train_tiny(tmp_path, steps):
    from desktopgen.train.loop import TrainConfig, train

    out = tmp_path / "vd"
    card = train(TrainConfig(model="video-diffusion", out=str(out), steps=steps, batch=2, limit=64,
                             device="cpu", lr=3e-3, warmup=2, ema=0.5, arch=TINY, checkpoint_every=1000))
    return out, card


def test_video_recipe_trains_saves_and_samples(tmp_path):
    out, card = _train_tiny(tmp_path, 3)
    assert card["steps"] == 3 and np.isfinite(card["final_loss"])
    model, card = video_diffusion.load(str(out))
    res = _run(model, _req(model=card["name"]), 4)
    assert res.images.shape == (1, 4, 48, 48)


@pytest.mark.slow
def test_video_recipe_learns(tmp_path):
    from desktopgen.data import fmnist

    out, _ = _train_tiny(tmp_path, 80)
    images, labels = fmnist.load("train")
    recipe = video_recipes.VideoDiffusionRecipe("cpu")

    def loss(m):
        with torch.no_grad():
            return float(recipe.loss(m.eval(), torch.as_tensor(images[:8]), torch.as_tensor(labels[:8]),
                                     torch.Generator().manual_seed(1)))
    torch.manual_seed(0)
    before = loss(nets.build("video_unet", TINY))
    after = loss(video_diffusion.load(str(out))[0])
    assert after < 0.85 * before, (before, after)


def test_video_default_guidance_is_its_own_not_the_image_samplers():
    """The drift tables were measured at guidance 3; DPM-Solver++'s image default (1.5, chosen
    for image FD) must not change what a video request gets when it names no guidance."""
    from desktopgen.core.samplers import get_sampler

    req = SampleRequest(family="diffusion", sampler="dpmpp-2m")
    assert video_diffusion.resolve(req) == ("dpmpp-2m", get_sampler("dpmpp-2m").steps, 3.0)
    assert get_sampler("dpmpp-2m").guidance != 3.0  # the two defaults differ today
    assert video_diffusion.resolve(req.with_(guidance=1.25))[2] == 1.25


@pytest.mark.parametrize("known", [False, True])
def test_rows_per_call_split_the_batch_and_keep_the_bits(known):
    """Conditioned(rows=r): the network sees at most r clips per call, and the guidance-doubled
    batch (cond given once per clip) comes out bit for bit as from one call."""
    m = _tiny()
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn((6, 4, 48, 48), generator=g), torch.rand(6, generator=g) * 999
    y = torch.tensor([1, 2, 3, 10, 10, 10])
    cond = None
    if known:  # 3 clips' known frames (different per clip) for the 6 rows
        mask = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        cond = (torch.randn((3, 4, 48, 48), generator=g), mask)
    whole = m.conditioned(*(cond or ()))
    split = m.conditioned(*(cond or (None, None)), rows=2)
    seen = []
    hook = m.stem.register_forward_hook(lambda mod, inp, out: seen.append(len(inp[0]) // 4))
    with torch.no_grad():
        a = whole(x, t, y)
        n = len(seen)
        b = split(x, t, y)
    hook.remove()
    assert seen[:n] == [6] and seen[n:] == [2, 2, 2]
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        m.conditioned(rows=0)


def test_cpu_clips_are_made_a_few_rows_per_call_with_the_same_bits(monkeypatch):
    m = _tiny()
    seen = []
    m.stem.register_forward_hook(lambda mod, inp, out: seen.append(len(inp[0]) // 4))
    monkeypatch.setattr(video_diffusion, "CPU_ROWS", None)
    whole = _run(m, _req(batch=3, steps=2), 6, block=4, context=2).images
    assert set(seen) == {6}
    seen.clear()
    monkeypatch.setattr(video_diffusion, "CPU_ROWS", 4)
    split = _run(m, _req(batch=3, steps=2), 6, block=4, context=2).images
    assert set(seen) == {4, 2}
    assert np.array_equal(whole, split)
