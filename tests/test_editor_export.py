"""Export dialog fixes of issue 8: default folders (Pictures / Videos, then the last one used), the
clip opens on the window's view, a "10 s" clip lasts 10 s (read back), and a cancel that comes
during the final encode never claims that nothing was written."""

from __future__ import annotations

import imageio.v3 as iio
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QWidget
from test_export_dialog import make_results

from desktopgen.export import clips
from desktopgen.gui.export_dialog import ExportDialog
from desktopgen.gui.export_jobs import ExportJob


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home whose XDG user dirs are Bilder (pictures) and Filme (videos), both present."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "user-dirs.dirs").write_text('XDG_PICTURES_DIR="$HOME/Bilder"\n'
                                                     'XDG_VIDEOS_DIR="$HOME/Filme"\n')
    for d in ("Bilder", "Filme"):
        (home / d).mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(tmp_path)
    return home


def _dialog(qtbot, settings, **kw):
    d = ExportDialog(None, kw.pop("results", None) or make_results(), settings=settings, **kw)
    qtbot.addWidget(d)
    return d


def test_images_default_to_pictures_and_clips_to_videos(qtbot, home, settings):
    d = _dialog(qtbot, settings)
    assert d.image_path.edit.text().startswith(str(home / "Bilder") + "/")
    assert d.clip_path.edit.text().startswith(str(home / "Filme") + "/")


def test_the_last_folder_written_to_is_proposed_next_time(qtbot, home, settings, tmp_path):
    there = tmp_path / "elsewhere"
    there.mkdir()
    d = _dialog(qtbot, settings)
    d.image_path.edit.setText(str(there / "x.png"))
    d.export_button.click()
    assert (there / "x.png").exists()
    again = _dialog(qtbot, settings)
    assert again.image_path.edit.text().startswith(str(there) + "/")
    assert again.clip_path.edit.text().startswith(str(home / "Filme") + "/")  # clips: their own
    (there / "x.png").unlink()
    there.rmdir()
    gone = _dialog(qtbot, settings)  # a remembered folder that was deleted: back to the default
    assert gone.image_path.edit.text().startswith(str(home / "Bilder") + "/")


def _window_with_view(view: str, align: str) -> QWidget:
    """Stands in for the main window: its two combos, found by object name."""
    w = QWidget()
    for name, items in (("diffusionViewCombo", ("clean", "noisy")),
                        ("timelineAlignCombo", ("fraction", "time"))):
        box = QComboBox(w)
        box.setObjectName(name)
        for data in items:
            box.addItem(data, data)
        box.setCurrentIndex(items.index(view if name.startswith("diffusion") else align))
    return w


@pytest.mark.parametrize("view,align", [("clean", "fraction"), ("noisy", "time")])
def test_clip_opens_on_the_view_the_window_shows(qtbot, settings, tmp_path, view, align):
    win = _window_with_view(view, align)
    qtbot.addWidget(win)
    d = ExportDialog(win, make_results(), tab="clip", folder=tmp_path, settings=settings)
    assert d.clip_clean.isChecked() == (view == "clean")
    assert d.clip_align.currentData() == ("progress" if align == "fraction" else "time")
    d.reject()
    explicit = _dialog(qtbot, settings, tab="clip", folder=tmp_path, view=view, align=align)
    assert explicit.clip_options().clean == (view == "clean")
    plain = _dialog(qtbot, settings, tab="clip", folder=tmp_path)  # no window: the window's defaults
    assert plain.clip_clean.isChecked() and plain.clip_align.currentData() == "progress"


def _long_results(seconds: float):
    results = make_results()
    for _, _, tr in results.values():  # runs that last `seconds`: longer than the cap
        k = seconds / tr.duration
        tr.elapsed[:] = [e * k for e in tr.elapsed]
        tr.frames[:] = [(s, e * k, p, c, pos) for s, e, p, c, pos in tr.frames]
    return results


