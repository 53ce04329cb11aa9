"""The image tokenizer (desktopgen/nets/tokenizer.py): shapes, FSQ maths, VQ codebook care."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from desktopgen import nets
from desktopgen.nets.tokenizer import FSQ, Tokenizer, TokenizerConfig, codebook_usage

TINY = {"channels": 8, "blocks": 1}


def tiny(quantizer="fsq", **kw) -> Tokenizer:
    torch.manual_seed(0)
    return nets.build("tokenizer", {"quantizer": quantizer, **TINY, **kw}).eval()


@pytest.mark.parametrize("quantizer", ["fsq", "vq"])
@pytest.mark.parametrize("size,down", [(28, 4), (48, 4), (28, 2)])
def test_round_trip_shapes(quantizer, size, down):
    tok = tiny(quantizer, down=down)
    x = torch.rand(3, 1, size, size) * 2 - 1
    codes = tok.encode(x)
    assert codes.shape == (3, size // down, size // down) and codes.dtype == torch.long
    assert 0 <= int(codes.min()) and int(codes.max()) < tok.codebook_size
    y = tok.decode(codes)
    assert y.shape == (3, 1, size, size)
    assert float(y.min()) >= -1 and float(y.max()) <= 1
    assert tok.down == down


def test_fsq_codes_of_closed_form_inputs():
    """levels (8, 5, 5, 5): z = 0 is the middle value of every channel, digits (4, 2, 2, 2),
    so the code is 4 + 2*8 + 2*40 + 2*200 = 500; huge z saturates to the ends."""
    fsq = FSQ((8, 5, 5, 5))
    assert fsq.size == 1000
    z = torch.zeros(1, 4, 1, 3)
    z[..., 1] = 50.0
    z[..., 2] = -50.0
    values, codes = fsq.quantize(z)
    assert codes.tolist() == [[[500, 999, 0]]]
    assert torch.equal(values[0, :, 0, 0], torch.zeros(4))
    assert torch.equal(values[0, :, 0, 1], torch.tensor([0.75, 1.0, 1.0, 1.0]))
    assert torch.equal(values[0, :, 0, 2], torch.tensor([-1.0, -1.0, -1.0, -1.0]))


def test_fsq_lookup_inverts_quantize_for_every_code():
    fsq = FSQ((8, 5, 5, 5))
    codes = torch.arange(1000).view(1, 1000, 1)
    values = fsq.lookup(codes)  # (1, 4, 1000, 1)
    width = torch.tensor([4.0, 2, 2, 2]).view(1, 4, 1, 1)
    digits = (values * width + width).round().long()
    again = (digits * fsq.basis.view(1, 4, 1, 1)).sum(1)
    assert torch.equal(again, codes)
    # and quantising a point of the grid (bound() inverted) gives the code back
    q = values * width  # the integers of each channel
    offset = torch.tensor([0.5, 0, 0, 0]).view(1, 4, 1, 1)
    half = (fsq.levels.view(1, 4, 1, 1) - 1) * (1 - 1e-3) / 2
    z = torch.atanh(((q + offset) / half).clamp(-0.9999, 0.9999)) - torch.atanh(offset / half)
    assert torch.equal(fsq.quantize(z)[1], codes)


@pytest.mark.parametrize("levels", [(7, 5, 5, 5, 5), (8, 8, 8, 5, 5, 5)])
def test_fsq_with_more_channels_codes_every_grid_point_once(levels):
    """The larger FSQ grids (4,375 and 64,000 codes, 5 and 6 channels: the FSQ paper's 2^12 and
    2^16 rows): every code's grid point reads back as that code, so no two codes collide."""
    fsq = FSQ(levels)
    assert fsq.size == torch.tensor(levels).prod().item()
    codes = torch.arange(fsq.size).view(1, fsq.size, 1)
    values = fsq.lookup(codes)
    assert values.shape == (1, len(levels), fsq.size, 1)
    width = torch.div(torch.tensor(levels), 2, rounding_mode="floor").view(1, -1, 1, 1).float()
    digits = (values * width + width).round().long()
    assert torch.equal((digits * fsq.basis.view(1, -1, 1, 1)).sum(1), codes)


def test_schema_takes_fsq_grids_of_up_to_six_channels():
    tok = nets.build("tokenizer", {"quantizer": "fsq", "levels": [7, 5, 5, 5, 5], **TINY})
    assert tok.codebook_size == 4375
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    assert int(tok.encode(x).max()) < 4375
    with pytest.raises(nets.ConfigError, match="at most 6"):
        nets.build("tokenizer", {"quantizer": "fsq", "levels": [2] * 7, **TINY})


def test_codebook_usage_closed_form():
    u = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert u["used"] == 2 and u["fraction_used"] == 0.5
    assert u["perplexity"] == pytest.approx(2.0)
    assert codebook_usage(torch.arange(8), 8)["perplexity"] == pytest.approx(8.0)


def test_vq_kmeans_initialises_from_the_first_batch_and_restarts_dead_codes():
    tok = tiny("vq", codebook_size=16, code_dim=4).train()
    vq = tok.quantizer
    assert not bool(vq.initialised)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    gen = torch.Generator().manual_seed(1)
    tok(x, gen)
    assert bool(vq.initialised)
    assert torch.allclose(vq.codebook.norm(dim=1), torch.ones(16), atol=1e-5)
    # every code is one of this batch's normalised encoder outputs or a mean of them: it is
    # close to some encoder output (cosine), unlike the random init
    with torch.no_grad():
        z = torch.nn.functional.normalize(tok.encoder(x).permute(0, 2, 3, 1).reshape(-1, 4), dim=1)
    assert float((vq.codebook @ z.t()).max(1).values.min()) > 0.5
    # a code whose use count has decayed away is moved onto an encoder output
    vq.counts[3] = 0.0
    vq.codebook[3] = -vq.codebook[3]
    tok(x, gen)
    assert float((vq.codebook[3] @ z.t()).max()) > 0.999


