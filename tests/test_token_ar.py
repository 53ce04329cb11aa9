"""The raster token transformer and its sampler (nets/token_ar.py, sampling/tokens.py), and the
training recipes of the token models (train/token_recipes.py), with tiny untrained networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktopgen import nets, sampling
from desktopgen.core import checkpoints
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import masks
from desktopgen.sampling import tokens as token_sampler

TINY_TOK = {"channels": 8, "blocks": 1}
TINY_AR = {"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.0, "tokenizer": "tiny-tok"}


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    """A models folder holding a tiny tokenizer and a tiny token transformer that names it."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    checkpoints.save_model(nets.build("tokenizer", TINY_TOK), root / "tiny-tok", {"model": "tokenizer"})
    checkpoints.save_model(nets.build("token_ar", TINY_AR), root / "tiny-token-ar", {"model": "token-ar"})
    return root


@pytest.fixture
def token_model(models_root, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(models_root))
    model, _ = sampling.load("ar", "tiny-token-ar", "cpu")
    return model


def run(model, **kw):
    every = kw.pop("preview_every", 1)
    req = SampleRequest(family="ar", sampler="tokens", seed=kw.pop("seed", 7), **kw)
    gen = sampling.sample(model, req, "cpu", every)
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def test_load_attaches_the_tokenizer_outside_the_state_dict(token_model):
    assert isinstance(token_model, nets.TokenAR) and isinstance(token_model.tokenizer, nets.Tokenizer)
    assert not any(k.startswith("_tokenizer") or "encoder" in k for k in token_model.state_dict())
    assert token_model.config.grid == 7


def test_kv_cache_decode_equals_the_full_forward_pass():
    torch.manual_seed(0)
    model = nets.build("token_ar", TINY_AR).eval()
    codes = torch.randint(0, 1000, (3, 49))
    y = torch.tensor([1, 4, 10])
    full = model(codes, y)
    cache = model.new_cache(3, "cpu")
    for t in range(49):
        tok = codes[:, t - 1] if t else torch.zeros(3, dtype=torch.long)
        step = model.decode_step(tok, y, torch.tensor([t]), cache)
        assert torch.allclose(step, full[:, t], atol=1e-4), t


def test_a_run_is_49_steps_with_the_token_grid_filling_in_raster_order(token_model, monkeypatch):
    monkeypatch.setattr(token_sampler, "PREVIEW_SHARE", 1e9)  # a preview at every step
    events, result = run(token_model, batch=2)
    assert [e.step for e in events] == list(range(1, 50)) and events[-1].total == 49
    for e in events:
        assert e.tokens.shape == (2, 7, 7) and e.tokens.dtype == np.int32
        assert ((e.tokens >= 0).reshape(2, -1).sum(1) == e.step).all()  # the first `step` tokens
        assert (e.tokens.reshape(2, -1)[:, : e.step] >= 0).all()
        assert e.preview.shape == (2, 28, 28) and e.preview.dtype == np.uint8
        assert e.confidence is None and e.position is None  # a pixel index would dim wrongly
    assert np.array_equal(events[-1].tokens, result.extra["tokens"])
    assert np.array_equal(events[-1].preview, result.images)
    codes = torch.as_tensor(result.extra["tokens"]).long()
    decoded = token_sampler.to_uint8(token_model.tokenizer.decode(codes))
    assert np.array_equal(decoded, result.images)
    # the unfilled tokens of a preview show the blank code
    blank = result.extra["blank_code"]
    grid = np.where(events[0].tokens >= 0, events[0].tokens, blank)
    first = token_sampler.to_uint8(token_model.tokenizer.decode(torch.as_tensor(grid).long()))
    assert np.array_equal(first, events[0].preview)


def test_previews_are_skipped_when_decoding_would_dominate(token_model, monkeypatch):
    monkeypatch.setattr(token_sampler, "PREVIEW_SHARE", 0.0)
    events, _ = run(token_model, batch=1)
    assert events[0].preview is not None or events[1].preview is None  # none after the first
    assert sum(e.preview is not None for e in events) <= 2 and events[-1].preview is not None
    assert all(e.tokens is not None for e in events)


