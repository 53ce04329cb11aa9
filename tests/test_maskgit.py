"""MaskGIT: the network, its training recipe and its sampler, on tiny configs and a stand-in
tokenizer (a patch's neighbourhood mean grey, quantised), so nothing here needs trained weights."""

import math
import os
import sys

if os.environ.get("CUDA_VISIBLE_DEVICES") == "" and "gpu" in " ".join(sys.argv[1:]):
    del os.environ["CUDA_VISIBLE_DEVICES"]  # `pytest -m gpu`: show the GPU again (see test_gpu.py)

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen import nets, sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import maskgit as mg
from desktopgen.sampling import masks, tokens
from desktopgen.train import maskgit_recipe as recipe

K = 8  # codes of the stand-in tokenizer
TINY = {"n_layer": 2, "n_head": 2, "n_embd": 32, "codebook_size": K, "dropout": 0.0}


class StandInTokenizer(nn.Module):
    """The shared Tokenizer interface: code = the mean grey of a 4x4 patch and its neighbours
    (a 12x12 window: like a convolutional encoder, it sees past its own patch) in K levels."""

    down = 4
    codebook_size = K

    def encode(self, x):
        m = F.avg_pool2d(F.pad(x, (4, 4, 4, 4), value=-1), 12, stride=4)[:, 0]  # (B, H/4, W/4)
        return ((m + 1) / 2 * (K - 1)).round().long().clamp(0, K - 1)

    def decode(self, codes):
        v = codes.float() / (K - 1) * 2 - 1
        return v[:, None].repeat_interleave(4, -1).repeat_interleave(4, -2)


def tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    model = nets.build("maskgit", {**TINY, **kw}).eval()
    with torch.no_grad():  # far from uniform logits, so confidences differ and choices matter
        for p in model.parameters():
            p.normal_(0, 0.3)
    return mg.with_tokenizer(model, StandInTokenizer())


def drain(gen):
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def request(**kw):
    base = dict(family="ar", sampler="maskgit", steps=6, guidance=1.0, seed=3, batch=4)
    return SampleRequest(**{**base, **kw})


# --- schedule ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 5, 49, 196])
def test_schedule_masks_fewer_each_step_and_ends_with_none(n):
    for steps in range(1, 50):
        left = mg.masked_after(torch.tensor([n]), steps)[:, 0]
        before = torch.cat([torch.tensor([n]), left[:-1]])
        commits = before - left
        assert left[-1] == 0 and commits.sum() == n  # every token committed, each once
        assert (left >= 0).all() and (left[1:] <= left[:-1]).all()  # monotone
        assert ((commits >= 1) | (before == 0)).all()  # no idle step while a token is masked


def test_schedule_follows_the_cosine_where_it_can():
    left = mg.masked_after(torch.tensor([49]), 10)[:, 0].tolist()
    cosine = [math.floor(49 * math.cos(math.pi / 2 * (s + 1) / 10)) for s in range(10)]
    assert left == [min(c, 48 - s) for s, c in enumerate(cosine)] == [48, 46, 43, 39, 34, 28, 22, 15, 7, 0]


# --- sampler -----------------------------------------------------------------------------------

def test_a_committed_token_is_never_uncommitted_nor_changed():
    model = tiny_model()
    events, result = drain(mg.sample(model, request(steps=8, guidance=2.0)))
    assert len(events) == 8 and [e.step for e in events] == list(range(1, 9))
    want_left = mg.masked_after(torch.full((4,), 49), 8)
    prev = np.full((4, 7, 7), -1)
    for ev, left in zip(events, want_left):
        was = prev >= 0
        assert np.array_equal(ev.tokens[was], prev[was])  # same codes, bit for bit
        assert np.array_equal((ev.tokens < 0).sum((1, 2)), left.numpy())
        assert ev.preview.shape == (4, 28, 28) and ev.preview.dtype == np.uint8
        assert ev.confidence.shape == (4, 7, 7)
        prev = ev.tokens
    assert (prev >= 0).all() and np.array_equal(prev, result.extra["codes"])
    assert np.array_equal(result.images, events[-1].preview)


def test_the_last_step_decodes_the_committed_codes():
    model = tiny_model()
    _, result = drain(mg.sample(model, request()))
    decoded = tokens.to_uint8(StandInTokenizer().decode(torch.as_tensor(result.extra["codes"])))
    assert np.array_equal(result.images, decoded)


def test_masked_positions_preview_as_background():
    model = tiny_model()
    events, _ = drain(mg.sample(model, request(steps=10)))
    first = events[0]
    masked = np.repeat(np.repeat(first.tokens < 0, 4, 1), 4, 2)
    assert (first.preview[masked] == 0).all()  # the stand-in's blank code decodes to black


