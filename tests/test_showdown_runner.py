"""The Showdown runner, report and CLI with fake claims (no models): a self-contained HTML and a
JSON with every claim; cancel stops inside an experiment and leaves a partial report; a failing
experiment is reported, not fatal; bad CLI input gets one line and exit status 2."""

import json
import re
import threading
import time
import types

import pytest

from desktopgen.showdown import base, report, runner


def fake_claim(cid, experiment, verdict=None):
    def default_verdict(numbers):
        return (base.HOLDS, "x is 1") if numbers.get("x") == 1 else (base.NOT_HOLD, "x is not 1")

    def figure(numbers):
        from desktopgen.showdown import figures
        fig, (ax,) = figures.new(1)
        ax.plot([0, 1], [0, numbers.get("x", 0)])
        return fig
    return types.SimpleNamespace(ID=cid, TITLE=f"claim {cid}", CLAIM="a claim", MEASURES="x",
                                 RULE="x == 1", NEEDS="nothing", experiment=experiment,
                                 verdict=verdict or default_verdict, figure=figure)


SETTINGS = base.Settings.for_run(quick=True, device="cpu")


def test_report_is_self_contained_and_json_has_every_claim(tmp_path):
    claims = [fake_claim("one", lambda ctx: {"x": 1}), fake_claim("two", lambda ctx: {"x": 2}),
              fake_claim("three", lambda ctx: {})]
    rep = runner.run(SETTINGS, claims)
    assert rep.complete
    html_path, json_path = report.write(rep, tmp_path / "r.html")
    text = html_path.read_text()
    srcs = re.findall(r'\bsrc="([^"]*)"', text)
    assert len(srcs) == 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"\bhref=", text) and "<link" not in text and "<script" not in text
    data = json.loads(json_path.read_text())
    assert [c["id"] for c in data["claims"]] == ["one", "two", "three"]
    assert [c["verdict"] for c in data["claims"]] == [base.HOLDS, base.NOT_HOLD, base.NOT_HOLD]
    assert data["machine"]["torch"] and data["settings"]["quick"] is True
    assert json_path == tmp_path / "r.json"


def test_report_refuses_to_replace_without_overwrite(tmp_path):
    rep = runner.run(SETTINGS, [fake_claim("one", lambda ctx: {"x": 1})])
    report.write(rep, tmp_path / "r.html")
    with pytest.raises(OSError, match="exists"):
        report.write(rep, tmp_path / "r.html")
    with pytest.raises(OSError, match="does not exist"):
        report.write(rep, tmp_path / "missing" / "r.html")
    report.write(rep, tmp_path / "r.html", overwrite=True)


def test_cancel_inside_an_experiment_gives_a_partial_report(tmp_path):
    cancel, reached = threading.Event(), []

    def slow(ctx):
        threading.Timer(0.2, cancel.set).start()  # another thread presses Cancel meanwhile
        for i in range(1000):  # an experiment that checks for cancel as it goes
            ctx.progress(i / 1000, "working")
            time.sleep(0.01)
        return {"x": 1}

    ran_after = []
    claims = [fake_claim("first", lambda ctx: {"x": 1}), fake_claim("slow", slow),
              fake_claim("after", lambda ctx: ran_after.append(1) or {"x": 1})]
    t0 = time.perf_counter()
    rep = runner.run(SETTINGS, claims, cancel, on_progress=lambda i, f, t: reached.append(i))
    assert time.perf_counter() - t0 < 5  # stopped well before the slow claim's 10 s
    assert not rep.complete and not ran_after
    assert [c.status for c in rep.claims] == ["done", "cancelled", "pending"]
    assert rep.claims[0].verdict == base.HOLDS
    assert all(c.verdict == base.NOT_MEASURED for c in rep.claims[1:])
    html_path, json_path = report.write(rep, tmp_path / "partial.html")
    assert "Partial report" in html_path.read_text()
    assert json.loads(json_path.read_text())["complete"] is False


def test_failed_experiment_is_reported_and_the_next_claim_runs():
    def boom(ctx):
        raise RuntimeError("no luck")
    rep = runner.run(SETTINGS, [fake_claim("bad", boom), fake_claim("good", lambda ctx: {"x": 1})])
    assert rep.complete
    assert rep.claims[0].status == "failed" and rep.claims[0].verdict == base.NOT_MEASURED
    assert "no luck" in rep.claims[0].reason
    assert rep.claims[1].verdict == base.HOLDS


def test_a_verdict_rule_that_returns_nonsense_is_not_measured():
    rep = runner.run(SETTINGS, [fake_claim("odd", lambda ctx: {}, verdict=lambda n: ("great", ""))])
    assert rep.claims[0].verdict == base.NOT_MEASURED


def test_callbacks_report_start_progress_and_end_in_order():
    events = []

    def exp(ctx):
        ctx.progress(0.5, "half")
        return {"x": 1}
    runner.run(SETTINGS, [fake_claim("a", exp), fake_claim("b", exp)],
               on_start=lambda i, r: events.append(("start", i)),
               on_progress=lambda i, f, t: events.append(("progress", i, f)),
               on_claim=lambda i, r: events.append(("end", i, r.verdict)))
    assert events == [("start", 0), ("progress", 0, 0.5), ("end", 0, base.HOLDS),
                      ("start", 1), ("progress", 1, 0.5), ("end", 1, base.HOLDS)]


@pytest.fixture
def fake_registry(monkeypatch):
    from desktopgen import showdown
    fake = fake_claim("fake", lambda ctx: {"x": 1})
    monkeypatch.setattr(showdown, "CLAIMS", (fake,))
    monkeypatch.setattr(showdown, "BY_ID", {"fake": fake})


def test_cli_writes_html_and_json(tmp_path, fake_registry, capsys):
    from desktopgen import cli
    out = tmp_path / "report.html"
    assert cli.main(["showdown", "--quick", "--device", "cpu", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "report.json").is_file()
    assert "holds" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["--out", "{tmp}/r.txt"], "must end in"),
    (["--out", "{tmp}/missing/r.html"], "does not exist"),
    (["--out", "{tmp}/r.html", "--claims", "speed,nonsense"], "unknown claim nonsense"),
    (["--out", "{tmp}/r.html", "--device", "cuda"], "CUDA"),
    (["--out", "{tmp}/r.html", "--device", "tpu"], "unknown device"),
    (["--out", "{tmp}/r.html", "--threads", "0"], "threads"),
    (["--out", "{tmp}/exists.html"], "exists"),
    (["--out", "{tmp}/r2.html"], "r2.json"),  # the JSON beside it exists
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, words):
    from desktopgen import cli
    (tmp_path / "exists.html").write_text("keep")
    (tmp_path / "r2.json").write_text("keep")
    argv = ["showdown"] + [a.format(tmp=tmp_path) for a in args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert (tmp_path / "exists.html").read_text() == "keep"
