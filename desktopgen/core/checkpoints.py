"""Load and save models/<name>/: weights.safetensors + config.json + card.json, hash-checked.

Safetensors only: a model file must not be able to run code (no pickle anywhere). A model folder
may come from anyone, so every file is checked before a network is built: sizes, JSON objects,
the config's keys and bounds (nets/schema.py), both files' sha256 against the card, and the
weights' tensor names and shapes (read from the safetensors header) against the config.
torch is imported only by the functions that need it, so `models_dir` and `read_card` stay light.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from desktopgen.core import atomic

WEIGHTS, CONFIG, CARD = "weights.safetensors", "config.json", "card.json"
DEFAULT_MODELS = {"diffusion": "fmnist-diffusion", "ar": "fmnist-pixel-ar", "classifier": "fmnist-classifier"}
ARCH_FAMILY = {"unet": "diffusion", "pixel_ar": "ar", "classifier": "classifier",
               "shortcut_unet": "diffusion", "inpaint_unet": "diffusion", "tokenizer": "tokenizer",
               "token_ar": "ar"}
ARCH_FAMILY["maskgit"] = "ar"
ARCH_FAMILY["video_ar"] = "video-ar"  # not an image family: the image sides skip it
ARCH_FAMILY["video_unet"] = "video-diffusion"  # not an image family: the image sides skip it
# The model kind of each architecture (the sampler table's `model_kind`), torch-free for the GUI;
# the same as nets.KINDS (tests/test_gui_sampler_models.py checks).
ARCH_KIND = {"unet": "diffusion-unet", "pixel_ar": "pixel-ar", "classifier": "classifier",
             "shortcut_unet": "flow", "inpaint_unet": "diffusion-inpaint", "tokenizer": "tokenizer",
             "token_ar": "token-ar", "maskgit": "maskgit", "video_ar": "video-ar",
             "video_unet": "video-diffusion"}
MAX_BYTES = {CARD: 1 << 20, CONFIG: 64 << 10, WEIGHTS: 4 * 50_000_000 + (1 << 20)}  # 50M fp32 params
FLOAT_DTYPES = ("F16", "BF16", "F32")


class CheckpointError(RuntimeError):
    """A model folder that is missing, incomplete, corrupt or tampered with. `reason` is the
    message without the model's name."""

    def __init__(self, name: str, reason: str | None = None):
        if reason is None:  # CheckpointError("whole message")
            name, reason = "", name
        super().__init__(f"model {name!r}: {reason}" if name else reason)
        self.reason = reason


class ModelNotFoundError(CheckpointError):
    """No model folder of that name: usually a mistyped --model."""


def model_roots() -> list[Path]:
    """Where models are looked for, in order:
    1. `$DESKTOPGEN_MODELS`, when set (and then only there);
    2. the source checkout's models/ folder, next to the desktopgen package (editable installs
       and running from the repository);
    3. `<prefix>/share/desktopgen/models` of the Python environment (a wheel installs the shipped
       models there as data files), then the same under the user scheme (`pip install --user`).
    """
    env = os.environ.get("DESKTOPGEN_MODELS")
    if env:
        return [Path(env)]
    roots = [Path(__file__).resolve().parents[2] / "models"]
    for prefix in (sys.prefix, sysconfig.get_config_var("userbase") or ""):
        if prefix:
            roots.append(Path(prefix) / "share" / "desktopgen" / "models")
    return roots


def models_dir() -> Path:
    """The first of `model_roots()` that exists (the first one if none does)."""
    roots = model_roots()
    return next((r for r in roots if r.is_dir()), roots[0])