def test_no_previews_and_no_tokens_per_step_with_preview_every_0(token_model):
    events, result = run(token_model, batch=1, preview_every=0)
    assert all(e.preview is None and e.tokens is None for e in events[:-1])
    assert np.array_equal(events[-1].preview, result.images)


def test_sample_i_depends_only_on_seed_and_index(token_model):
    _, whole = run(token_model, batch=4, seed=11)
    _, part = run(token_model, batch=2, seed=11, first_index=2)
    assert np.array_equal(whole.images[2:], part.images)
    assert np.array_equal(whole.extra["tokens"][2:], part.extra["tokens"])
    _, other = run(token_model, batch=4, seed=12)
    assert not np.array_equal(whole.extra["tokens"], other.extra["tokens"])


def test_guidance_changes_the_run_and_top_k_1_is_greedy(token_model):
    _, a = run(token_model, batch=2, class_label=3, guidance=1.0)
    _, b = run(token_model, batch=2, class_label=3, guidance=3.0)
    assert not np.array_equal(a.extra["tokens"], b.extra["tokens"])
    _, c = run(token_model, batch=2, class_label=3, guidance=1.0, top_k=1, seed=1)
    _, d = run(token_model, batch=2, class_label=3, guidance=1.0, top_k=1, seed=2)
    assert np.array_equal(c.extra["tokens"], d.extra["tokens"])  # greedy: the seed no longer matters


def test_inpainting_keeps_pixels_exactly_and_forces_the_known_tokens(token_model):
    from desktopgen.data import fmnist

    source = fmnist.load("test")[0][0]
    mask = masks.preset("bottom-half")
    events, result = run(token_model, batch=3, source=masks.as_grid(source), mask=masks.as_grid(mask),
                         guidance=0.0)
    keep = mask == 0
    assert all(np.array_equal(im[keep], source[keep]) for im in result.images)
    x = torch.as_tensor(source).float()[None, None] / 127.5 - 1
    known = token_model.tokenizer.encode(x)[0].numpy()
    # rows 0..2 of tokens cover pixels 0..11, all kept; row 3 (pixels 12..15) touches the hole
    assert all(np.array_equal(t[:3], known[:3]) for t in result.extra["tokens"])
    assert not all(np.array_equal(t[3:], known[3:]) for t in result.extra["tokens"])
    previews = [e.preview for e in events if e.preview is not None]
    assert all(np.array_equal(p[:, keep], result.images[:, keep]) for p in previews)


def test_each_sampler_refuses_the_other_kind_of_model(token_model):
    torch.manual_seed(0)
    pixel = nets.build("pixel_ar", {"n_layer": 1, "n_head": 2, "n_embd": 16})
    with pytest.raises(ValueError, match="needs a token-ar model"):
        sampling.sample(pixel, SampleRequest(family="ar", sampler="tokens"))
    with pytest.raises(ValueError, match="needs a pixel-ar model"):
        sampling.sample(token_model, SampleRequest(family="ar", sampler="pixel"))
    with pytest.raises(ValueError, match="needs the model's tokenizer"):
        next(token_sampler.sample(nets.build("token_ar", TINY_AR), SampleRequest(family="ar")))


def test_default_model_and_a_missing_one_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    with pytest.raises(checkpoints.ModelNotFoundError, match="desktopgen train token-ar"):
        sampling.load("ar", "", "cpu", sampler="tokens")
    req = sampling.with_defaults(SampleRequest(family="ar", sampler="tokens"))
    assert (req.model, req.steps, req.guidance) == ("fmnist-token-ar-14-6", 196, 1.4)


def test_a_token_model_naming_a_non_tokenizer_is_refused(models_root, monkeypatch, tmp_path):
    import shutil

    shutil.copytree(models_root, tmp_path / "m")
    torch.manual_seed(0)
    checkpoints.save_model(nets.build("token_ar", {**TINY_AR, "tokenizer": "tiny-token-ar"}),
                           tmp_path / "m" / "bad", {})
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path / "m"))
    with pytest.raises(checkpoints.CheckpointError, match="not a tokenizer"):
        sampling.load("ar", "bad", "cpu")


