"""Run a script with TritonStep.META changed (launch parameters only; the kernels' arithmetic
is the same), e.g. the best settings triton_step_tune.py wrote, before they are shipped:

    PYTHONPATH=. python tools/with_triton_meta.py best.json benchmarks/bench_engine.py --device cuda ...

best.json: {"attend_bt": 128, ...}; a missing or empty file runs the shipped settings.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

from desktopgen.nets import triton_step


def main() -> None:
    path, script, *args = sys.argv[1:]
    file = Path(path)
    change = json.loads(file.read_text()) if file.is_file() and file.stat().st_size else {}
    unknown = set(change) - set(triton_step.TritonStep.META)
    if unknown:
        raise SystemExit(f"unknown TritonStep.META keys: {', '.join(sorted(unknown))}")
    triton_step.TritonStep.META.update(change)
    print(f"TritonStep.META: {triton_step.TritonStep.META}", flush=True)
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
