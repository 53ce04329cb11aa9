"""Retake resources/screenshot-inpaint.png: the whole 1280x800 window with the inpainting dock open,
after both sides filled the centre square of an example (CPU, batch 1, seed 3); with --ar-context,
resources/screenshot-inpaint-ar-context.png: the editor showing what raster AR sees at pixel 300.

    xvfb-run -a -s "-screen 0 1280x800x24" python resources/screenshot_inpaint.py [OUT.png]
    xvfb-run -a -s "-screen 0 1280x800x24" python resources/screenshot_inpaint.py --ar-context [OUT.png]

Needs a real X server (Xvfb) so fonts and the screen size are those a user sees; settings go to a
temporary file, never the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
W, H = 1280, 800


def main(out: Path) -> int:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["DESKTOPGEN_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "shot.ini")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer

    from desktopgen.gui.app import create_app, create_window

    app = create_app()
    win = create_window(device="cpu")
    win.controls.seed_lock.setChecked(True)
    win.controls.seed_spin.setValue(3)
    win.controls.batch_spin.setValue(1)
    win.move(0, 0)
    win.show()
    win.resize(W, H)

    def inpaint():
        editor = win.mask_editor()
        editor.open_file(str(ROOT / "resources" / "examples" / "ankle-boot-test0.png"))
        editor.apply_preset("center-square")
        win.resize(W, H)
        win.allIdle.connect(lambda: QTimer.singleShot(1500, shoot))
        QTimer.singleShot(3000, editor.request_inpaint)  # let the workers load first

    def shoot():
        app.processEvents()
        win.screen().grabWindow(0, 0, 0, W, H).save(str(out))
        print(f"wrote {out}: window {win.width()}x{win.height()}")
        win.close()
        app.quit()

    win.firstPainted.connect(lambda: QTimer.singleShot(300, inpaint))
    QTimer.singleShot(600_000, app.quit)  # never hang a script
    return app.exec()


def ar_context(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from desktopgen.gui.app import create_app
    from desktopgen.gui.mask_editor import MaskEditor

    app = create_app()
    editor = MaskEditor()
    editor.open_file(str(ROOT / "resources" / "examples" / "ankle-boot-test0.png"))
    editor.apply_preset("center-square")
    editor.set_ar_position(300)
    editor.resize(editor.sizeHint())
    editor.show()
    app.processEvents()
    editor.grab().save(str(out))
    print(f"wrote {out}: editor {editor.width()}x{editor.height()}")
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--ar-context"]
    if "--ar-context" in sys.argv:
        default = ROOT / "resources" / "screenshot-inpaint-ar-context.png"
        sys.exit(ar_context(Path(args[0] if args else default)))
    sys.exit(main(Path(args[0] if args else ROOT / "resources" / "screenshot-inpaint.png")))