def test_token_ar_config_is_bounded():
    with pytest.raises(nets.ConfigError, match="model folder name"):
        nets.check_config("token_ar", {"tokenizer": "../etc"})
    with pytest.raises(nets.ConfigError, match="square"):
        nets.check_config("token_ar", {"seq_len": 50})
    cfg = nets.check_config("token_ar", TINY_AR)
    assert nets.parameter_count("token_ar", cfg) == sum(
        p.numel() for p in nets.build("token_ar", TINY_AR).parameters())


def test_cli_sample_and_inpaint_with_the_token_sampler(token_model, tmp_path, capsys):
    from desktopgen.cli import main
    from desktopgen.data import fmnist

    out = tmp_path / "s.npz"
    assert main(["sample", "--family", "ar", "--sampler", "tokens", "--model", "tiny-token-ar",
                 "--n", "3", "--batch", "2", "--class", "4", "--guidance", "1.5", "--temperature",
                 "0.9", "--top-k", "50", "--seed", "5", "--device", "cpu", "--out", str(out)]) == 0
    first = np.load(out)
    assert first["images"].shape == (3, 28, 28) and (first["labels"] == 4).all()
    again = tmp_path / "t.npz"  # batch size does not change sample i
    assert main(["sample", "--family", "ar", "--sampler", "tokens", "--model", "tiny-token-ar",
                 "--n", "3", "--batch", "3", "--class", "4", "--guidance", "1.5", "--temperature",
                 "0.9", "--top-k", "50", "--seed", "5", "--device", "cpu", "--out", str(again)]) == 0
    assert np.array_equal(np.load(again)["images"], first["images"])
    src = tmp_path / "in.npz"
    images = fmnist.load("test")[0][:2]
    np.savez(src, images=images)
    filled = tmp_path / "f.npz"
    assert main(["inpaint", "--family", "ar", "--sampler", "tokens", "--model", "tiny-token-ar",
                 "--images", str(src), "--mask", "center-square", "--device", "cpu",
                 "--out", str(filled)]) == 0
    got = np.load(filled)
    keep = masks.preset("center-square") == 0
    assert np.array_equal(got["images"][:, keep], images[:, keep])


def test_recipes_learn_and_the_token_ar_trains_on_its_tokenizer_codes(tmp_path, monkeypatch):
    """Tiny runs on the CPU: the tokenizer's reconstruction loss falls; the token transformer
    trains on the codes of the tokenizer its config names and samples through sampling.load."""
    from desktopgen.train.loop import TrainConfig, train
    from desktopgen.train.token_recipes import TokenizerRecipe

    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    common = dict(steps=30, batch=16, limit=256, device="cpu", warmup=5, ema=0.5, checkpoint_every=1000)
    card = train(TrainConfig(model="tokenizer", out=str(tmp_path / "tok"), lr=3e-3,
                             arch={**TINY_TOK, "quantizer": "vq", "codebook_size": 64}, **common))
    assert card["steps"] == 30
    first = card["loss_curve"][0][1] if card["loss_curve"] else None
    tok, _ = checkpoints.load_model("tok")
    assert bool(tok.quantizer.initialised)  # the k-means init reached the shipped (EMA) copy
    from desktopgen.data import fmnist

    images = torch.as_tensor(fmnist.load("train")[0][:64])
    torch.manual_seed(0)
    fresh = nets.build("tokenizer", {**TINY_TOK, "quantizer": "vq", "codebook_size": 64})
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        after = float(TokenizerRecipe("cpu").loss(tok.eval(), images, None, gen))
        gen = torch.Generator().manual_seed(0)
        before = float(TokenizerRecipe("cpu").loss(fresh.train(), images, None, gen))
    assert after < 0.8 * before, (before, after, first)
    with pytest.raises(nets.ConfigError, match="makes 49 codes of 64 values"):
        train(TrainConfig(model="token-ar", out=str(tmp_path / "bad"), lr=1e-3,
                          arch={**TINY_AR, "tokenizer": "tok"}, **common))
    card = train(TrainConfig(model="token-ar", out=str(tmp_path / "tar"), lr=3e-3,
                             arch={**TINY_AR, "tokenizer": "tok", "vocab": 64}, **common))
    assert card["steps"] == 30 and np.isfinite(card["final_loss"])
    model, _ = sampling.load("ar", "tar", "cpu")
    assert model.tokenizer.codebook_size == 64
    _, result = run(model, batch=2)
    assert result.images.shape == (2, 28, 28) and result.extra["tokens"].max() < 64


