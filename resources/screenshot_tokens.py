"""Take the token samplers' screenshots: the whole 1280x800 window mid-run (CPU, batch 4, any
class, seed 3), both sides generating, the AR side on a token sampler.

    xvfb-run -a -s "-screen 0 1280x800x24" python resources/screenshot_tokens.py tokens
    xvfb-run -a -s "-screen 0 1280x800x24" python resources/screenshot_tokens.py maskgit
    xvfb-run -a -s "-screen 0 1280x800x24" python resources/screenshot_tokens.py token-grid

tokens: raster token AR at step STEP["tokens"] of 49 (resources/screenshot-tokens.png);
maskgit: MaskGIT at step STEP["maskgit"] of 10 with its confidence overlay (screenshot-maskgit.png);
token-grid: raster token AR at step 38 of 49 with "Show token grid" (Ctrl+T) on: the codes as
colours beside the images (screenshot-token-grid.png). The window is drawn at exactly that step
(the AR side's event handler draws and grabs it). Needs a real X server (Xvfb) so fonts and the
screen size are those a user sees; settings go to a temporary file, never the user's. An optional
second argument is the output path.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
W, H = 1280, 800
STEP = {"tokens": 27, "maskgit": 4, "token-grid": 38}
OUT = {"tokens": "screenshot-tokens.png", "maskgit": "screenshot-maskgit.png",
       "token-grid": "screenshot-token-grid.png"}


def main(kind: str, out: Path) -> int:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["DESKTOPGEN_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "shot.ini")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QObject, QTimer, Slot

    from desktopgen.gui.app import create_app, create_window

    app = create_app()
    win = create_window(device="cpu")
    c = win.controls
    c.seed_lock.setChecked(True)
    c.seed_spin.setValue(3)
    c.batch_spin.setValue(4)
    c.sampler_combo["ar"].setCurrentIndex(c.sampler_combo["ar"].findData(
        "maskgit" if kind == "maskgit" else "tokens"))
    win.menus.token_grid_action.setChecked(kind == "token-grid")
    win.move(0, 0)
    win.show()
    win.resize(W, H)

    class Shooter(QObject):
        done = False

        @Slot(object)
        def on_step(self, ev):
            if ev.family != "ar" or self.done or ev.step < STEP[kind] or ev.preview is None:
                return
            self.done = True
            win._redraw()  # draw this very step, then grab the window as it now looks
            win.grab().save(str(out))
            print(f"wrote {out}: AR step {ev.step}/{ev.total}, window {win.width()}x{win.height()}")
            QTimer.singleShot(0, finish)

    def finish():
        win.cancel()
        QTimer.singleShot(500, lambda: (win.close(), app.quit()))

    shooter = Shooter()
    win.runner.stepped.connect(shooter.on_step)
    win.workersLoaded.connect(lambda: QTimer.singleShot(500, win.generate))
    QTimer.singleShot(600_000, app.quit)  # never hang a script
    return app.exec()


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "tokens"
    if kind not in OUT:
        print(f"usage: screenshot_tokens.py {{{'|'.join(OUT)}}} [OUT.png]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(kind, Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "resources" / OUT[kind]))
