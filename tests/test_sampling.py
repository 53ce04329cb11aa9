"""Samplers: contracts (events, cancel, seeding, batch independence) and correctness on an oracle."""

import numpy as np
import pytest
import torch

from desktopgen import nets, sampling
from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.nets.pixel_ar import PixelARConfig
from desktopgen.sampling import diffusion
from desktopgen.sampling.schedule import cosine_alpha_bar


class OracleDenoiser(torch.nn.Module):
    """Predicts the exact v for data that is always the same image: every sampler must land on it."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.target = target  # (1, 1, 28, 28) in [-1, 1]
        self.alpha_bar = cosine_alpha_bar().float()
        self.config = nets.UNetConfig()
        self.calls = 0

    def forward(self, x, t, y):
        self.calls += 1
        ab = self.alpha_bar[t.long()][:, None, None, None]
        a, s = ab.sqrt(), (1 - ab).sqrt()
        eps = (x - a * self.target) / s
        return a * eps - s * self.target


def tiny_ar(seed=0):
    torch.manual_seed(seed)
    return nets.build("pixel_ar", {"n_layer": 1, "n_embd": 32, "n_head": 2, "dropout": 0.0}).eval()


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp-2m"])
@pytest.mark.parametrize("steps", [1, 7, 50])
def test_diffusion_samplers_reach_the_oracle_image(sampler, steps):
    target = torch.linspace(-1, 1, 784).reshape(1, 1, 28, 28)
    model = OracleDenoiser(target)
    req = SampleRequest(family="diffusion", sampler=sampler, steps=steps, guidance=1.0, batch=2)
    result = sampling.run_to_end(diffusion.sample(model, req))
    expected = diffusion.to_uint8(target)[0]
    assert np.abs(result.images.astype(int) - expected).max() <= 1
    assert model.calls == steps  # one network evaluation per step without guidance


def test_guidance_doubles_the_batch_not_the_calls():
    model = OracleDenoiser(torch.zeros(1, 1, 28, 28))
    req = SampleRequest(family="diffusion", sampler="ddim", steps=5, guidance=2.0, batch=3)
    events = list(diffusion.sample(model, req))
    assert [e.step for e in events] == [1, 2, 3, 4, 5] and events[-1].total == 5
    assert model.calls == 5


def test_event_previews_are_cpu_uint8():
    model = OracleDenoiser(torch.zeros(1, 1, 28, 28))
    ev = next(diffusion.sample(model, SampleRequest(family="diffusion", steps=3, batch=2)))
    for arr in (ev.preview, ev.preview_clean):
        assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8 and arr.shape == (2, 28, 28)
    assert ev.mem_kind == "process" and ev.mem_allocated > 0


def test_repaint_resampling_adds_denoising_steps_and_keeps_known_pixels():
    target = torch.zeros(1, 1, 28, 28)
    model = OracleDenoiser(target)
    source = tuple(tuple((r * 9 + c) % 256 for c in range(28)) for r in range(28))
    mask = tuple(tuple(int(r >= 14) for c in range(28)) for r in range(28))
    req = SampleRequest(family="diffusion", sampler="ddim", steps=6, guidance=1.0, batch=1,
                        source=source, mask=mask, resample=3, jump=2)
    events = list(diffusion.sample(model, req))
    assert len(events) == 6 * 3 and events[-1].total == 18
    gen = diffusion.sample(model, req)
    result = sampling.run_to_end(gen)
    src = np.array(source, np.uint8)
    known = np.array(mask) == 0
    assert (result.images[0][known] == src[known]).all()  # kept exactly


def test_ar_sampler_one_event_per_pixel_and_positions():
    model = tiny_ar()
    events = list(sampling.ar.sample(model, SampleRequest(family="ar", batch=2, guidance=1.0)))
    assert len(events) == 784 and [e.position for e in events[:3]] == [0, 1, 2]
    assert events[-1].preview.shape == (2, 28, 28)


def test_ar_inpainting_forces_known_pixels():
    model = tiny_ar()
    source = tuple(tuple(200 for _ in range(28)) for _ in range(28))
    mask = tuple(tuple(int(14 <= r < 20) for _ in range(28)) for r in range(28))
    req = SampleRequest(family="ar", batch=2, guidance=1.5, source=source, mask=mask)
    result = sampling.run_to_end(sampling.ar.sample(model, req))
    known = np.array(mask) == 0
    assert (result.images[:, known] == 200).all()
    assert (result.images[:, ~known] != 200).any()  # the hole was generated, not copied


def test_kv_cache_decode_matches_full_forward():
    model = tiny_ar(1)
    px = torch.randint(0, 256, (2, 784))
    y = torch.tensor([3, 10])
    with torch.no_grad():
        full = model(px, y)
        cache = model.new_cache(2, "cpu")
        pos, tok = torch.zeros(1, dtype=torch.long), torch.zeros(2, dtype=torch.long)
        for s in range(0, 784):
            logits = model.decode_step(tok, y, pos, cache)
            if s % 97 == 0 or s == 783:
                torch.testing.assert_close(logits, full[:, s], atol=1e-4, rtol=1e-4)
            tok = px[:, s]
            pos += 1


def test_closing_a_sampler_stops_it():
    model = tiny_ar()
    gen = sampling.ar.sample(model, SampleRequest(family="ar", batch=1))
    for _ in range(10):
        ev = next(gen)
    gen.close()
    assert ev.step == 10
    with pytest.raises(StopIteration):
        next(gen)


def test_ar_seeded_runs_repeat_and_sample_i_ignores_batch_size():
    model = tiny_ar(2)
    def pixels(batch, first_index=0, seed=5):
        req = SampleRequest(family="ar", batch=batch, seed=seed, first_index=first_index, guidance=1.0)
        return sampling.run_to_end(sampling.ar.sample(model, req)).images
    a = pixels(3)
    assert np.array_equal(a, pixels(3))
    assert np.array_equal(pixels(1, first_index=2), a[2:3])  # bit for bit
    assert (pixels(3, seed=6) != a).mean() > 0.5  # another seed is another image


def test_diffusion_seeded_runs_repeat_and_sample_i_ignores_batch_size(diffusion_model):
    model, _ = diffusion_model
    def images(batch, first_index=0):
        req = SampleRequest(family="diffusion", sampler="ddpm", steps=4, batch=batch, seed=11,
                            first_index=first_index)
        return sampling.run_to_end(sampling.sample(model, req)).images.astype(int)
    a = images(3)
    assert np.array_equal(a, images(3))
    assert np.array_equal(images(1, first_index=1), a[1:2])  # bit for bit


def test_nonsense_requests_are_refused():
    for bad in (dict(steps=-1), dict(batch=0), dict(batch=10**6), dict(seed=-1), dict(class_label=10),
                dict(temperature=0.0), dict(family="gan")):
        with pytest.raises(RequestError):
            SampleRequest(**{"family": "diffusion", **bad}).validate()
    with pytest.raises(ValueError):
        list(diffusion.sample(OracleDenoiser(torch.zeros(1, 1, 28, 28)),
                              SampleRequest(family="diffusion", sampler="euler")))


def test_request_json_round_trip():
    mask = tuple(tuple(int(c > 10) for c in range(28)) for _ in range(28))
    req = SampleRequest(family="ar", model="m", steps=784, guidance=1.5, class_label=4, seed=9,
                        batch=4, source=mask, mask=mask)
    assert SampleRequest.from_json(req.to_json()) == req
    with pytest.raises(RequestError):
        SampleRequest.from_json('{"family": "ar", "bogus": 1}')


class FixedLogitsAR(torch.nn.Module):
    """An AR 'model' whose logits depend only on the class: every pixel is an independent
    draw from softmax(logits[y] / T), so the sampler's distribution is known exactly."""

    def __init__(self, logits):  # (num_classes + 1, 256); the last row is the null class
        super().__init__()
        self.logits = logits
        self.config = PixelARConfig(num_classes=len(logits) - 1)

    def new_cache(self, batch, device):
        return None

    def decode_step(self, token, y, pos, cache):
        return self.logits[y]


