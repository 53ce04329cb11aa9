"""Recall: read the recipe an exported image carries back into SampleRequests.

Dropping an exported PNG on the app (or `read_recipe(path)`) restores its settings; generating
the returned request again on the same device reproduces the image."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.export.images import EXIF_DESCRIPTION, RECIPE_KEY


class RecallError(ValueError):
    """The file cannot be recalled: not an image, no recipe, or a broken one. For the user."""


@dataclass(frozen=True)
class Recipe:
    """What an exported image says about itself."""

    requests: dict[str, SampleRequest]  # family -> the request that makes that side's image again
    batch_index: int | None = None  # which sample of the original batch (None: the whole grid)
    app_version: str = ""
    meta: dict = field(default_factory=dict)  # the raw JSON (device, elapsed, ...)

    @property
    def request(self) -> SampleRequest:
        """The request of a one-side export (the first side of a composite)."""
        return next(iter(self.requests.values()))


def _recipe_text(path: Path) -> str:
    try:
        with Image.open(path) as img:
            img.load()
            text = getattr(img, "text", {}).get(RECIPE_KEY)
            if text is None:
                desc = img.getexif().get(EXIF_DESCRIPTION)
                if isinstance(desc, bytes):
                    desc = desc.decode("utf-8", "replace")
                if isinstance(desc, str) and desc.startswith(RECIPE_KEY + ":"):
                    text = desc[len(RECIPE_KEY) + 1 :]
    except FileNotFoundError:
        raise RecallError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:  # Pillow raises SyntaxError on bad PNGs
        raise RecallError(f"{path.name}: not a readable image ({e})") from None
    if text is None:
        raise RecallError(f"{path.name} carries no DesktopGen recipe (was it exported by DesktopGen?)")
    return text


def _request(d, where: str) -> SampleRequest:
    if not isinstance(d, dict):
        raise RecallError(f"broken recipe: {where} is not an object")
    try:
        return SampleRequest.from_dict(d).validate()
    except (RequestError, TypeError, ValueError) as e:
        raise RecallError(f"broken recipe: {where}: {e}") from None


def read_recipe(path) -> Recipe:
    """The recipe of an exported PNG (or WebP / JPEG); RecallError with a clear message otherwise."""
    path = Path(path)
    text = _recipe_text(path)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecallError(f"broken recipe in {path.name}: not JSON ({e})") from None
    if not isinstance(meta, dict):
        raise RecallError(f"broken recipe in {path.name}: expected a JSON object")
    if "request" in meta:
        req = _request(meta["request"], "request")
        requests = {req.family: req}
    elif isinstance(meta.get("sides"), dict) and meta["sides"]:
        requests = {fam: _request((side or {}).get("request") if isinstance(side, dict) else None,
                                  f"side {fam!r}")
                    for fam, side in meta["sides"].items()}
    else:
        raise RecallError(f"broken recipe in {path.name}: it holds no request")
    index = meta.get("batch_index")
    if index is not None and not isinstance(index, int):
        raise RecallError(f"broken recipe in {path.name}: batch_index is not a number")
    return Recipe(requests=requests, batch_index=index, app_version=str(meta.get("app_version", "")),
                  meta=meta)


def recall_request(path, family: str | None = None) -> SampleRequest:
    """The request stored for `family` (or the only / first one)."""
    recipe = read_recipe(path)
    if family is None:
        return recipe.request
    if family not in recipe.requests:
        raise RecallError(f"{Path(path).name} holds no {family} request "
                          f"(it has {', '.join(recipe.requests)})")
    return recipe.requests[family]


def has_recipe(path) -> bool:
    """Whether a dropped file is a DesktopGen export (recall it) rather than a plain image
    (open it for inpainting)."""
    try:
        read_recipe(path)
    except RecallError:
        return False
    return True
