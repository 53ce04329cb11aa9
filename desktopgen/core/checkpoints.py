"""Load and save models/<name>/: weights.safetensors + config.json + card.json, hash-checked.

Safetensors only: a model file must not be able to run code (no pickle anywhere).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from desktopgen import nets

WEIGHTS, CONFIG, CARD = "weights.safetensors", "config.json", "card.json"
DEFAULT_MODELS = {"diffusion": "fmnist-diffusion", "ar": "fmnist-pixel-ar", "classifier": "fmnist-classifier"}


class CheckpointError(RuntimeError):
    """A model folder that is missing, incomplete, corrupt or tampered with."""


class ModelNotFoundError(CheckpointError):
    """No model folder of that name: usually a mistyped --model."""


def models_dir() -> Path:
    """`$DESKTOPGEN_MODELS`, else the repository's models/ folder."""
    env = os.environ.get("DESKTOPGEN_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def resolve(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.is_dir() or os.sep in name_or_path or name_or_path.startswith("."):
        return p
    return models_dir() / name_or_path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: nn.Module, folder: Path, card: dict, dtype: torch.dtype = torch.float16) -> str:
    """Write the three files (weights stored in `dtype` to keep the repository light).
    Returns the weights' sha256, which is also written into the card."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arch, config = nets.arch_of(model)
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".weights.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"arch": arch})
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / WEIGHTS)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    digest = sha256_file(folder / WEIGHTS)
    atomic_write_text(folder / CONFIG, json.dumps({"arch": arch, "config": config}, indent=2) + "\n")
    card = {**card, "sha256": digest, "weights_bytes": (folder / WEIGHTS).stat().st_size,
            "parameters": sum(p.numel() for p in model.parameters())}
    atomic_write_text(folder / CARD, json.dumps(card, indent=2) + "\n")
    return digest


def read_card(name_or_path: str) -> dict:
    folder = resolve(name_or_path)
    try:
        return json.loads((folder / CARD).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"model {name_or_path!r}: {folder / CARD} is missing") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"model {name_or_path!r}: {CARD} is not valid JSON ({e})") from None


def load_model(name_or_path: str, device: torch.device | str = "cpu", verify: bool = True):
    """Rebuild the module from config.json, check the weights' sha256 against card.json, load
    them strictly, and return (model in eval mode, card)."""
    folder = resolve(name_or_path)
    if not folder.is_dir():
        known = ", ".join(sorted(p.name for p in models_dir().glob("*/") if (p / CONFIG).exists()))
        raise ModelNotFoundError(f"model {name_or_path!r} not found at {folder} (known: {known or 'none'})")
    for f in (WEIGHTS, CONFIG, CARD):
        if not (folder / f).is_file():
            raise CheckpointError(f"model {name_or_path!r} is incomplete: {folder / f} is missing")
    card = read_card(str(folder))
    try:
        cfg = json.loads((folder / CONFIG).read_text())
        model = nets.build(cfg["arch"], cfg["config"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"model {name_or_path!r}: {CONFIG} does not describe a network ({e})") from None
    if verify:
        digest = sha256_file(folder / WEIGHTS)
        if digest != card.get("sha256"):
            raise CheckpointError(
                f"model {name_or_path!r}: {WEIGHTS} does not match its card (sha256 {digest[:12]}… "
                f"!= {str(card.get('sha256'))[:12]}…): the file is truncated, corrupt or was replaced"
            )
    try:
        state = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"model {name_or_path!r}: cannot read {WEIGHTS} ({e})") from None
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                              strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"model {name_or_path!r}: weights do not fit the config ({e})") from None
    model.eval().requires_grad_(False)
    card = {**card, "name": folder.name}
    return model.to(device), card