def test_sample_i_depends_only_on_seed_and_index_not_batch_size():
    model = tiny_model()
    _, four = drain(mg.sample(model, request(batch=4, guidance=2.0, class_label=None)))
    for i in range(4):
        _, one = drain(mg.sample(model, request(batch=1, first_index=i, guidance=2.0, class_label=None)))
        assert np.array_equal(one.images[0], four.images[i])
        assert np.array_equal(one.extra["codes"][0], four.extra["codes"][i])
    _, again = drain(mg.sample(model, request(batch=4, guidance=2.0, class_label=None)))
    _, other = drain(mg.sample(model, request(batch=4, guidance=2.0, class_label=None, seed=4)))
    assert np.array_equal(again.extra["codes"], four.extra["codes"])
    assert not np.array_equal(other.extra["codes"], four.extra["codes"])


def test_guidance_scale_one_is_the_conditional_model_alone():
    """w = 1 must not look at the null class at all: scrambling its embedding changes nothing,
    while it does change a guided (w = 2) run."""
    model, scrambled = tiny_model(), tiny_model()
    with torch.no_grad():
        scrambled.class_emb.weight[-1].normal_(0, 3.0)
    for w, same in ((1.0, True), (2.0, False)):
        _, a = drain(mg.sample(model, request(guidance=w, class_label=2)))
        _, b = drain(mg.sample(scrambled, request(guidance=w, class_label=2)))
        assert np.array_equal(a.extra["codes"], b.extra["codes"]) == same


def test_guidance_and_the_null_class_change_the_codes():
    model = tiny_model()
    _, plain = drain(mg.sample(model, request(guidance=1.0, class_label=5, batch=8)))
    _, guided = drain(mg.sample(model, request(guidance=6.0, class_label=5, batch=8)))
    _, null = drain(mg.sample(model, request(guidance=0.0, class_label=5, batch=8)))
    assert not np.array_equal(plain.extra["codes"], guided.extra["codes"])
    assert not np.array_equal(plain.extra["codes"], null.extra["codes"])


def test_without_any_randomness_the_seed_does_not_matter():
    """top-k 1 (argmax codes) and choice temperature 0 (no Gumbel noise): every seed gives the
    same codes; with the choice noise back on, the order of commits (and so the codes) differ."""
    model = tiny_model()

    def codes(seed, choice):
        gen = mg.sample(model, request(seed=seed, top_k=1), choice_temperature=choice)
        return drain(gen)[1].extra["codes"]

    assert np.array_equal(codes(1, 0.0), codes(2, 0.0))
    assert not np.array_equal(codes(1, 4.5), codes(2, 4.5))


def test_choice_noise_is_annealed_to_none_at_the_last_step():
    dec = mg._Decoder(tiny_model(), StandInTokenizer(), request().validate(), torch.device("cpu"),
                      1.0, 4, 4.5)
    assert dec.anneal.tolist() == [4.5 * 3 / 4, 4.5 / 2, 4.5 / 4, 0.0]


def test_dispatch_checks_the_model_kind():
    model = tiny_model()
    events, result = drain(sampling.sample(model, request(steps=0)))  # steps: the table's default
    assert len(events) == 10 and result.images.shape == (4, 28, 28)
    with pytest.raises(ValueError, match="pixel-ar"):
        sampling.sample(model, request(sampler="pixel", steps=784))
    with pytest.raises(ValueError, match="no tokenizer"):
        next(mg.sample(nets.build("maskgit", TINY), request()))


def test_mismatched_tokenizer_is_refused():
    with pytest.raises(ValueError, match="not trained together"):
        mg.with_tokenizer(nets.build("maskgit", {**TINY, "codebook_size": 16}), StandInTokenizer())


# --- inpainting --------------------------------------------------------------------------------

def test_regenerated_tokens_are_those_whose_patch_touches_the_hole():
    mask = torch.zeros(1, 28, 28, dtype=torch.uint8)
    mask[0, 5, 8] = 1  # one pixel: row 5 is in token row 1, column 8 starts token column 2
    regen = mg.regenerated(mask, 4)[0]
    assert regen.sum() == 1 and regen[1, 2]
    bottom = torch.as_tensor(masks.preset("bottom-half"))[None]
    assert mg.regenerated(bottom, 4)[0].sum() == 4 * 7  # pixel rows 14..27 touch token rows 3..6


