"""Recall: read the recipe an exported image carries back into SampleRequests, exactly.

Dropping an exported PNG on the app (or `read_recipe(path)`) restores its settings; generating
the returned request again on the same device reproduces the image. Every field comes back as it
was written (seed, first_index, inpainting source and mask included); what the file could not say
is listed in `Recipe.warnings`, one sentence each, for the GUI to show. Any hostile recipe (too
deep, too long, NaN, wrong types) gives a RecallError, never another exception."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from desktopgen import __version__
from desktopgen.core.requests import FAMILIES, MAX_BATCH, RequestError, SampleRequest, strict_json
from desktopgen.export.images import EXIF_DESCRIPTION, RECIPE_KEY

_FIELDS = tuple(f.name for f in fields(SampleRequest))


class RecallError(ValueError):
    """The file cannot be recalled: not an image, no recipe, or a broken one. For the user."""


@dataclass(frozen=True)
class Recipe:
    """What an exported image says about itself."""

    requests: dict[str, SampleRequest]  # family -> the request that makes that side's image again
    batch_index: int | None = None  # which sample of the original batch (None: the whole grid)
    app_version: str = ""
    meta: dict = field(default_factory=dict)  # the raw JSON (device, elapsed, ...)
    warnings: tuple[str, ...] = ()  # what could not be restored exactly, one sentence each
    n: int | None = None  # images in the grid when more than one request's batch holds

    @property
    def request(self) -> SampleRequest:
        """The request of a one-side export (the first side of a composite)."""
        return next(iter(self.requests.values()))


_PIL_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError,
               TypeError, KeyError, Image.DecompressionBombError)


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
    except IsADirectoryError:
        raise RecallError(f"{path.name} is a folder, not an image") from None
    except _PIL_ERRORS as e:  # Pillow raises SyntaxError on bad PNGs, ValueError on huge chunks
        raise RecallError(f"{path.name}: not a readable image ({str(e)[:120]})") from None
    if text is None:
        raise RecallError(f"{path.name} carries no DesktopGen recipe (was it exported by DesktopGen?)")
    return text


def _request(d, where: str, missing: set) -> SampleRequest:
    if not isinstance(d, dict):
        raise RecallError(f"broken recipe: {where} is not an object")
    missing.update(set(_FIELDS) - set(d) - {"family"})
    try:
        return SampleRequest.from_dict(d).validate()
    except (RequestError, TypeError, ValueError) as e:
        raise RecallError(f"broken recipe: {where}: {str(e)[:200]}") from None


def _index(meta: dict, key: str, lo: int, hi: int, name: str) -> int | None:
    v = meta.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise RecallError(f"broken recipe in {name}: {key} must be a whole number {lo}..{hi}")
    return v


def parse_recipe(text, name: str = "the image") -> Recipe:
    """A recipe from its JSON text (what an exported image carries); RecallError otherwise."""
    try:
        meta = strict_json(text)
    except RequestError as e:
        raise RecallError(f"broken recipe in {name}: {e}") from None
    if not isinstance(meta, dict):
        raise RecallError(f"broken recipe in {name}: expected a JSON object")
    missing: set[str] = set()
    if "request" in meta:
        req = _request(meta["request"], "request", missing)
        requests = {req.family: req}
    elif isinstance(meta.get("sides"), dict) and meta["sides"]:
        requests = {}
        for fam, side in meta["sides"].items():
            if fam not in FAMILIES:
                raise RecallError(f"broken recipe in {name}: unknown side {fam[:40]!r}")
            req = _request(side.get("request") if isinstance(side, dict) else None, f"side {fam!r}", missing)
            if req.family != fam:
                raise RecallError(f"broken recipe in {name}: side {fam!r} holds a {req.family} request")
            requests[fam] = req
    else:
        raise RecallError(f"broken recipe in {name}: it holds no request")
    index = _index(meta, "batch_index", 0, MAX_BATCH - 1, name)
    n = _index(meta, "n", 1, 10**7, name)
    version = meta.get("app_version", "")
    version = version[:40] if isinstance(version, str) else ""
    warnings = []
    if version and version != __version__:
        warnings.append(f"made by DesktopGen {version} (this is {__version__}): the same settings may "
                        "not give the same pixels")
    if missing:
        warnings.append("the recipe does not say " + ", ".join(sorted(missing))
                        + ": the defaults are used for those")
    if n is not None and n > req.batch:
        warnings.append(f"the grid holds {n} images; the recipe regenerates the first {req.batch} "
                        f"(a batch holds at most {MAX_BATCH})")
    inpaint = meta.get("inpaint")
    if isinstance(inpaint, dict) and not any(r.source for r in requests.values()):
        images = inpaint.get("images")
        src = f" ({images[:80]})" if isinstance(images, str) else ""
        warnings.append(f"the images it inpainted{src} are not stored in this file: only the settings "
                        "are restored, not the sources and mask")
    return Recipe(requests=requests, batch_index=index, app_version=version, meta=meta,
                  warnings=tuple(warnings), n=n)


def read_recipe(path) -> Recipe:
    """The recipe of an exported PNG (or WebP / JPEG); RecallError with a clear message otherwise."""
    path = Path(path)
    return parse_recipe(_recipe_text(path), path.name)


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
    """Whether a dropped file is a DesktopGen export (recall it, and say why if its recipe is
    broken) rather than a plain image (open it for inpainting)."""
    try:
        _recipe_text(Path(path))
    except RecallError:
        return False
    return True
