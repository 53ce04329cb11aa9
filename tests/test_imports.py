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