@pytest.mark.parametrize("cap,fps", [(10, 15), (10, 7), (3.5, 12)])
def test_a_capped_clip_lasts_exactly_its_cap(qtbot, settings, tmp_path, cap, fps):
    d = _dialog(qtbot, settings, results=_long_results(30.0), tab="clip", folder=tmp_path)
    d.clip_side.setCurrentIndex(d.clip_side.findData("diffusion"))
    d.clip_size.setValue(32)
    d.clip_fps.setValue(fps)
    d.clip_max.setValue(cap)
    path = tmp_path / "capped.mp4"
    d.clip_path.edit.setText(str(path))
    d.export_button.click()
    assert d.wait(60000)
    qtbot.waitUntil(lambda: "Wrote" in d.status.text(), timeout=5000)
    assert settings.value("export/clip_folder") == str(tmp_path.resolve())  # proposed next time
    meta = iio.immeta(path, plugin="FFMPEG")
    n = sum(1 for _ in iio.imiter(path, plugin="FFMPEG"))
    assert meta["fps"] == fps and n == round(cap * fps)
    assert n / meta["fps"] == pytest.approx(cap, abs=0.5 / fps)


def test_clip_timing_keeps_the_hold_inside_the_cap():
    from desktopgen.gui.export_dialog import clip_timing

    assert clip_timing(10, 15) == (9.0, 1.0)
    run, hold = clip_timing(0.5, 5)  # the shortest cap: no room for a hold
    assert hold == 0 and run >= 0.5
    for cap in (0.5, 1, 2.4, 10, 600):
        for fps in (1, 5, 15, 24, 60):
            run, hold = clip_timing(cap, fps)
            clips.ClipOptions(fps=fps, max_seconds=run, hold=hold).validate()
            assert round(run * fps) + round(hold * fps) <= max(round(cap * fps), 2, -(-fps // 2))


def test_job_reports_a_file_that_was_complete_when_cancel_came(tmp_path):
    """The cancel is pressed while the generator encodes and renames (between its last two items)."""
    path = tmp_path / "x.gif"
    job = ExportJob(lambda: gen(), f"Wrote {path}")

    def gen():
        yield 1, 2
        job.cancel()  # the user presses Cancel during the final encode...
        path.write_bytes(b"GIF89a")  # ...which completes and renames the file into place
        yield 2, 2

    got = []
    job.finished.connect(lambda m: got.append(("finished", m)))
    job.cancelled.connect(lambda: got.append(("cancelled", "")))
    job.run()
    assert path.exists() and got and got[0][0] == "finished" and str(path) in got[0][1]


def test_cancel_during_the_final_gif_encode_tells_the_truth(qtbot, settings, tmp_path, monkeypatch):
    d = _dialog(qtbot, settings, tab="clip", folder=tmp_path)
    encode = clips._one_palette

    def cancel_then_encode(frames):  # Cancel pressed while the GIF is being encoded
        d._job.cancel()
        return encode(frames)

    monkeypatch.setattr(clips, "_one_palette", cancel_then_encode)
    d.clip_format.setCurrentText("GIF")
    d.clip_size.setValue(32)
    d.clip_fps.setValue(5)
    path = tmp_path / "race.gif"
    d.clip_path.edit.setText(str(path))
    d.export_button.click()
    assert d.wait(60000)
    qtbot.waitUntil(lambda: d.export_button.isEnabled(), timeout=5000)
    status = d.status.text()
    if path.exists():  # renamed into place before the cancel was seen: say so
        assert "Wrote" in status and "nothing was written" not in status and d.last_path == path
    else:  # the cancel was honoured before the rename
        assert "nothing was written" in status
        assert not [p for p in tmp_path.iterdir() if "race" in p.name]  # no temp file either


def test_gif_frame_rate_stays_where_browsers_play_it(qtbot, settings, tmp_path):
    d = _dialog(qtbot, settings, tab="clip", folder=tmp_path)
    d.clip_fps.setValue(60)
    d.clip_format.setCurrentText("GIF")  # delays of 1/100 s play as 1/10 s in browsers
    assert d.clip_fps.maximum() == 50 and d.clip_fps.value() == 50
    assert d.clip_path.edit.text().endswith(".gif")
    d.clip_format.setCurrentText("MP4 (H.264)")
    assert d.clip_fps.maximum() == 60
