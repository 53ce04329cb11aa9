"""A tokenizer that decodes a clip's frames together (`temporal_blocks`, `decode_clips`) and
`train video-decoder` (desktopgen/train/decoder_recipe.py): the same codes, a decoder that looks
at the neighbouring frames."""

from __future__ import annotations

import pytest
import torch
from token_helpers import tiny_maskgit_folders

from desktopgen import nets
from desktopgen.core import checkpoints
from desktopgen.train.decoder_recipe import VideoDecoderRecipe
from desktopgen.train.loop import TrainConfig, train

TINY = {"channels": 8, "blocks": 1, "levels": [3, 3]}  # 9 codes, 4x down: 48x48 -> 12x12


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    with tiny_maskgit_folders(tmp_path_factory.mktemp("models"), TINY, steps=1) as root:
        yield root


def run(root, out, steps=3, **kw):
    kw.setdefault("arch", {"temporal_blocks": 1, "temporal_channels": 8})
    return train(TrainConfig(model="video-decoder", out=str(root / out), steps=steps, batch=2,
                             limit=32, device="cpu", warmup=1, init_from="tok", **kw))


def clip_codes(n=2, frames=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 9, (n, frames, 12, 12), generator=g)


def test_new_space_time_blocks_decode_exactly_frame_by_frame():
    torch.manual_seed(0)
    plain = nets.build("tokenizer", TINY).eval()
    video = nets.build("tokenizer", {**TINY, "temporal_blocks": 2, "temporal_channels": 8}).eval()
    video.load_state_dict(plain.state_dict(), strict=False)
    codes = clip_codes()
    frames = plain.decode(codes.flatten(0, 1)).unflatten(0, codes.shape[:2])
    assert torch.equal(video.decode_clips(codes), frames)
    assert torch.equal(plain.decode_clips(codes), frames)


def test_a_frame_is_decoded_from_its_neighbours_within_the_blocks_reach():
    """One block reaches one frame either side: changing frame 3's codes changes frames 2..4 and
    no other (both directions: the decoder is not causal), and other clips not at all."""
    torch.manual_seed(0)
    tok = nets.build("tokenizer", {**TINY, "temporal_blocks": 1, "temporal_channels": 8}).eval()
    for p in tok.temporal.parameters():  # as if trained: the zero-initialised output moves
        torch.nn.init.normal_(p, std=0.2)
    codes = clip_codes(frames=6)
    changed = codes.clone()
    changed[0, 3] = (changed[0, 3] + 1) % 9
    a, b = tok.decode_clips(codes), tok.decode_clips(changed)
    differs = [not torch.equal(a[0, t], b[0, t]) for t in range(6)]
    assert differs == [False, False, True, True, True, False]
    assert torch.equal(a[1], b[1])


def test_decode_clips_in_chunks_equals_one_call(monkeypatch):
    import desktopgen.nets.tokenizer as tokenizer

    torch.manual_seed(0)
    tok = nets.build("tokenizer", {**TINY, "temporal_blocks": 1, "temporal_channels": 8}).eval()
    for p in tok.temporal.parameters():
        torch.nn.init.normal_(p, std=0.2)
    codes = clip_codes(n=5, frames=4)
    whole = tok.decode_clips(codes)
    monkeypatch.setattr(tokenizer, "DECODE_CHUNK", 8)  # two clips of four frames per call
    assert torch.allclose(tok.decode_clips(codes), whole, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, T, h, w\)"):
        tok.decode_clips(codes[0])
    with pytest.raises(ValueError, match="codes must lie in 0..8"):
        tok.decode_clips(codes + 9)


def test_train_video_decoder_keeps_the_codes_and_trains_the_space_time_blocks(models):
    card = run(models, "vdec", steps=3)
    old, _ = checkpoints.load_model("tok", "cpu")
    new, _ = checkpoints.load_model(str(models / "vdec"), "cpu")
    enc_old = {k: v for k, v in old.state_dict().items() if not k.startswith("decoder.")}
    new_state = new.state_dict()
    assert all(torch.equal(v, new_state[k]) for k, v in enc_old.items())
    assert any(new_state[k].abs().sum() > 0 for k in new_state if k.startswith("temporal.") and ".up." in k)
    x = torch.rand(3, 1, 48, 48) * 2 - 1
    assert torch.equal(old.encode(x), new.encode(x))
    codes = clip_codes()
    frames = new.decode(codes.flatten(0, 1)).unflatten(0, codes.shape[:2])
    assert not torch.equal(new.decode_clips(codes), frames)  # the blocks now do something
    assert card["same_codes_as"] == [checkpoints.read_card(str(models / "tok"))["sha256"]]
    assert card["decoder"]["decoder_copied"] is True


def test_train_video_decoder_needs_space_time_blocks(models):
    with pytest.raises(ValueError, match="temporal_blocks"):
        run(models, "none", arch={})


def test_the_video_recipe_reconstructs_whole_clips():
    torch.manual_seed(0)
    tok = nets.build("tokenizer", {**TINY, "temporal_blocks": 1, "temporal_channels": 8})
    r = VideoDecoderRecipe("cpu")
    r.setup(tok)
    garments = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
    x = r.inputs(garments, torch.Generator().manual_seed(0))
    assert x.shape == (2 * 16, 1, 48, 48) and tuple(r.clip_shape) == (2, 16)
    loss = r.loss(tok, garments, None, torch.Generator().manual_seed(0))
    loss.backward()
    assert tok.temporal[0].up.weight.grad is not None
    assert all(p.grad is None for p in tok.encoder.parameters())
