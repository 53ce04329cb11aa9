"""Re-render the docs' Showdown figures and a screenshot of the Showdown window from a report's
JSON (no measuring): one PNG per claim with a figure, and view.png, into --out.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python tools/showdown_docs.py REPORT.json --out docs/showdown
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    from desktopgen import showdown
    from desktopgen.showdown.runner import render

    rep = json.loads(Path(a.report).read_text())
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    mods = {m.ID: m for m in showdown.CLAIMS}
    results = []
    for c in rep["claims"]:
        png = render(mods[c["id"]], c["numbers"]) if c["status"] == "done" else None
        if png:
            (out / f"{c['id']}.png").write_bytes(png)
            print(f"wrote {out / (c['id'] + '.png')}")
        results.append(types.SimpleNamespace(status=c["status"], verdict=c["verdict"],
                                             reason=c["reason"], figure_png=png))

    from PySide6.QtWidgets import QApplication

    from desktopgen.gui.app import create_app
    from desktopgen.gui.showdown_view import ShowdownWindow

    app = create_app([])
    w = ShowdownWindow(run=lambda *args, **kw: None, claims=list(showdown.CLAIMS))
    w.resize(1100, 900)
    for row, res in zip(w.rows, results):
        row.set_result(res)
    w.status.setText(f"Showdown done in {rep['seconds']:.0f} s (re-rendered from {Path(a.report).name}).")
    w.show()
    for _ in range(10):
        QApplication.processEvents()
    w.grab().save(str(out / "view.png"))
    print(f"wrote {out / 'view.png'}")
    w.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
