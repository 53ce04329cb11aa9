"""`train tokenizer-decoder` (desktopgen/train/decoder_recipe.py): a new decoder, the same codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open
from token_helpers import tiny_maskgit_folders

from desktopgen import nets, sampling
from desktopgen.core import checkpoints
from desktopgen.train.decoder_recipe import TokenizerDecoderRecipe, adaptive_weight
from desktopgen.train.loop import STATE, TrainConfig, train

TINY = {"channels": 8, "blocks": 1, "levels": [3, 3]}  # 9 codes


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny tokenizer folder "tok" (saved like a shipped one) and a MaskGIT trained on it."""
    with tiny_maskgit_folders(tmp_path_factory.mktemp("models"), TINY, steps=2) as root:
        yield root


def run(root, out, steps=4, **kw):
    return train(TrainConfig(model="tokenizer-decoder", out=str(root / out), steps=steps, batch=8,
                             limit=64, device="cpu", warmup=1, init_from="tok", **kw))


def images(n=6):
    rng = np.random.default_rng(0)
    return torch.as_tensor(rng.integers(0, 256, (n, 1, 28, 28)), dtype=torch.float32) / 127.5 - 1


def parts(model):
    state = model.state_dict()
    enc = {k: v for k, v in state.items() if not k.startswith("decoder.")}
    dec = {k: v for k, v in state.items() if k.startswith("decoder.")}
    return enc, dec


@pytest.mark.parametrize("adversarial", [0.0, 0.5])
def test_the_encoder_and_codes_stay_bit_for_bit_and_the_decoder_learns(models, monkeypatch, adversarial):
    import desktopgen.train.decoder_recipe as recipe

    monkeypatch.setattr(recipe, "RAMP", 1)  # the GAN term from the first steps of this short run
    card = run(models, f"dec{adversarial}", adversarial=adversarial)
    old, _ = checkpoints.load_model("tok", "cpu")
    new, _ = checkpoints.load_model(str(models / f"dec{adversarial}"), "cpu")
    (e_old, d_old), (e_new, d_new) = parts(old), parts(new)
    assert e_old.keys() == e_new.keys() and all(torch.equal(e_old[k], e_new[k]) for k in e_old)
    assert not all(torch.equal(d_old[k], d_new[k]) for k in d_old)
    x = images()
    assert torch.equal(old.encode(x), new.encode(x))
    assert card["same_codes_as"] == [checkpoints.read_card(str(models / "tok"))["sha256"]]
    assert card["decoder"]["decoder_copied"] is True and card["decoder"]["adversarial"] == adversarial
    with safe_open(str(models / f"dec{adversarial}" / "train_state" / STATE), "pt") as f:
        has_disc = any(k.startswith("recipe.disc.") for k in f.keys())
    assert has_disc == (adversarial > 0)


def test_a_resumed_run_goes_on_from_the_recipe_step_and_discriminator(models):
    """The GAN weight's ramp counts the recipe's steps: a resumed run must not start it again."""
    def saved(name):
        with safe_open(str(models / name / "train_state" / STATE), "pt") as f:
            return {k: f.get_tensor(k) for k in f.keys() if k.startswith("recipe.")}

    run(models, "resumed", steps=4, adversarial=0.5)
    first = saved("resumed")
    assert int(first["recipe.step"]) == 4
    run(models, "resumed", steps=6, adversarial=0.5, resume=True)
    again = saved("resumed")
    assert int(again["recipe.step"]) == 6
    assert any(not torch.equal(first[k], again[k]) for k in first if k.startswith("recipe.disc."))


def test_a_wider_decoder_starts_fresh_on_the_same_encoder(models):
    card = run(models, "wide", arch={"decoder_channels": 16, "decoder_blocks": 2})
    old, _ = checkpoints.load_model("tok", "cpu")
    new, _ = checkpoints.load_model(str(models / "wide"), "cpu")
    assert new.config.decoder_channels == 16 and new.config.channels == 8
    assert torch.equal(old.encode(images()), new.encode(images()))
    assert card["decoder"]["decoder_copied"] is False
    assert sum(p.numel() for p in new.decoder.parameters()) > sum(p.numel() for p in old.decoder.parameters())