def test_vq_is_seeded_by_the_generator():
    a, b = tiny("vq", codebook_size=16, code_dim=4).train(), tiny("vq", codebook_size=16, code_dim=4).train()
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    a(x, torch.Generator().manual_seed(5))
    b(x, torch.Generator().manual_seed(5))
    assert torch.equal(a.quantizer.codebook, b.quantizer.codebook)
    assert torch.equal(a.encode(x), b.encode(x))


def test_a_token_depends_on_its_neighbourhood_not_on_the_canvas():
    """Fully convolutional with per-pixel norms: a garment on a 48x48 canvas gets, away from
    the borders, the same tokens as the same pixels cut out at 28x28 (positions a multiple of 4)."""
    tok = tiny("fsq")
    x = -torch.ones(1, 1, 48, 48)
    x[..., 12:36, 12:36] = torch.rand(1, 1, 24, 24) * 2 - 1
    big = tok.encode(x)
    small = tok.encode(x[..., 8:36, 8:36].contiguous())
    assert torch.equal(big[0, 4:7, 4:7], small[0, 2:5, 2:5])


def test_gradients_reach_the_encoder_through_the_quantizer():
    for q in ("fsq", "vq"):
        tok = tiny(q).train()
        recon, aux, _ = tok(torch.rand(2, 1, 28, 28) * 2 - 1, torch.Generator().manual_seed(0))
        (recon.square().mean() + aux).backward()
        assert tok.encoder.net[0].weight.grad.abs().sum() > 0


def test_bad_inputs_are_refused_in_one_line():
    tok = tiny()
    with pytest.raises(ValueError, match="multiples of 4"):
        tok.encode(torch.zeros(1, 1, 27, 28))
    with pytest.raises(ValueError, match="codes must lie"):
        tok.decode(torch.full((1, 7, 7), 1000))
    with pytest.raises(nets.ConfigError, match="quantizer must be one of"):
        nets.check_config("tokenizer", {"quantizer": "pq"})
    with pytest.raises(nets.ConfigError, match="down must be one of"):
        nets.check_config("tokenizer", {"down": 8})


@pytest.mark.parametrize("config", [{}, {"quantizer": "vq"}, {"down": 2, "blocks": 0},
                                    {"quantizer": "vq", "code_dim": 16, "codebook_size": 512},
                                    {"decoder_channels": 16, "decoder_blocks": 3},
                                    {"down": 2, "decoder_blocks": 0}])
def test_parameter_count_matches_the_module(config):
    cfg = nets.check_config("tokenizer", config)
    built = nets.build("tokenizer", config)
    assert nets.parameter_count("tokenizer", cfg) == sum(p.numel() for p in built.parameters())
    assert asdict(built.config) == {**cfg, "levels": tuple(cfg["levels"])}


def test_building_is_seeded():
    assert all(torch.equal(a, b) for a, b in zip(tiny().state_dict().values(),
                                                 tiny().state_dict().values()))
    assert isinstance(tiny(), Tokenizer) and TokenizerConfig().quantizer == "fsq"


def test_tokenizer_card_metrics_on_a_tiny_set():
    """The eval table's figures exist, are in range, and the floor is the same images' own."""
    import numpy as np

    from desktopgen.metrics.tokens import evaluate_tokenizer, mse, on_canvas

    assert mse(np.zeros((2, 4, 4), np.uint8), np.full((2, 4, 4), 255, np.uint8)) == 4.0
    big = on_canvas(np.full((3, 28, 28), 7, np.uint8))
    assert big.shape == (3, 48, 48) and (big == 7).sum(axis=(1, 2)).tolist() == [784] * 3
    torch.manual_seed(0)
    clf = nets.build("classifier", {"width": 4, "feature_dim": 8}).eval()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 40)
    r = evaluate_tokenizer(tiny(), clf, x, y, x, y, n=20)
    assert r["tokens_per_image"] == [7, 7]
    assert 0 <= r["test_reconstruction_accuracy"] <= 1 and r["test_mse"] > 0
    assert r["floor_train_vs_test"]["n"] == r["train_reconstructions_vs_test"]["n"] == 20
    assert 0 < r["codebook_usage_test"]["fraction_used"] <= 1


def test_a_big_decode_runs_in_chunks_and_equals_decoding_each_chunk(monkeypatch):
    """Decoding more codes than DECODE_CHUNK goes through the decoder in chunks (a 64-frame video
    batch in one call passed 2**31 activation elements on the GPU) and gives what decoding each
    chunk alone gives; the chunks are really used (the decoder sees no call larger than one)."""
    from desktopgen.nets import tokenizer as tk

    tok = tiny()
    codes = torch.randint(0, tok.codebook_size, (7, 7, 7))
    whole = tok.decode(codes)
    monkeypatch.setattr(tk, "DECODE_CHUNK", 3)
    seen = []
    tok.decoder.register_forward_hook(lambda m, inp, out: seen.append(len(inp[0])))
    chunked = tok.decode(codes)
    assert seen == [3, 3, 1]
    parts = torch.cat([tok.decode(codes[i : i + 3]) for i in range(0, 7, 3)])
    assert torch.equal(chunked, parts)
    assert torch.allclose(chunked, whole, atol=1e-5)
