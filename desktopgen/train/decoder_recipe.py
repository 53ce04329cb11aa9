"""`desktopgen train tokenizer-decoder`: a better decoder for a tokenizer whose codes stay as they are.

Every token model (token AR, MaskGIT, the video AR) predicts a tokenizer's codes; the decoder only
turns codes back into pixels. So the decoder can be retrained, wider or with an adversarial loss,
without retraining any of them, provided the encoder (hence every code) does not change:

    desktopgen train tokenizer-decoder --init-from fmnist-tokenizer --out models/NEW \\
        [--adversarial 0.1] [--arch '{"decoder_channels": 96}']

The encoder and quantiser are copied from `--init-from` and frozen (never updated; the saved
encoder is bit for bit the old one, so are the codes). The decoder is copied too when its shape is
the same, else it starts fresh. The loss is the tokenizer's (MSE + a little L1, the same shifts and
48x48 canvases), plus, with `--adversarial W`, a hinge GAN loss from a small patch discriminator
(VQGAN, Esser et al. 2021): its weight is W times the ratio of the reconstruction loss's gradient
norm to the GAN loss's at the decoder's last layer (VQGAN's adaptive weight), ramped in over
RAMP steps. The card lists the tokenizers whose codes this one shares (`same_codes_as`), so the
models trained on them keep loading.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen import nets
from desktopgen.data.moving import FRAMES, random_clips_torch
from desktopgen.nets.tokenizer import decoder_shape
from desktopgen.train.token_recipes import CANVAS, CANVAS_EVERY, L1_WEIGHT, SHIFT, place

RAMP = 500  # steps over which the adversarial weight grows from 0 to --adversarial
FRESH_DECODER_START = 1500  # a fresh decoder first learns to reconstruct for this many steps
MAX_ADAPTIVE = 1e4


class PatchDiscriminator(nn.Module):
    """Real or reconstructed, per patch: three strided convolutions (28x28 -> 7x7 logits)."""

    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.GroupNorm(8, 2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1), nn.GroupNorm(8, 4 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 3, 1, 1),
        )

    def forward(self, x):
        return self.net(x)


def encoder_keys(state: dict) -> dict:
    """The entries of a tokenizer state dict that make its codes: encoder and quantiser."""
    return {k: v for k, v in state.items() if not k.startswith("decoder.")}


class TokenizerDecoderRecipe:
    """Reconstruction (+ optional adversarial) loss for the decoder alone; the codes are frozen."""

    arch = "tokenizer"
    defaults = {"batch": 256, "lr": 2e-4, "ema": 0.999, "weight_decay": 0.0}
    needs_init = True  # the encoder comes from --init-from
    options = ("adversarial",)

    def __init__(self, device):
        self.device = device
        self.step = 0
        self.adversarial = 0.0
        self.gan_start = 0
        self.disc: PatchDiscriminator | None = None
        self.disc_opt: torch.optim.Optimizer | None = None
        self.card_extra: dict = {}

    def init_from(self, name: str, saved, init_card: dict, model, ema) -> None:
        """Copy the encoder and quantiser of `saved` (and its decoder when the shapes agree)."""
        s_arch, s_cfg = nets.arch_of(saved)
        _, m_cfg = nets.arch_of(model)
        enc = [k for k in m_cfg if not k.startswith(("decoder_", "temporal_"))]  # what makes codes
        if s_arch != "tokenizer" or any(s_cfg.get(k) != m_cfg.get(k) for k in enc):
            raise ValueError(f"--init-from {name}: it is {s_arch} {s_cfg}; the encoder of this run "
                             f"({ {k: m_cfg[k] for k in enc} }) must be the same")
        state = {k: v.to(torch.float32) if v.is_floating_point() else v
                 for k, v in saved.state_dict().items()}
        same_decoder = decoder_shape(s_cfg) == decoder_shape(m_cfg)
        if not same_decoder:
            state = encoder_keys(state)
            self.gan_start = FRESH_DECODER_START
        with torch.no_grad():
            for net in (model, ema):
                missing, unexpected = net.load_state_dict(state, strict=False)
                fresh = [k for k in missing if not k.startswith("temporal.")]  # new blocks start at 0
                if unexpected or (same_decoder and fresh) or any(
                        not k.startswith("decoder.") for k in fresh):
                    raise ValueError(f"--init-from {name}: the weights do not fit "
                                     f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        sha = init_card.get("sha256", "")
        self.card_extra = {
            "same_codes_as": [s for s in [sha, *init_card.get("same_codes_as", [])] if s],
            "decoder": {"from": name, "decoder_copied": same_decoder,
                        "adversarial": self.adversarial, "ramp_steps": RAMP,
                        "gan_start_step": self.gan_start},
        }

    def setup(self, model) -> None:
        """Freeze what makes the codes (eval mode too: a VQ codebook must not move)."""
        net = getattr(model, "module", model)
        for part in (net.encoder, net.quantizer):
            part.requires_grad_(False).eval()
        if self.adversarial > 0:
            self.disc = PatchDiscriminator().to(self.device)
            self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=2e-4, betas=(0.5, 0.9))

    def state_dict(self) -> dict:
        """For resumable checkpoints: the step (the GAN ramp goes on where it was) and the
        discriminator (its optimiser restarts on resume)."""
        state = {"step": torch.tensor(self.step)}
        if self.disc is not None:
            state |= {f"disc.{k}": v for k, v in self.disc.state_dict().items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        if "step" in state:
            self.step = int(state["step"])
        if self.disc is not None and any(k.startswith("disc.") for k in state):
            self.disc.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("disc.")})

    def _weight(self) -> float:
        if self.disc is None or self.step <= self.gan_start:
            return 0.0
        return self.adversarial * min(1.0, (self.step - self.gan_start) / RAMP)

    def inputs(self, images, gen) -> torch.Tensor:
        """The batch's garments -> the images to reconstruct, (N, 1, H, W) in [-1, 1]."""
        if self.step % CANVAS_EVERY == 0:
            return place(images, CANVAS, gen)
        return place(images, 28 + 2 * SHIFT, gen, margin=SHIFT)

    def reconstruct(self, net, q: torch.Tensor) -> torch.Tensor:
        """Quantised values (N, d, h, w) -> reconstructions (N, 1, H, W)."""
        return net.decoder(q)

    def loss(self, model, images, labels, gen):
        self.step += 1
        net = getattr(model, "module", model)
        x = self.inputs(images, gen)
        with torch.no_grad():
            q, _, _ = net.quantize(net.encoder(x))
        recon = self.reconstruct(net, q).float()
        rec = F.mse_loss(recon, x) + L1_WEIGHT * F.l1_loss(recon, x)
        w = self._weight()
        if w == 0.0:
            return rec
        # the discriminator's own step, on a detached reconstruction
        d_loss = F.relu(1 - self.disc(x)).mean() + F.relu(1 + self.disc(recon.detach())).mean()
        self.disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.disc_opt.step()
        # the decoder's adversarial term; no gradient reaches the discriminator from it
        self.disc.requires_grad_(False)
        g_loss = -self.disc(recon).float().mean()
        self.disc.requires_grad_(True)
        return rec + w * adaptive_weight(rec, g_loss, net.decoder.net[-1].weight) * g_loss


