"""Retake resources/screenshot-video-midrun.png and resources/screenshot-video-looping.png: the
whole 1280x800 window in video mode while both sides make four 16-frame clips (AR a few frames
in, diffusion mid-way), then after both finished, with the players looping and the drift plot.

    xvfb-run -a -s "-screen 0 1280x800x24" \
        python resources/screenshot_video.py [--device D] [--steps N] [OUT_DIR]

(--steps: diffusion steps, 0 = the sampler's default; the shipped shots: --steps 8 on a busy CPU.)

Needs a real X server (Xvfb) so fonts and the screen size are those a user sees; the shots are
taken with ImageMagick's `import -window root` (Qt's grab if it is missing). Settings go to a
temporary file, never the user's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
W, H = 1280, 800
MIDRUN_AR_FRAME = 5  # the mid-run shot: when the AR side is making this frame (0-based)


def main(out_dir: Path, device: str = "cpu", steps: int = 0) -> int:
    os.environ["DESKTOPGEN_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "shot.ini")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer

    from desktopgen.gui.app import create_app, create_window

    app = create_app()
    win = create_window(device=device)
    win.move(0, 0)
    win.show()
    win.resize(W, H)
    shots = {"mid": False}

    def shoot(name: str) -> None:
        app.processEvents()
        path = out_dir / f"screenshot-video-{name}.png"
        if shutil.which("import") and os.environ.get("DISPLAY"):
            subprocess.run(["import", "-window", "root", str(path)], check=True)
        else:
            win.screen().grabWindow(0, 0, 0, W, H).save(str(path))
        print(f"wrote {path}")

    def start():
        win.mode_switch.set_mode("video")
        v = win.mode_switch.video
        v.seed_lock.setChecked(True)
        v.seed_spin.setValue(3)
        v.class_combo.setCurrentIndex(0)  # any: one garment of each class
        v.batch_spin.setValue(4)
        v.frames_spin.setValue(16)
        v.steps_spin.setValue(steps)  # 0: the sampler's default
        win.resize(W, H)
        v.finished.connect(lambda: QTimer.singleShot(2500, done))
        watch = QTimer(win, interval=50)

        def check():
            ev = v.runner.sides["ar"].latest
            if not shots["mid"] and ev is not None and (ev.position or 0) >= MIDRUN_AR_FRAME:
                shots["mid"] = True
                watch.stop()
                shoot("midrun")

        watch.timeout.connect(check)
        watch.start()
        QTimer.singleShot(500, v.generate)

    def done():
        shoot("looping")
        win.close()
        app.quit()

    win.firstPainted.connect(lambda: QTimer.singleShot(300, start))
    QTimer.singleShot(1_800_000, app.quit)  # never hang a script
    return app.exec()


if __name__ == "__main__":
    args = sys.argv[1:]
    opts = {"--device": "cpu", "--steps": "0"}
    for k in opts:
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i : i + 2]
    sys.exit(main(Path(args[0]) if args else ROOT / "resources", opts["--device"], int(opts["--steps"])))
