"""The model folders the controls offer, read without importing torch (the window appears
before torch loads): usable ones, and broken ones with the reason. Samplers, their defaults and
ranges come from the one table, desktopgen.core.samplers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from desktopgen import CLASS_NAMES
from desktopgen.core.checkpoints import ARCH_FAMILY, models_dir  # torch-free: the engine's rules
from desktopgen.core.requests import FAMILIES
from desktopgen.core.samplers import default_sampler

DEFAULT_MODELS = {f: default_sampler(f).default_model for f in FAMILIES}  # the table says
CLASSES = ("any",) + CLASS_NAMES
OTHER = "other"  # a model for neither side (the metrics classifier)


@dataclass(frozen=True)
class ModelEntry:
    """A folder under models/ as the model lists show it: usable, or greyed with the reason."""

    name: str
    family: str  # "diffusion" | "ar" | OTHER; "" when the folder is too broken to tell
    reason: str = ""  # why it cannot be used; "" = usable
    summary: str = ""  # what it is, from its config and card (the model list's tooltip)

    @property
    def usable(self) -> bool:
        return not self.reason


def _read_object(path: Path) -> dict:
    """A JSON object from `path`; ValueError with a short reason otherwise."""
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"{path.name} cannot be read ({e.strerror or e})") from None
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8, absurd nesting
        raise ValueError(f"{path.name} is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _count(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def describe(cfg: dict, card: dict) -> str:
    """One line on what a model is: its architecture, blocks x width when its config has them,
    parameters, and how long it trained (what the card says; missing or odd fields are left out),
    e.g. "token_ar, 6 blocks x 256, 5.3 M parameters, trained 23,969 steps (7.3 min)"."""
    parts = [str(cfg.get("arch"))]
    c = cfg.get("config") if isinstance(cfg.get("config"), dict) else {}
    if _count(c.get("n_layer")) and _count(c.get("n_embd")):
        parts.append(f"{c['n_layer']} blocks x {c['n_embd']}")
    if _count(card.get("parameters")):
        parts.append(f"{card['parameters'] / 1e6:.1f} M parameters")
    steps, wall, runs = _training(card)
    if steps:
        trained = f"trained {steps:,} steps"
        if wall:
            trained += f" ({wall / 60:.1f} min{f' in {runs} runs' if runs > 1 else ''})"
        parts.append(trained)
    return ", ".join(parts)


def _training(card: dict) -> tuple[int, float, int]:
    """(steps, seconds, runs) of all the model's training. A card's own `steps` and
    `wall_time_s` are its last run's when it was fine-tuned (`--init-from` counts from 0), so a
    `history` (one entry per run: resumes and fine-tunes) is summed when every entry is sound."""
    history = card.get("history")
    if isinstance(history, list) and history and all(
            isinstance(e, dict) and _count(e.get("steps")) and _count(e.get("wall_time_s")) for e in history):
        return (sum(int(e["steps"]) for e in history), sum(e["wall_time_s"] for e in history), len(history))
    steps = int(card["steps"]) if _count(card.get("steps")) else 0
    return steps, card["wall_time_s"] if _count(card.get("wall_time_s")) else 0.0, 1


def read_model_folder(folder: Path) -> ModelEntry:
    """What one model folder is, without importing torch. Never raises: a broken folder comes back
    with the reason, so one bad card.json cannot stop the app."""
    try:
        cfg = _read_object(folder / "config.json")
        arch = cfg.get("arch")
        if not isinstance(arch, str) or not arch:
            return ModelEntry(folder.name, "", "config.json names no architecture")
        family = ARCH_FAMILY.get(arch.lower(), OTHER)
        if family not in FAMILIES:  # a classifier, say: not for either side
            family = OTHER
        card = _read_object(folder / "card.json") if (folder / "card.json").exists() else {}
        if not (folder / "weights.safetensors").is_file():
            return ModelEntry(folder.name, family, "weights.safetensors is missing")
        return ModelEntry(folder.name, family, summary=describe(cfg, card))
    except ValueError as e:
        return ModelEntry(folder.name, "", str(e))
    except Exception as e:  # noqa: BLE001 - whatever a hostile folder does, the app still starts
        return ModelEntry(folder.name, "", f"unreadable ({type(e).__name__}: {str(e)[:80]})")


def scan_models(family: str) -> list[ModelEntry]:
    """Model folders for `family`, the default first; folders too broken to have a family are
    listed under both, so the user sees why they are not offered."""
    entries = []
    root = models_dir()
    try:
        folders = sorted(p for p in root.iterdir() if (p / "config.json").exists()) \
            if root.is_dir() else []
    except OSError:
        folders = []
    for folder in folders:
        e = read_model_folder(folder)
        if e.family in (family, ""):
            entries.append(e)
    default = DEFAULT_MODELS[family]
    first = [e for e in entries if e.name == default] or [ModelEntry(default, family)]
    return first + [e for e in entries if e.name != default]


def list_models(family: str) -> list[str]:
    """Names of the usable model folders of `family`; the default first."""
    return [e.name for e in scan_models(family) if e.usable]