class VideoDecoderRecipe(TokenizerDecoderRecipe):
    """`desktopgen train video-decoder`: the decoder of a tokenizer with space-time blocks
    (`temporal_blocks`), trained on moving-garment clips (data/moving.py, made on the device per
    batch: `--batch` counts clips of FRAMES frames) so that `decode_clips` draws each frame from
    its neighbours' codes too. The encoder and quantiser are copied and frozen as in
    `tokenizer-decoder`, so the codes, and every model trained on them (the video AR), stay
    valid. The decoder is copied when its shape is the same; new space-time blocks start as the
    identity, so training starts from the frame-by-frame decoder's quality:

        desktopgen train video-decoder --init-from fmnist-tokenizer --out models/NEW \\
            --arch '{"temporal_blocks": 4}' [--adversarial 0.1]
    """

    defaults = {"batch": 16, "lr": 2e-4, "ema": 0.999, "weight_decay": 0.0}

    def setup(self, model) -> None:
        net = getattr(model, "module", model)
        if net.temporal is None:
            raise ValueError("train video-decoder needs space-time blocks: --arch '{\"temporal_blocks\": 4}'")
        super().setup(model)

    def inputs(self, images, gen) -> torch.Tensor:
        clips = random_clips_torch(images, FRAMES, CANVAS, gen)  # (B, T, 48, 48) uint8
        self.clip_shape = clips.shape[:2]
        return clips.flatten(0, 1)[:, None].float() / 127.5 - 1

    def reconstruct(self, net, q: torch.Tensor) -> torch.Tensor:
        return net.decode_values(q.unflatten(0, tuple(self.clip_shape)))


def adaptive_weight(rec: torch.Tensor, gan: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """||d rec / d last|| / ||d gan / d last||, clamped, no gradient (VQGAN's lambda): the GAN
    term pulls the last layer as hard as the reconstruction does, whatever their scales."""
    g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0]
    g_gan = torch.autograd.grad(gan, last, retain_graph=True)[0]
    return (g_rec.norm() / (g_gan.norm() + 1e-4)).clamp(0, MAX_ADAPTIVE).detach()