@pytest.mark.parametrize("preset", ["bottom-half", "center-square", "random-blocks"])
def test_inpainting_keeps_known_tokens_fixed_and_kept_pixels_exact(preset):
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    mask = masks.preset(preset, seed=1)
    model = tiny_model()
    req = request(steps=5, guidance=1.0, source=masks.as_grid(source), mask=masks.as_grid(mask))
    events, result = drain(mg.sample(model, req))
    keep = ~mg.regenerated(torch.as_tensor(mask)[None], 4)[0].numpy()
    blanked = torch.as_tensor(np.where(mask == 1, 0, source)).float()[None, None] / 127.5 - 1
    known = StandInTokenizer().encode(blanked)[0].numpy()
    for ev in events:  # fixed from the first step to the last, bit for bit
        assert np.array_equal(ev.tokens[:, keep], np.broadcast_to(known[keep], (4, keep.sum())))
        kept = np.broadcast_to(source[mask == 0], (4, (mask == 0).sum()))
        assert np.array_equal(ev.preview[:, mask == 0], kept)
    assert np.array_equal(result.extra["codes"][:, keep], np.broadcast_to(known[keep], (4, keep.sum())))
    for img in result.images:
        assert np.array_equal(img[mask == 0], source[mask == 0])
    left = [int((ev.tokens < 0).sum()) for ev in events]
    assert left[-1] == 0 and left == sorted(left, reverse=True)