def test_place_puts_each_image_whole_on_the_canvas():
    from desktopgen.train.token_recipes import place

    images = torch.randint(1, 256, (5, 28, 28), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(0)
    big = place(images, 48, gen)
    assert big.shape == (5, 1, 48, 48)
    for b in range(5):
        ys, xs = torch.nonzero(big[b, 0] > -1, as_tuple=True)
        y, x = int(ys.min()), int(xs.min())
        assert torch.equal(big[b, 0, y : y + 28, x : x + 28], images[b].float() / 127.5 - 1)
        assert int((big[b, 0] > -1).sum()) == 28 * 28
    shifted = place(images, 36, gen, margin=4)
    assert shifted.shape == (5, 1, 28, 28)


def test_cli_inpaint_with_the_token_sampler_loads_the_token_model_by_default(models_root, tmp_path,
                                                                             monkeypatch):
    import shutil

    from desktopgen.cli import main
    from desktopgen.data import fmnist

    root = tmp_path / "models"
    shutil.copytree(models_root / "tiny-tok", root / "tiny-tok")
    shutil.copytree(models_root / "tiny-token-ar", root / "fmnist-token-ar-14-6")  # the table's default
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(root))
    np.savez(tmp_path / "in.npz", images=fmnist.load("test")[0][:1])
    assert main(["inpaint", "--family", "ar", "--sampler", "tokens", "--images", str(tmp_path / "in.npz"),
                 "--mask", "bottom-half", "--device", "cpu", "--out", str(tmp_path / "o.npz")]) == 0


def test_the_filled_cache_path_gives_the_static_cache_tokens(token_model):
    req = SampleRequest(family="ar", sampler="tokens", seed=4, batch=3, guidance=2.0)
    runs = [sampling.run_to_end(token_sampler.sample(token_model, req, "cpu", 0, filled_cache=f))
            for f in (True, False)]
    assert [r.extra["decode"] for r in runs] == ["filled cache", "static cache"]
    assert np.array_equal(runs[0].extra["tokens"], runs[1].extra["tokens"])


def test_a_token_models_steps_are_its_sequence_length(token_model):
    """The table leaves the token sampler's steps to the model (one per code): a 7x7 model runs
    49 and its request says so, with that count's default guidance; the table's count (the
    default model's 196) stands only without a model; another count is refused."""
    from desktopgen.core.requests import RequestError

    req = sampling.with_defaults(SampleRequest(family="ar", sampler="tokens"), token_model)
    assert (req.steps, req.guidance) == (49, 2.0)
    assert sampling.with_defaults(SampleRequest(family="ar", sampler="tokens")).steps == 196
    assert sampling.with_defaults(req.with_(steps=196), token_model).steps == 49  # the table's count
    with pytest.raises(RequestError, match="runs 49 steps"):
        sampling.with_defaults(req.with_(steps=100), token_model)
    result = sampling.run_to_end(sampling.sample(token_model, req.with_(steps=196), "cpu", 0))
    assert result.steps == 49


def _eager_decode(tokenizer, codes):
    return token_sampler.to_uint8(tokenizer.decode(codes))


def test_decode_uint8_is_the_tokenizers_decode_to_uint8(token_model):
    tok = token_model.tokenizer
    codes = torch.randint(0, tok.codebook_size, (3, 7, 7), generator=torch.Generator().manual_seed(1))
    assert np.array_equal(token_sampler.decode_uint8(tok, codes).numpy(), _eager_decode(tok, codes))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("form", token_sampler.DECODE_FORMS)
