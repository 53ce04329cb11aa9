"""The Showdown report: one self-contained HTML file (inline style, figures as base64 PNG, no
external src or href) and the raw numbers as JSON beside it; both written atomically."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from desktopgen.core.jsonable import jsonable
from desktopgen.showdown import base

COLORS = {base.HOLDS: "#2e7d32", base.NOT_HOLD: "#c62828", base.MIXED: "#ef6c00",
          base.NOT_MEASURED: "#757575"}
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ddd;
padding:.2em .5em;text-align:left} .claim{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1.5em 0}
.verdict{display:inline-block;color:#fff;border-radius:4px;padding:.15em .6em;font-weight:bold}
.muted{color:#666;font-size:.9em} img{max-width:100%} pre{background:#f6f6f6;padding:.5em;
overflow:auto;font-size:.8em;max-height:30em} .partial{background:#fff3e0;padding:.5em;border-radius:4px}"""


def to_json(report) -> dict:
    return jsonable({
        "complete": report.complete, "started": report.started, "seconds": report.seconds,
        "settings": report.settings, "machine": report.machine,
        "claims": [{"id": c.id, "title": c.title, "claim": c.claim, "measures": c.measures,
                    "rule": c.rule, "needs": c.needs, "status": c.status, "verdict": c.verdict,
                    "reason": c.reason, "seconds": c.seconds, "numbers": c.numbers}
                   for c in report.claims]})


def _table(d: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in d.items())
    return f"<table>{rows}</table>"


def claim_html(c) -> str:
    e = html.escape
    fig = ""
    if c.figure_png:
        fig = (f'<img alt="{e(c.title)}" src="data:image/png;base64,'
               f'{base64.b64encode(c.figure_png).decode("ascii")}">')
    numbers = e(json.dumps(jsonable(c.numbers), indent=1)[:20000])
    return (f'<div class="claim" id="{e(c.id)}"><h2>{e(c.title)}</h2>'
            f'<p><i>{e(c.claim)}</i></p>'
            f'<p><span class="verdict" style="background:{COLORS.get(c.verdict, "#757575")}">'
            f'{e(c.verdict)}</span> {e(c.reason)}</p>{fig}'
            f'<p class="muted"><b>Measures:</b> {e(c.measures)}<br><b>Verdict rule (written before '
            f'running):</b> {e(c.rule)}<br><b>Needs:</b> {e(c.needs)}<br><b>Status:</b> {e(c.status)}, '
            f'{c.seconds:.1f} s</p><details><summary>numbers</summary><pre>{numbers}</pre></details></div>')


def to_html(report) -> str:
    e = html.escape
    summary = "".join(f"<tr><td>{e(c.title)}</td><td><span class=\"verdict\" style=\"background:"
                      f"{COLORS.get(c.verdict, '#757575')}\">{e(c.verdict)}</span></td></tr>"
                      for c in report.claims)
    partial = "" if report.complete else (
        '<p class="partial">Partial report: the run was cancelled or did not finish; claims not '
        "measured say so.</p>")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DesktopGen "
            f"Showdown</title><style>{STYLE}</style></head><body><h1>DesktopGen Showdown</h1>"
            f"<p class=\"muted\">The claims of the diffusion-vs-AR write-ups, measured on this machine "
            f"on {e(report.started)} in {report.seconds:.0f} s. Verdicts come from rules written "
            f"before running, computed from the numbers.</p>{partial}<table>{summary}</table>"
            f"<h3>Machine</h3>{_table(report.machine)}<h3>Settings</h3>{_table(report.settings)}"
            + "".join(claim_html(c) for c in report.claims) + "</body></html>")


def json_path(html_path) -> Path:
    return Path(html_path).with_suffix(".json")


def write(report, html_path, overwrite: bool = False) -> tuple[Path, Path]:
    """Write the HTML and the JSON beside it (same name, .json), each atomically. Both targets are
    checked first (export.images.ExportError, one sentence: a missing folder, an existing file)."""
    from desktopgen.core import atomic
    from desktopgen.export.images import check_target

    html_path = Path(html_path)
    jp = json_path(html_path)
    check_target(html_path, (".html", ".htm"), overwrite)
    check_target(jp, (".json",), overwrite)
    atomic.write_json(jp, to_json(report), overwrite=overwrite)
    atomic.write_text(html_path, to_html(report), overwrite=overwrite)
    return html_path, jp