def test_inpainting_hides_the_hole_from_the_encoder():
    """Two sources that differ only under the hole give the same fill."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    mask = masks.preset("center-square")
    b = np.where(mask == 1, 255 - a, a).astype(np.uint8)
    model = tiny_model()
    runs = [drain(mg.sample(model, request(source=masks.as_grid(s), mask=masks.as_grid(mask))))[1]
            for s in (a, b)]
    assert np.array_equal(runs[0].images[:, mask == 1], runs[1].images[:, mask == 1])


# --- network and recipe ------------------------------------------------------------------------

def test_config_bounds_and_parameter_count():
    for cfg in ({}, TINY, {**TINY, "grid_h": 12, "grid_w": 12}):
        model = nets.build("maskgit", cfg)
        assert sum(p.numel() for p in model.parameters()) == nets.parameter_count(
            "maskgit", nets.check_config("maskgit", cfg))
    assert nets.parameter_count("maskgit", nets.check_config("maskgit", {})) * 2 < 20e6  # fp16 <= 20 MB
    for bad in ("../x", "a/b", "", ".hidden", 5, "x" * 101):
        with pytest.raises(nets.ConfigError, match="tokenizer"):
            nets.check_config("maskgit", {"tokenizer": bad})
    with pytest.raises(nets.ConfigError, match="n_head"):
        nets.check_config("maskgit", {"n_embd": 30, "n_head": 4})


def test_bidirectional_each_position_sees_the_ones_after_it():
    model = nets.build("maskgit", TINY).eval()
    codes = torch.randint(0, K, (1, 7, 7))
    later = codes.clone()
    later[0, 6, 6] = (later[0, 6, 6] + 1) % K
    y = torch.tensor([1])
    assert not torch.allclose(model(codes, y)[0, 0, 0], model(later, y)[0, 0, 0])


def test_random_mask_ratios_follow_the_cosine():
    gen = torch.Generator().manual_seed(0)
    m = recipe.random_mask(20000, 49, "cpu", gen)
    counts = m.sum(1).float()
    assert counts.min() >= 1 and counts.max() <= 49
    # E[ceil(49 cos(pi/2 u))] for u ~ U[0,1) is about 49 * 2/pi + 0.5
    assert abs(counts.mean().item() - (49 * 2 / math.pi + 0.5)) < 0.3


def test_recipe_loss_counts_masked_positions_only():
    r = recipe.MaskGITRecipe("cpu")
    images = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8)
    labels = torch.zeros(16, dtype=torch.long)
    config = nets.check_config("maskgit", {**TINY, "tokenizer": "tok"})
    codes, same = r.prepare(images, labels, config, tokenizer=StandInTokenizer())
    assert codes.shape == (16, 7, 7) and same is labels and r.mask_id == K
    assert r.card_extra["tokenizer"] == "tok" and r.card_extra["grid"] == [7, 7]
    with pytest.raises(nets.ConfigError, match='"codebook_size": 8'):
        r.prepare(images, labels, nets.check_config("maskgit", {}), tokenizer=StandInTokenizer())

    class Oracle(nn.Module):
        """Perfect logits where the input is masked, adversarial ones where it is not."""

        def forward(self, inp, y):
            out = F.one_hot(codes[: len(inp)], K).float() * 50
            wrong = F.one_hot((codes[: len(inp)] + 1) % K, K).float() * 50
            return torch.where((inp == K)[..., None], out, wrong)

    loss = r.loss(Oracle(), codes, torch.zeros(16, dtype=torch.long), torch.Generator().manual_seed(0))
    smooth = recipe.LABEL_SMOOTHING
    floor = -(1 - smooth) * 0 + smooth * 50 * (K - 1) / K  # label smoothing's cost of sure logits
    assert loss.item() == pytest.approx(floor, rel=1e-3)


def test_train_loop_writes_a_maskgit_folder(tmp_path, monkeypatch):
    from desktopgen.core import checkpoints
    from desktopgen.train.loop import TrainConfig, train

    monkeypatch.setattr(recipe, "load_tokenizer", lambda name, device: (StandInTokenizer(), {"sha256": "ab"}))
    out = tmp_path / "mg"
    card = train(TrainConfig(model="maskgit", out=str(out), steps=3, batch=8, limit=64, device="cpu",
                             warmup=1, arch={"n_layer": 1, "n_head": 2, "n_embd": 16, "codebook_size": K}))
    assert card["tokenizer"] == "fmnist-tokenizer" and card["tokenizer_sha256"] == "ab"
    checked = checkpoints.check_folder(str(out))
    assert checked.arch == "maskgit" and checked.config["codebook_size"] == K
    assert checkpoints.ARCH_FAMILY["maskgit"] == "ar"


@pytest.mark.parametrize("inpaint", [False, True])
def test_a_reused_decoder_loads_the_next_runs_state_and_makes_its_codes(inpaint):
    """A CUDA graph is replayed on one decoder's buffers across runs (`_step_graph`): a decoder
    built for run A that loads run B's state (classes, seed, kept codes, counts) must then step to
    exactly the codes a fresh decoder for B makes. Checked eagerly on the CPU, bit for bit."""
    model = tiny_model()
    kw = {}
    if inpaint:
        rng = np.random.default_rng(0)
        src = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        kw = dict(source=masks.as_grid(src), mask=masks.as_grid(masks.preset("bottom-half", seed=1)))
    a = request(guidance=2.0, seed=3, class_label=2, steps=5)
    b = a.with_(seed=11, class_label=7, **kw)

    def run(dec):
        for _ in range(5):
            dec.step()
        return dec.codes.clone(), dec.committed.clone(), dec.conf.clone()

    def make(req):
        return mg._Decoder(model, model.tokenizer, req, torch.device("cpu"), 2.0, 5, mg.CHOICE_TEMPERATURE)

    first_a = run(make(a))
    reused = make(a)
    run(reused)  # a run of A first: its state is overwritten by the load
    reused.load(make(b))
    fresh_b = run(make(b))
    for x, y in zip(run(reused), fresh_b):
        assert torch.equal(x, y)
    assert not torch.equal(fresh_b[0], first_a[0])
    assert (reused.hole is None) is (not inpaint)


def test_step_graphs_are_kept_per_settings_and_the_next_run_loads_into_the_kept_decoder(monkeypatch):
    """`_step_graph` without a GPU (the capture stubbed): the first run's decoder and graph are
    kept; a second run with the same settings gets that decoder back, holding its own state; other
    settings get a capture of their own."""
    captured = []
    monkeypatch.setattr(mg, "_capture", lambda dec, device: captured.append(dec) or f"graph{len(captured)}")
    model = tiny_model()
    cpu = torch.device("cpu")

    def make(req):
        return mg._Decoder(model, model.tokenizer, req, cpu, 2.0, 5, mg.CHOICE_TEMPERATURE)

    a, b = make(request(seed=3, steps=5)), make(request(seed=11, class_label=7, steps=5))
    assert mg._step_graph(a, 5, mg.CHOICE_TEMPERATURE, cpu) == (a, "graph1")
    dec, graph = mg._step_graph(b, 5, mg.CHOICE_TEMPERATURE, cpu)
    assert dec is a and graph == "graph1" and captured == [a]
    assert torch.equal(a.u_code, b.u_code) and torch.equal(a.y, b.y)
    other = make(request(seed=3, steps=5, temperature=0.9))
    assert mg._step_graph(other, 5, mg.CHOICE_TEMPERATURE, cpu) == (other, "graph2")


# --- CUDA (run with `pytest -m gpu tests/test_maskgit.py`; skipped without a GPU) ----------------

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_cuda_graph_maskgit_equals_eager(guidance):
    model = mg.with_tokenizer(tiny_model().cuda().to(torch.bfloat16), StandInTokenizer())
    req = request(guidance=guidance, batch=8, steps=10, class_label=None)
    _, graph = drain(mg.sample(model, req, "cuda", preview_every=0, cuda_graph=True))
    _, eager = drain(mg.sample(model, req, "cuda", preview_every=0, cuda_graph=False))
    assert graph.extra["cuda_graph"] is True and eager.extra["cuda_graph"] is False
    assert np.array_equal(graph.extra["codes"], eager.extra["codes"])
    assert np.array_equal(graph.images, eager.images)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_maskgit_is_reused_across_runs_and_matches_eager():
    """The second run with the same shapes replays the first run's graph on its own classes and
    seed (not the first run's: they are loaded, not captured), and equals its eager run."""
    model = mg.with_tokenizer(tiny_model().cuda().to(torch.bfloat16), StandInTokenizer())
    a = request(guidance=2.0, batch=8, steps=10, class_label=None)
    b = a.with_(seed=9)
    first = drain(mg.sample(model, a, "cuda", preview_every=0))[1]
    assert len(mg._graphs[model]) == 1
    graph_b = drain(mg.sample(model, b, "cuda", preview_every=0))[1]
    assert len(mg._graphs[model]) == 1  # reused, not captured again
    eager_b = drain(mg.sample(model, b, "cuda", preview_every=0, cuda_graph=False))[1]
    again_a = drain(mg.sample(model, a, "cuda", preview_every=0))[1]
    assert np.array_equal(graph_b.extra["codes"], eager_b.extra["codes"])
    assert np.array_equal(first.extra["codes"], again_a.extra["codes"])
    assert not np.array_equal(first.extra["codes"], graph_b.extra["codes"])


# --- with a (tiny, untrained) real tokenizer: train, load, CLI -----------------------------------

TINY_TOKENIZER = {"channels": 8, "blocks": 0, "levels": [3, 3]}  # 9 codes


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory):
    """models/tok (a tiny real Tokenizer) and models/mg (MaskGIT trained 3 steps with it)."""
    from token_helpers import tiny_maskgit_folders

    with tiny_maskgit_folders(tmp_path_factory.mktemp("models"), TINY_TOKENIZER, steps=3) as root:
        yield root