def test_cuda_decode_forms_graphed_equal_eager_and_stay_near_fp32(form, monkeypatch):
    """Each CUDA decode form, graphed (kept per tokenizer, form and shape; new codes replayed into
    its static input), decodes three batches to exactly its eager bits; "fp32" is the eager decode
    itself, and the others differ from it by rounding only (printed: `pytest -s`)."""
    monkeypatch.setenv("DESKTOPGEN_DECODE_FORM", form)
    tok, _ = checkpoints.load_model("fmnist-tokenizer-14", "cuda")
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        codes = torch.randint(0, tok.codebook_size, (100, 14, 14), generator=g).cuda()
        got = token_sampler.decode_uint8(tok, codes)
        assert torch.equal(got, token_sampler.decode_uint8(tok, codes, cuda_graph=False))
        diff = (got.cpu().int() - torch.as_tensor(_eager_decode(tok, codes)).int()).abs()
        print(f"{form}: against fp32, mean |diff| {diff.float().mean():.4f}, max {diff.max()} of 255")
        assert diff.max() == 0 if form == "fp32" else diff.float().mean() < 0.5 and diff.max() <= 24


def test_decode_form_comes_from_the_environment_and_a_bad_one_falls_back(monkeypatch, caplog):
    monkeypatch.setenv("DESKTOPGEN_DECODE_FORM", "fp32-cl")
    assert token_sampler.decode_form() == "fp32-cl"
    monkeypatch.setenv("DESKTOPGEN_DECODE_FORM", "int4")
    with caplog.at_level("WARNING"):
        assert token_sampler.decode_form() == token_sampler.DEFAULT_DECODE_FORM
        assert token_sampler.decode_form() == token_sampler.DEFAULT_DECODE_FORM
    assert sum("int4" in r.getMessage() for r in caplog.records) == 1
    monkeypatch.delenv("DESKTOPGEN_DECODE_FORM")
    assert token_sampler.decode_form() == "bf16-cl"


def test_distill_loss_is_hard_cross_entropy_plus_the_teachers_share():
    """weight w: (1 - w) x CE(true code) + w x (KL(teacher || student) + H(teacher)); its gradient
    on the logits is softmax(student) minus the mixed target (break-checked: dropping the
    teacher's term or flipping its sign fails here)."""
    from desktopgen.train.token_recipes import distill_loss

    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 5, 11, generator=g, requires_grad=True)
    t = torch.randn(3, 5, 11, generator=g)
    codes = torch.randint(0, 11, (3, 5), generator=g)
    ce = torch.nn.functional.cross_entropy(s.reshape(-1, 11), codes.reshape(-1))
    assert torch.allclose(distill_loss(s, t, codes, 0.0), ce)
    pt, ps = t.softmax(-1), s.softmax(-1)
    kl_plus_h = (pt * (pt.log() - ps.log())).sum(-1).mean() - (pt * pt.log()).sum(-1).mean()
    w = 0.8
    loss = distill_loss(s, t, codes, w)
    assert torch.allclose(loss, (1 - w) * ce + w * kl_plus_h, atol=1e-6)
    loss.backward()
    target = w * pt + (1 - w) * torch.nn.functional.one_hot(codes, 11)
    assert torch.allclose(s.grad, (ps - target) / 15, atol=1e-6)


def test_teacher_blocks_are_evenly_spaced_from_the_first():
    from desktopgen.train.token_recipes import teacher_blocks

    assert teacher_blocks(8, 4) == [0, 2, 4, 6]
    assert teacher_blocks(8, 3) == [0, 2, 5]
    assert teacher_blocks(4, 4) == [0, 1, 2, 3]