def known_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(11, 256, generator=g)
    for row in logits:  # a clear winner, so low temperatures have something to concentrate on
        row[int(row.argmax())] += 1.0
    return logits


def ar_pixels(model, batch=16, **kw):
    req = SampleRequest(family="ar", batch=batch, seed=1, class_label=3, **kw)
    return sampling.run_to_end(sampling.ar.sample(model, req)).images.reshape(-1).astype(int)


def assert_matches(pixels, p):
    """Every bin's frequency within 5 standard errors of its probability p (n draws)."""
    n = len(pixels)
    freq = np.bincount(pixels, minlength=len(p)) / n
    tol = 5 * np.sqrt(p * (1 - p) / n) + 1 / n
    worst = np.max(np.abs(freq - p) - tol)
    assert worst <= 0, f"frequency off its probability by {worst:.4f} beyond 5 standard errors"


def test_top_k_1_is_argmax():
    logits = known_logits()
    px = ar_pixels(FixedLogitsAR(logits), top_k=1, guidance=1.0)
    assert (px == int(logits[3].argmax())).all()


def test_low_temperature_concentrates_on_the_argmax():
    logits = known_logits()
    top = int(logits[3].argmax())
    share = [(ar_pixels(FixedLogitsAR(logits), batch=4, temperature=t, guidance=1.0) == top).mean()
             for t in (2.0, 1.0, 0.5, 0.05)]
    assert share == sorted(share) and share[0] < 0.1 and share[-1] > 0.999, share


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_empirical_distribution_is_softmax_of_logits_over_temperature(temperature):
    logits = known_logits()
    px = ar_pixels(FixedLogitsAR(logits), temperature=temperature, guidance=1.0)
    assert_matches(px, torch.softmax(logits[3].double() / temperature, -1).numpy())


def test_top_k_samples_the_renormalised_top_k():
    logits = known_logits()
    k, t = 5, 1.5
    px = ar_pixels(FixedLogitsAR(logits), top_k=k, temperature=t, guidance=1.0)
    keep = torch.topk(logits[3], k).indices
    p = torch.zeros(256, dtype=torch.float64)
    p[keep] = torch.softmax(logits[3, keep].double() / t, -1)
    assert set(np.unique(px)) <= set(keep.tolist())
    assert_matches(px, p.numpy())


def test_ar_guidance_mixes_log_probabilities_toward_the_class():
    logits = known_logits()
    w = 2.0
    logp = torch.log_softmax(logits.double(), -1)
    px = ar_pixels(FixedLogitsAR(logits), guidance=w)
    assert_matches(px, torch.softmax(logp[10] + w * (logp[3] - logp[10]), -1).numpy())
