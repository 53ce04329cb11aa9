"""The U-Net's forms on CUDA (sampling/graphs.py): a bf16 copy of the network, kept per model and
made again when its weights change, runs without autocast and computes what the fp32 network
does within bf16 rounding; the CPU keeps the model and its precision untouched. Tiny random
networks on the CPU (bf16 convolutions run there too); the CUDA side is in test_gpu.py."""

import contextlib

import pytest
import torch

from desktopgen.nets.inpaint_unet import InpaintUNet, InpaintUNetConfig
from desktopgen.nets.shortcut import ShortcutUNet, ShortcutUNetConfig
from desktopgen.nets.unet import UNet, UNetConfig
from desktopgen.sampling import graphs

TINY = dict(channels=32, mults=(1, 2), blocks=1, attn_res=(14,), dropout=0.0)


def _randomised(net: torch.nn.Module) -> torch.nn.Module:
    """The zero-initialised output convolutions made non-zero, so the output depends on it all."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.05)
    return net.eval()


def _inputs(n=4):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(n, 1, 28, 28, generator=g), torch.tensor([10.0, 250.0, 600.0, 990.0][:n]),
            torch.tensor([0, 3, 10, 7][:n]))


@pytest.mark.parametrize("kind", ["unet", "shortcut", "inpaint"])
def test_a_bf16_copy_takes_fp32_inputs_and_matches_the_fp32_network_within_bf16(kind):
    if kind == "unet":
        net = _randomised(UNet(UNetConfig(**TINY)))
        call = lambda m, x, t, y: m(x, t, y)  # noqa: E731
    elif kind == "shortcut":
        net = _randomised(ShortcutUNet(ShortcutUNetConfig(**TINY)))
        call = lambda m, x, t, y: m(x, t / 1000, y, torch.full_like(t, 0.25))  # noqa: E731
    else:
        net = _randomised(InpaintUNet(InpaintUNetConfig(**TINY)))
        cond = torch.cat([torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28)], dim=1)
        call = lambda m, x, t, y: m(x, t, y, cond)  # noqa: E731
    x, t, y = _inputs()
    with torch.no_grad():
        ref = call(net, x, t, y)
        half = call(graphs.copy_in(net, torch.bfloat16), x, t, y)
    assert ref.dtype == torch.float32 and half.dtype == torch.bfloat16
    assert next(net.parameters()).dtype == torch.float32  # the model itself is not converted
    err = (half.float() - ref).abs().mean() / ref.abs().mean()
    assert ref.abs().mean() > 1e-3 and err < 0.03, err.item()  # bf16: 8 bits of mantissa


def test_the_copy_is_kept_and_made_again_when_the_weights_change():
    net = _randomised(UNet(UNetConfig(**TINY)))
    first = graphs.copy_in(net, torch.bfloat16)
    assert graphs.copy_in(net, torch.bfloat16) is first  # reused: its CUDA graphs are kept with it
    with torch.no_grad():
        net.stem.weight.add_(1.0)  # an in-place update (a training step, a reload)
    second = graphs.copy_in(net, torch.bfloat16)
    assert second is not first
    assert torch.equal(second.stem.weight, net.stem.weight.to(torch.bfloat16))
    assert graphs.copy_in(net, torch.float16) is not second  # another dtype: another copy


def test_kept_weight_lists_follow_moves_updates_and_new_registrations():
    """graphs.tensors lists a module's weights once (what capture keys and copies are made from):
    the list must still say where the weights are after `.to()` moved them, what their in-place
    versions are, and, after any parameter, buffer or submodule is registered or replaced, list
    the module's weights as they are now."""
    net = _randomised(UNet(UNetConfig(**TINY)))

    def fresh():
        return [*net.parameters(), *net.buffers()]

    assert graphs.tensors(net) is graphs.tensors(net)  # kept
    ptrs, vers = graphs.storage(net), graphs.versions(net)
    assert ptrs == tuple(t.data_ptr() for t in fresh())
    net.to(memory_format=torch.channels_last)  # moves the 4-d weights
    assert graphs.storage(net) != ptrs and graphs.storage(net) == tuple(t.data_ptr() for t in fresh())
    with torch.no_grad():
        net.stem.weight.add_(1.0)
    assert graphs.versions(net) != vers
    net.stem.weight = torch.nn.Parameter(net.stem.weight.detach().clone())  # replaced
    assert any(t is net.stem.weight for t in graphs.tensors(net))
    assert [id(t) for t in graphs.tensors(net)] == [id(t) for t in fresh()]
    net.register_buffer("extra", torch.zeros(3))
    net.head = torch.nn.Linear(2, 2)  # a new submodule
    assert [id(t) for t in graphs.tensors(net)] == [id(t) for t in fresh()]


def test_on_the_cpu_the_model_and_its_precision_stay_as_they_are():
    net = UNet(UNetConfig(**TINY))
    for form in graphs.UNET_FORMS:
        graphs.set_unet_form(form)
        try:
            model, autocast, layout = graphs.in_form(net, torch.device("cpu"), None)
        finally:
            graphs.set_unet_form(graphs.DEFAULT_UNET_FORM)
        assert model is net and autocast is contextlib.nullcontext
        assert layout == torch.preserve_format


def test_an_unknown_form_is_refused_and_a_bad_environment_value_falls_back(monkeypatch, caplog):
    with pytest.raises(ValueError, match="unknown U-Net form"):
        graphs.set_unet_form("fp8-cl")
    monkeypatch.setitem(graphs._form, "name", "nonsense")
    assert graphs.unet_form() == graphs.DEFAULT_UNET_FORM
    assert "not one of" in caplog.text
