"""The Showdown window (offscreen) with a fake quick runner: progress and verdicts with figures
appear per claim, Cancel gives a partial report, Save writes the HTML; the menu entry opens it."""

import json
import time
import types

import pytest

from desktopgen.showdown import base, runner


def _claim(cid, delay=0.0):
    def experiment(ctx):
        for i in range(10):
            ctx.progress(i / 10, f"step {i}")
            time.sleep(delay)
        return {"x": 1}

    def figure(numbers):
        from desktopgen.showdown import figures
        fig, (ax,) = figures.new(1)
        ax.plot([0, 1], [0, 1])
        return fig
    return types.SimpleNamespace(ID=cid, TITLE=f"claim {cid}", CLAIM="a claim", MEASURES="x",
                                 RULE="x == 1", NEEDS="nothing", experiment=experiment,
                                 verdict=lambda n: (base.HOLDS, "x is 1"), figure=figure)


def fake_run(settings, claims, cancel, on_progress=None, on_claim=None, on_start=None):
    """The real runner on fake claims, forced to the CPU and tiny settings."""
    return runner.run(base.Settings.for_run(True, "cpu"), claims, cancel, on_progress, on_claim,
                      on_start)


@pytest.fixture
def view(qtbot):
    from desktopgen.gui.showdown_view import ShowdownWindow
    w = ShowdownWindow(run=fake_run, claims=[_claim("a"), _claim("b")])
    qtbot.addWidget(w)
    yield w
    if w.running():
        w.cancel()
        w.thread.wait(10_000)


def test_run_shows_each_verdict_with_its_figure_and_saves_the_report(qtbot, view, tmp_path):
    done = []
    view.worker_done = view.reportReady.connect(done.append)
    view.start()
    assert not view.run_button.isEnabled() and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    assert done[0].complete
    for row in view.rows:
        assert "holds" in row.verdict.text() and row.bar.value() == 100
        assert row.figure.pixmap() is not None and not row.figure.pixmap().isNull()
    assert view.save_button.isEnabled() and view.open_button.isEnabled()
    path = view.save_report(tmp_path / "r.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert [c["id"] for c in json.loads((tmp_path / "r.json").read_text())["claims"]] == ["a", "b"]
    qtbot.waitUntil(lambda: not view.running(), timeout=10_000)


def test_cancel_stops_and_keeps_a_partial_report(qtbot, tmp_path):
    from desktopgen.gui.showdown_view import ShowdownWindow
    w = ShowdownWindow(run=fake_run, claims=[_claim("slow", delay=0.5), _claim("never")])
    qtbot.addWidget(w)
    done = []
    w.reportReady.connect(done.append)
    w.start()
    qtbot.waitUntil(lambda: w.rows[0].bar.value() > 0, timeout=30_000)
    w.cancel()
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    rep = done[0]
    assert not rep.complete and [c.status for c in rep.claims] == ["cancelled", "pending"]
    assert "partial" in w.status.text()
    assert "not measured here" in w.rows[1].verdict.text()
    assert w.save_report(tmp_path / "p.html") is not None
    qtbot.waitUntil(lambda: not w.running(), timeout=10_000)


def test_save_to_an_unwritable_place_says_so_in_the_status_bar(qtbot, view, tmp_path):
    done = []
    view.reportReady.connect(done.append)
    view.start()
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    assert view.save_report(tmp_path / "missing" / "r.html") is None
    assert view.status.text().startswith("Could not save the report")
    qtbot.waitUntil(lambda: not view.running(), timeout=10_000)


def test_menu_entry_opens_the_showdown_window(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMainWindow

    from desktopgen.gui import showdown_view
    from desktopgen.gui.menus import Menus

    main = QMainWindow()
    qtbot.addWidget(main)
    menus = Menus(main)
    titles = [a.text() for a in main.menuBar().actions()]
    assert "&Showdown" in titles
    real = showdown_view.ShowdownWindow
    monkeypatch.setattr(showdown_view, "ShowdownWindow",
                        lambda parent: real(parent, run=fake_run, claims=[_claim("a")]))
    menus.showdown_action.trigger()
    assert menus.showdown_window is not None and menus.showdown_window.isVisible()
    first = menus.showdown_window
    menus.showdown_action.trigger()
    assert menus.showdown_window is first  # raised, not opened twice
    first.close()


def test_progress_reaches_the_widgets_on_the_gui_thread_only(qtbot, monkeypatch):
    """Widgets touched from the runner's thread hang or crash Qt (a lambda slot runs on the
    emitting thread in PySide): every row update must happen on the GUI thread."""
    import threading

    from desktopgen.gui import showdown_view

    threads = []
    real = showdown_view.ClaimRow.set_progress

    def spy(self, fraction, text):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(self, fraction, text)

    monkeypatch.setattr(showdown_view.ClaimRow, "set_progress", spy)
    w = showdown_view.ShowdownWindow(run=fake_run, claims=[_claim("a")])
    qtbot.addWidget(w)
    done = []
    w.reportReady.connect(done.append)
    w.start()
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    assert threads and all(threads), f"{threads.count(False)} of {len(threads)} off the GUI thread"
    qtbot.waitUntil(lambda: not w.running(), timeout=10_000)
