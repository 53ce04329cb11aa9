"""Replace some claims of a Showdown report by a later run's (same machine kind, e.g. after a
model was swapped), and write the merged HTML and JSON: figures re-rendered from the numbers,
each replaced claim's reason marked with the other run's start, the merge recorded in settings.

    PYTHONPATH=. python tools/showdown_merge.py BASE.json PART.json --out MERGED.html [--overwrite]

The verdicts are not recomputed here: each comes from its own run, as the runner wrote it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base")
    p.add_argument("part")
    p.add_argument("--out", required=True, help="the merged report, .html (the JSON goes beside it)")
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args(argv)
    from desktopgen import showdown
    from desktopgen.showdown import report
    from desktopgen.showdown.runner import ClaimResult, Report, render

    base = json.loads(Path(a.base).read_text())
    part = json.loads(Path(a.part).read_text())
    done = {c["id"]: c for c in part["claims"] if c["status"] == "done"}
    if not done:
        print(f"{a.part}: no finished claim to take", file=sys.stderr)
        return 2
    mods = {m.ID: m for m in showdown.CLAIMS}
    claims = []
    for c in base["claims"]:
        src = done.get(c["id"], c)
        r = ClaimResult(**{k: src[k] for k in ("id", "title", "claim", "measures", "rule", "needs",
                                               "status", "verdict", "reason", "numbers", "seconds")})
        if c["id"] in done:
            r.reason += f" [from the run of {part['started']}]"
        r.figure_png = render(mods[r.id], r.numbers) if r.status == "done" else None
        claims.append(r)
    settings = dict(base["settings"])
    settings["merged"] = (f"claims {', '.join(done)} from the run of {part['started']} "
                          f"({part['machine'].get('device', '?')}); the others from {base['started']}")
    rep = Report(settings=settings, machine=base["machine"], claims=claims, started=base["started"],
                 seconds=base["seconds"], complete=base["complete"])
    html_path, json_path = report.write(rep, a.out, overwrite=a.overwrite)
    print(f"wrote {html_path} and {json_path}: {', '.join(done)} replaced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
