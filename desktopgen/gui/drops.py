"""What a file dropped on the window is: an export whose recipe to restore, a plain image to
inpaint, or a broken recipe, with the one sentence that says why. No widgets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Drop:
    recipe: object = None  # desktopgen.export.recall.Recipe, when the file carries a usable one
    error: str = ""  # the file carries a recipe that cannot be restored: why, for the status bar

    @property
    def plain_image(self) -> bool:
        """No recipe at all: open the file for inpainting instead."""
        return self.recipe is None and not self.error


def read_drop(path) -> Drop:
    """Classify a dropped file. Never raises: whatever the file holds (a recipe nested 100,000
    deep, say), the outcome is a Drop."""
    from desktopgen.export.recall import RecallError, read_recipe

    name = Path(path).name
    why = f"Cannot restore the settings of {name}: "
    try:
        return Drop(recipe=read_recipe(path))
    except RecallError as e:
        if "no DesktopGen recipe" in str(e) or "not a readable image" in str(e):
            return Drop()
        return Drop(error=why + str(e))
    except RecursionError:
        return Drop(error=why + "its recipe is nested too deeply to be a DesktopGen recipe.")
    except Exception as e:  # noqa: BLE001 - a hostile file must not crash the app
        return Drop(error=why + f"its recipe is unreadable ({type(e).__name__}: {str(e)[:120]}).")