def test_token_models_load_with_a_retrained_decoder_of_their_tokenizer(models, tmp_path):
    """MaskGIT checks its tokenizer's sha256: a decoder retrained from it shares the codes."""
    import shutil

    run(models, "dec-for-mg", steps=2)
    shutil.copytree(models / "mg", tmp_path / "mg")
    shutil.copytree(models / "dec-for-mg", tmp_path / "tok")  # beside it, under the name it knows
    model, _ = sampling.load("ar", str(tmp_path / "mg"), "cpu")
    fresh, _ = checkpoints.load_model(str(models / "dec-for-mg"), "cpu")
    assert all(torch.equal(a, b) for a, b in zip(model.tokenizer.state_dict().values(),
                                                 fresh.state_dict().values()))


def test_refusals(models):
    with pytest.raises(ValueError, match="needs --init-from"):
        train(TrainConfig(model="tokenizer-decoder", out=str(models / "x"), steps=1, device="cpu"))
    with pytest.raises(ValueError, match="--adversarial is for train tokenizer-decoder"):
        train(TrainConfig(model="tokenizer", out=str(models / "x"), steps=1, device="cpu",
                          adversarial=0.1))
    with pytest.raises(ValueError, match="the encoder of this run"):
        run(models, "x", arch={"channels": 16})


def test_adaptive_weight_is_the_ratio_of_gradient_norms():
    w = torch.randn(3, 4, requires_grad=True)
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    got = adaptive_weight((a * w).sum(), (b * w).sum(), w)
    assert torch.allclose(got, a.norm() / (b.norm() + 1e-4))
    assert not got.requires_grad


def test_the_generator_term_sends_no_gradient_to_the_discriminator():
    torch.manual_seed(0)
    tok = nets.build("tokenizer", TINY)
    r = TokenizerDecoderRecipe("cpu")
    r.adversarial, r.step = 1.0, 10_000  # past the ramp
    r.setup(tok)
    batch = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    before = [p.detach().clone() for p in r.disc.parameters()]
    loss = r.loss(tok, batch, None, torch.Generator().manual_seed(0))
    grads = [p.grad.clone() for p in r.disc.parameters()]  # from its own step only
    loss.backward()
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, r.disc.parameters()))
    assert not all(torch.equal(a, p) for a, p in zip(before, r.disc.parameters()))  # it stepped
    assert all(p.grad is None for p in tok.encoder.parameters())
    assert tok.decoder.net[-1].weight.grad is not None


def _pick_tool():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "tools" / "pick_tokenizer.py"
    spec = importlib.util.spec_from_file_location("pick_tokenizer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_tokenizer(root, name, accuracy, weights_bytes):
    import json
    d = root / "models" / name
    d.mkdir(parents=True)
    (d / "weights.safetensors").write_bytes(b"w")
    (d / "config.json").write_text(json.dumps({"config": {"decoder_channels": 64}}))
    m = {"test_reconstruction_accuracy": accuracy, "test_mse": 0.01, "test_mse_48x48": 0.003,
         "test_label_agreement": 0.93, "codebook_usage_test": {"fraction_used": 1.0, "perplexity": 700},
         "train_reconstructions_vs_test": {"fd": 1.0}}
    (d / "card.json").write_text(json.dumps({"steps": 1, "wall_time_s": 1, "parameters": 1,
                                             "weights_bytes": weights_bytes, "metrics": m}))


def test_the_tokenizer_pick_never_takes_a_model_over_the_size_limit(tmp_path, monkeypatch):
    import json
    tool = _pick_tool()
    monkeypatch.chdir(tmp_path)
    _fake_tokenizer(tmp_path, "inc", 0.90, 6_000_000)
    _fake_tokenizer(tmp_path, "big", 0.95, 21_200_000)  # the best, but over 20 MB
    _fake_tokenizer(tmp_path, "small", 0.91, 17_000_000)
    assert tool.main(["big", "small", "--incumbent", "inc", "--out", "picked"]) == 0
    card = json.loads((tmp_path / "models" / "picked" / "card.json").read_text())
    assert card["selection"]["picked"] == "small"
    assert "big" not in card["selection"]["tried"]
    assert tool.main(["big", "--incumbent", "inc", "--out", "picked2"]) == 1  # nothing eligible
    assert not (tmp_path / "models" / "picked2").exists()