def test_a_student_starts_from_its_teacher_and_learns_its_distribution(models_root, tmp_path,
                                                                       monkeypatch):
    """`train token-ar --teacher`: a student of the same width starts from the teacher's
    embeddings, head and blocks 0 and 2 (of 4); one of another width trained with weight 1 on the
    teacher's distribution comes closer to it; a teacher over other codes is refused."""
    from desktopgen.train.loop import TrainConfig, train
    from desktopgen.train.token_recipes import TokenARRecipe

    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    for name in ("tiny-tok",):
        import shutil

        shutil.copytree(models_root / name, tmp_path / name)
    torch.manual_seed(1)
    teacher = nets.build("token_ar", {**TINY_AR, "n_layer": 4})
    checkpoints.save_model(teacher, tmp_path / "teacher", {"model": "token-ar"})
    teacher, _ = checkpoints.load_model("teacher")
    teacher = teacher.float().eval()

    recipe = TokenARRecipe("cpu")
    recipe.teacher_name, recipe.distill = "teacher", 0.8
    config = nets.check_config("token_ar", {**TINY_AR, "n_layer": 2})
    recipe._load_teacher(config)
    student = nets.build("token_ar", config)
    ema = nets.build("token_ar", config)
    recipe.start(student, ema)
    for net in (student, ema):
        sd, td = net.state_dict(), teacher.state_dict()
        assert torch.equal(sd["tok_emb.weight"], td["tok_emb.weight"])
        assert torch.equal(sd["head.weight"], td["head.weight"])
        assert torch.equal(sd["blocks.1.qkv.weight"], td["blocks.2.qkv.weight"])
        assert torch.equal(sd["blocks.0.mlp.2.weight"], td["blocks.0.mlp.2.weight"])
    assert recipe.card_extra["teacher"]["init_blocks"] == [0, 2]
    codes = torch.randint(0, 1000, (4, 49), generator=torch.Generator().manual_seed(3))
    labels = torch.arange(4)
    losses = []
    for w in (0.0, 0.8):  # at 0 the teacher only starts the student: plain cross-entropy
        recipe.distill = w
        losses.append(recipe.loss(student.train(), codes, labels, torch.Generator().manual_seed(0)))
    plain = TokenARRecipe("cpu").loss(student, codes, labels, torch.Generator().manual_seed(0))
    assert torch.equal(losses[0], plain) and not torch.allclose(losses[1], plain)

    images = torch.as_tensor(__import__("desktopgen.data.fmnist", fromlist=["load"]).load("train")[0][:64])
    tok, _ = checkpoints.load_model("tiny-tok")
    from desktopgen.train.token_recipes import encode_all

    codes = encode_all(tok, images)
    y = torch.arange(64) % 10

    def kl(model) -> float:
        with torch.no_grad():
            pt = teacher(codes, y).float().log_softmax(-1)
            ps = model.float().eval()(codes, y).float().log_softmax(-1)
            return float((pt.exp() * (pt - ps)).sum(-1).mean())

    arch = {**TINY_AR, "n_layer": 1, "n_embd": 16}
    common = dict(steps=40, batch=16, limit=256, device="cpu", warmup=1, ema=0.5, lr=3e-3,
                  checkpoint_every=1000, arch=arch)
    torch.manual_seed(0)
    fresh = nets.build("token_ar", nets.check_config("token_ar", arch))
    card = train(TrainConfig(model="token-ar", out=str(tmp_path / "student"), teacher="teacher",
                             distill=1.0, **common))
    assert card["teacher"]["model"] == "teacher" and card["teacher"]["init_blocks"] is None
    student, _ = checkpoints.load_model("student")
    assert kl(student) < 0.7 * kl(fresh), (kl(fresh), kl(student))

    other = nets.build("token_ar", {**TINY_AR, "vocab": 64})
    checkpoints.save_model(other, tmp_path / "other", {"model": "token-ar"})
    with pytest.raises(nets.ConfigError, match="must agree"):
        train(TrainConfig(model="token-ar", out=str(tmp_path / "bad"), teacher="other", **common))
    with pytest.raises(ValueError, match="--teacher is for train token-ar"):
        train(TrainConfig(model="maskgit", out=str(tmp_path / "bad"), teacher="teacher", steps=1))


def test_cli_distill_needs_a_teacher(capsys):
    from desktopgen.cli import main

    assert main(["train", "token-ar", "--out", "/nonexistent/x", "--distill", "0.5"]) == 2
    assert "--distill needs --teacher" in capsys.readouterr().err
