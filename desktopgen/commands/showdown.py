"""`desktopgen showdown`: every claim of the diffusion-vs-AR write-ups measured on this machine,
with a verdict each, saved as one self-contained HTML report and its JSON (desktopgen/showdown).
A progress bar per claim; Ctrl+C stops the run and still writes the partial report."""

from __future__ import annotations

import argparse
import sys
import threading

from desktopgen.commands._args import UsageError, add_device_arg, check_out, number


def register(subparsers) -> None:
    p = subparsers.add_parser("showdown", help="measure every claim of the write-ups; HTML report")
    p.add_argument("--quick", action="store_true",
                   help="small n and low resolutions (about 5 minutes on a 2-core CPU)")
    add_device_arg(p)
    p.add_argument("--out", required=True, help="the report, .html (the JSON goes beside it)")
    p.add_argument("--claims", default="", help="comma-separated claim ids (default: all): "
                   "quality, speed, inpainting, memory, stability, video, infinite, compression, trends")
    p.add_argument("--data", default=None, help="Fashion-MNIST folder")
    p.add_argument("--threads", type=number(int, 1, 1024, "threads"), default=0,
                   help="CPU threads for torch (default: torch's choice; 1 helps on a busy machine)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")


def _claims(text: str):
    from desktopgen import showdown

    if not text:
        return list(showdown.CLAIMS)
    ids = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in ids if t not in showdown.BY_ID]
    if unknown or not ids:
        raise UsageError(f"--claims: unknown claim {', '.join(unknown) or repr(text)}; known: "
                         f"{', '.join(showdown.BY_ID)}")
    return [showdown.BY_ID[t] for t in ids]


def run(a: argparse.Namespace) -> int:
    from desktopgen.showdown import report as rep

    out = check_out(a.out, (".html", ".htm"), a.overwrite)
    check_out(str(rep.json_path(out)), (".json",), a.overwrite, "--out's JSON")
    claims = _claims(a.claims)

    from desktopgen.commands import _progress
    from desktopgen.core.device import pick_device
    from desktopgen.showdown import base, runner

    pick_device(a.device)  # a missing or unknown device: one line, exit 2, before any work
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    settings = base.Settings.for_run(a.quick, a.device, a.data)
    cancel, bars, box = threading.Event(), {}, {}

    def on_start(i, res):
        bars[i] = _progress.bar(100, f"{i + 1}/{len(claims)} {res.id}", unit="%")

    def on_progress(i, fraction, text):
        b = bars[i]
        b.update(int(fraction * 100) - b.n)
        b.set_postfix_str(text[:40], refresh=False)

    def on_claim(i, res):
        if i in bars:
            bars[i].update(100 - bars[i].n)
            bars[i].close()
        print(f"{res.title}: {res.verdict} ({res.seconds:.0f} s) - {res.reason}", flush=True)

    def work():
        try:
            box["report"] = runner.run(settings, claims, cancel, on_progress, on_claim, on_start)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            box["error"] = e

    t = threading.Thread(target=work, name="showdown", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.2)
    except KeyboardInterrupt:
        print("desktopgen: cancelling (the partial report will be written)", file=sys.stderr)
        cancel.set()
        t.join()
    for b in bars.values():
        b.close()
    if "error" in box:
        raise box["error"]
    report = box["report"]
    html_path, json_path = rep.write(report, out, a.overwrite)
    state = "" if report.complete else " (partial: cancelled)"
    print(f"wrote {html_path} and {json_path}{state} in {report.seconds:.0f} s")
    return 0 if report.complete else 130