def test_load_attaches_the_named_tokenizer_and_samples(model_folders):
    from desktopgen.core import checkpoints

    model, card = sampling.load("ar", str(model_folders / "mg"), "cpu")
    assert isinstance(model, nets.MaskGIT) and isinstance(model.tokenizer, nets.Tokenizer)
    assert model.config.codebook_size == 9 and card["tokenizer"] == "tok"
    assert card["tokenizer_sha256"] == checkpoints.read_card(str(model_folders / "tok"))["sha256"]
    assert "tokenizer" not in " ".join(model.state_dict())  # not part of MaskGIT's weights
    events, result = drain(sampling.sample(model, request(steps=4, guidance=2.0)))
    assert len(events) == 4 and result.images.shape == (4, 28, 28) and (events[-1].tokens >= 0).all()


def test_load_refuses_a_retrained_tokenizer(model_folders, tmp_path):
    import shutil

    from desktopgen.core import checkpoints

    shutil.copytree(model_folders / "mg", tmp_path / "mg")
    torch.manual_seed(1)
    checkpoints.save_model(nets.build("tokenizer", TINY_TOKENIZER), tmp_path / "tok", {"model": "tokenizer"})
    with pytest.raises(checkpoints.CheckpointError, match="another tok"):
        sampling.load("ar", str(tmp_path / "mg"), "cpu")


def test_cli_sample_and_inpaint_with_maskgit(model_folders, tmp_path):
    from desktopgen.cli import main

    mg_dir = str(model_folders / "mg")
    assert main(["sample", "--family", "ar", "--sampler", "maskgit", "--model", mg_dir, "--steps", "3",
                 "--guidance", "2", "--temperature", "0.9", "--class", "3", "--seed", "4", "--n", "5",
                 "--batch", "2", "--out", str(tmp_path / "s.npz"), "--device", "cpu"]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (5, 28, 28) and (f["labels"] == 3).all()
    source = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "src.npz", images=source)
    assert main(["inpaint", "--family", "ar", "--sampler", "maskgit", "--model", mg_dir, "--images",
                 str(tmp_path / "src.npz"), "--mask", "bottom-half", "--steps", "4",
                 "--out", str(tmp_path / "i.npz"), "--device", "cpu"]) == 0
    keep = masks.preset("bottom-half") == 0
    with np.load(tmp_path / "i.npz") as f:
        assert np.array_equal(f["images"][:, keep], source[:, keep])