def resolve(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.exists() or os.sep in name_or_path or name_or_path.startswith("."):
        return p
    return models_dir() / name_or_path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` atomically (model folders are rewritten in place by training)."""
    atomic.write_text(path, text, overwrite=True)


def save_model(model, folder: Path, card: dict, dtype=None) -> str:
    """Write the three files (weights stored in `dtype`, default float16, to keep the repository
    light). The card records the sha256 of the weights (`sha256`) and of the config
    (`config_sha256`); returns the weights' sha256."""
    import torch
    from safetensors.torch import save_file

    from desktopgen import nets

    dtype = dtype or torch.float16
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arch, config = nets.arch_of(model)
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
    atomic.atomic_write(folder / WEIGHTS, lambda tmp: save_file(state, str(tmp), metadata={"arch": arch}),
                        overwrite=True)
    digest = sha256_file(folder / WEIGHTS)
    atomic_write_text(folder / CONFIG, json.dumps({"arch": arch, "config": config}, indent=2) + "\n")
    card = {**card, "sha256": digest, "config_sha256": sha256_file(folder / CONFIG),
            "weights_bytes": (folder / WEIGHTS).stat().st_size,
            "parameters": sum(p.numel() for p in model.parameters())}
    atomic_write_text(folder / CARD, json.dumps(card, indent=2) + "\n")
    return digest


def _check_size(name: str, path: Path) -> None:
    size, limit = path.stat().st_size, MAX_BYTES[path.name]
    if size > limit:
        raise CheckpointError(name, f"{path.name} is {size:,} bytes, over the {limit:,}-byte limit")


def _read_json_object(name: str, path: Path) -> dict:
    _check_size(name, path)
    try:
        value = json.loads(path.read_bytes())
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise CheckpointError(name, f"{path.name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise CheckpointError(name, f"{path.name} is not a JSON object")
    return value


def read_card(name_or_path: str) -> dict:
    folder = resolve(name_or_path)
    if not (folder / CARD).is_file():
        raise CheckpointError(name_or_path, f"{folder / CARD} is missing")
    return _read_json_object(name_or_path, folder / CARD)


@dataclass(frozen=True)
class CheckedFolder:
    """A model folder whose files all passed `check_folder`; build the network from it."""

    folder: Path
    card: dict
    arch: str
    config: dict  # checked, defaults filled in


def check_folder(name_or_path: str, verify: bool = True) -> CheckedFolder:
    """Every check short of building the network; CheckpointError (one sentence) on the first
    problem. `verify=False` skips the two sha256 comparisons only."""
    from desktopgen import nets

    name = name_or_path
    folder = resolve(name_or_path)
    if folder.is_file():
        raise ModelNotFoundError(name, f"{folder} is a file, not a model folder")
    if not folder.is_dir():
        known = sorted(p.parent.name for p in models_dir().glob(f"*/{CONFIG}"))
        listed = ", ".join(known[:5]) + (", …" if len(known) > 5 else "")
        raise ModelNotFoundError(name, f"not found at {folder} (known: {listed or 'none'})")
    for f in (WEIGHTS, CONFIG, CARD):
        if not (folder / f).is_file():
            raise CheckpointError(name, f"the folder is incomplete: {folder / f} is missing")
        _check_size(name, folder / f)
    card = _read_json_object(name, folder / CARD)
    cfg = _read_json_object(name, folder / CONFIG)
    if set(cfg) != {"arch", "config"}:
        raise CheckpointError(name, f"{CONFIG} must hold exactly the keys arch and config")
    try:
        config = nets.check_config(cfg["arch"], cfg["config"])
    except nets.ConfigError as e:
        raise CheckpointError(name, f"{CONFIG}: {e}") from None
    if verify:
        for f, key in ((CONFIG, "config_sha256"), (WEIGHTS, "sha256")):
            digest, want = sha256_file(folder / f), card.get(key)
            if not isinstance(want, str):
                raise CheckpointError(name, f"{CARD} records no {key} for {f}, so it cannot be checked")
            if digest != want:
                raise CheckpointError(name, f"{f} does not match its card (sha256 {digest[:12]}… != "
                                            f"{want[:12]}…): the file is truncated, corrupt or was replaced")
    _check_tensors(name, folder / WEIGHTS, cfg["arch"], config)
    return CheckedFolder(folder, card, cfg["arch"], config)


def _check_tensors(name: str, path: Path, arch: str, config: dict) -> None:
    """The safetensors header's names, dtypes and shapes against the network the config makes.
    Built on the CPU (tens of ms), not on the meta device: the first meta build in a process
    imports and registers torch's Python decompositions, and doing that in a GUI worker while the
    other side's worker runs ops hung the test suite once (all threads asleep, one inside
    torch._prims, one inside F.linear)."""
    import torch
    from safetensors import SafetensorError, safe_open

    from desktopgen import nets

    with torch.no_grad():
        state = nets.build(arch, config).state_dict()
    want = {k: (tuple(v.shape), v.is_floating_point()) for k, v in state.items()}
    try:
        with safe_open(str(path), "pt") as f:
            have = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(name, f"cannot read {WEIGHTS} ({str(e)[:80]})") from None
    missing, unexpected = set(want) - set(have), set(have) - set(want)
    if missing or unexpected:
        what = (f"lacks {_few(missing)}" if missing else "") + (" and " if missing and unexpected else "") + (
            f"has unknown tensors {_few(unexpected)}" if unexpected else "")
        raise CheckpointError(name, f"{WEIGHTS} does not fit {CONFIG}: it {what}")
    for k, (shape, is_float) in want.items():
        if have[k][0] != shape:
            raise CheckpointError(name, f"{WEIGHTS} does not fit {CONFIG}: {k} is {list(have[k][0])} "
                                        f"in the file, {list(shape)} in the config")
        if (have[k][1] in FLOAT_DTYPES) != is_float:
            raise CheckpointError(name, f"{WEIGHTS}: {k} has the wrong dtype ({have[k][1]})")


def _few(keys, most: int = 3) -> str:
    keys = sorted(k[:60] for k in keys)
    return ", ".join(keys[:most]) + (f" (and {len(keys) - most} more)" if len(keys) > most else "")


def load_model(name_or_path: str, device="cpu", verify: bool = True):
    """Check every file (see `check_folder`), then build the module from config.json, load the
    weights strictly, and return (model in eval mode, card)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from desktopgen import nets

    checked = check_folder(name_or_path, verify)
    model = nets.build(checked.arch, checked.config)
    try:
        state = load_file(str(checked.folder / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(name_or_path, f"cannot read {WEIGHTS} ({str(e)[:80]})") from None
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                              strict=True)
    except RuntimeError as e:  # the header check makes this unlikely: keep it one line anyway
        raise CheckpointError(name_or_path, f"weights do not fit the config ({str(e)[:80]})") from None
    model.eval().requires_grad_(False)
    card = {**checked.card, "name": checked.folder.name}
    return model.to(device), card


@dataclass(frozen=True)
class ModelInfo:
    """One folder of the models directory, as the GUI lists it. `ok` False: `problem` says why
    in one sentence and the model cannot be used."""

    name: str
    kind: str  # architecture: unet, pixel_ar, classifier ("" if unreadable)
    family: str  # diffusion, ar, classifier ("" if unreadable)
    ok: bool
    problem: str = ""
    path: str = ""


def _peek_arch(folder: Path) -> str:
    """The architecture config.json names, if it is a known one; "" otherwise."""
    try:
        if (folder / CONFIG).stat().st_size > MAX_BYTES[CONFIG]:
            return ""
        cfg = json.loads((folder / CONFIG).read_bytes())
    except (OSError, ValueError, RecursionError):
        return ""
    arch = cfg.get("arch") if isinstance(cfg, dict) else None
    return arch if isinstance(arch, str) and arch in ARCH_FAMILY else ""


def sequence_length(name_or_path: str) -> int:
    """The sequence length config.json gives a raster AR model (pixels or tokens: the steps its
    sampler runs), read without torch; 0 for other models and unreadable folders."""
    folder = resolve(name_or_path)
    if _peek_arch(folder) not in ("pixel_ar", "token_ar"):
        return 0
    try:
        n = json.loads((folder / CONFIG).read_bytes())["config"]["seq_len"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return 0
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0


def model_kind(name_or_path: str) -> str:
    """The kind of model a folder holds (ARCH_KIND), from its config.json without torch; "" if
    the folder or its architecture is unknown."""
    return ARCH_KIND.get(_peek_arch(resolve(name_or_path)), "")


def scan_models(root: Path | str | None = None) -> list[ModelInfo]:
    """Every sub-folder of `root` (default: `models_dir()`), fully checked (`check_folder`), sorted
    by name; hidden folders and plain files are skipped. Never raises for a bad folder."""
    root = Path(root) if root is not None else models_dir()
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    infos = []
    for p in folders:
        kind = _peek_arch(p)
        try:
            check_folder(str(p))
            infos.append(ModelInfo(p.name, kind, ARCH_FAMILY.get(kind, ""), True, "", str(p)))
        except Exception as e:  # noqa: BLE001 - a bad folder is listed, never fatal
            reason = getattr(e, "reason", None) or f"cannot be checked ({type(e).__name__}: {str(e)[:80]})"
            infos.append(ModelInfo(p.name, kind, ARCH_FAMILY.get(kind, ""), False, reason, str(p)))
    return infos
