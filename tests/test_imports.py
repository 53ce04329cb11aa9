"""No import cycles anywhere in the package, the GUI included: every import, at module level or
inside a function, goes one way."""

from __future__ import annotations

import grimp

AREAS = ("desktopgen",)


def test_no_import_cycles():
    graph = grimp.build_graph("desktopgen")
    ours = sorted(m for m in graph.modules if m.startswith(AREAS))
    cycles = []
    for m in ours:
        for dep in graph.find_modules_directly_imported_by(m):
            if dep != m and dep.startswith("desktopgen") and graph.chain_exists(importer=dep, imported=m):
                cycles.append(f"{m} <-> {dep}")
    assert cycles == []


def test_subcommands_register_the_same_way():
    from desktopgen import commands
    from desktopgen.cli import build_parser

    names = sorted(m.__name__.rsplit(".", 1)[-1] for m in commands.discover())
    assert names == ["eval", "inpaint", "race", "sample", "showdown", "train", "video"]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == names
    assert all(p.get_default("_run") is not None for p in sub.choices.values())


def test_the_engine_imports_triton_only_when_a_step_needs_it():
    """Importing the samplers and the CLI must not import Triton: importing nets/triton_step jits its
    kernels, and on a CPU machine they must be jitted after TRITON_INTERPRET is set (the Triton
    tests set it at their import; a module-level import elsewhere broke them in a full run)."""
    import subprocess
    import sys

    code = ("import sys, desktopgen.sampling, desktopgen.sampling.ar, desktopgen.sampling.tokens, "
            "desktopgen.sampling.maskgit, desktopgen.nets, desktopgen.cli; "
            "print('triton' in sys.modules, 'desktopgen.nets.triton_step' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], out
