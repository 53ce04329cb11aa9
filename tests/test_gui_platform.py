"""When Qt's xcb platform plugin cannot load, the app names the missing libraries and the
apt-get line that installs them, instead of Qt's abort that blames the wrong library."""

from __future__ import annotations

from desktopgen.gui import app, qt_libs

# ldd on libqxcb.so on a fresh Debian 12 without libxcb-icccm4 and libxcb-keysyms1
LDD = """\
\tlinux-vdso.so.1 (0x00007ffd7a1f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f0b1c400000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f0b1c3f0000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibX11-xcb.so.1 => not found
\tlibglib-2.0.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0b1b800000)
"""


def test_ldd_output_maps_to_debian_packages():
    missing = qt_libs.missing_libraries(LDD)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0",
                       "libX11-xcb.so.1", "libglib-2.0.so.0"]  # each once, found ones left out
    assert [qt_libs.debian_package(s) for s in missing] == [
        "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libx11-xcb1", "libglib2.0-0"]
    assert qt_libs.debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert qt_libs.debian_package("libxcb-render-util.so.0.0.0") == "libxcb-render-util0"
    assert qt_libs.missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_message_names_the_files_and_the_apt_get_line():
    text = qt_libs.message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in text
    assert "cursor" not in text  # not the library Qt's own message blames


def test_check_runs_only_where_qt_would_use_xcb():
    fake = {"ldd": lambda path: LDD}
    on_x11 = qt_libs.check_qt_platform({"DISPLAY": ":0"}, "linux", **fake)
    assert on_x11 is None or "apt-get install libxcb-icccm4" in on_x11  # None: no PySide6 xcb plugin
    if qt_libs.xcb_plugin() is not None:
        assert on_x11 is not None
        assert qt_libs.check_qt_platform({"QT_QPA_PLATFORM": "xcb"}, "linux", **fake)
    assert qt_libs.check_qt_platform({"QT_QPA_PLATFORM": "offscreen"}, "linux", **fake) is None
    assert qt_libs.check_qt_platform({"WAYLAND_DISPLAY": "wayland-0"}, "linux", **fake) is None
    assert qt_libs.check_qt_platform({}, "darwin", **fake) is None
    ok = qt_libs.check_qt_platform({"DISPLAY": ":0"}, "linux", ldd=lambda path: "\tlibc.so.6 => x\n")
    assert ok is None


def test_main_prints_the_message_and_exits_1_before_creating_the_app(monkeypatch, capsys):
    monkeypatch.setattr(qt_libs, "check_qt_platform", lambda: qt_libs.message(["libxcb-icccm.so.4"]))
    monkeypatch.setattr(app, "create_app", lambda: (_ for _ in ()).throw(AssertionError("created")))
    assert app.main() == 1
    err = capsys.readouterr().err
    assert "sudo apt-get install libxcb-icccm4" in err and "Traceback" not in err


def test_the_installed_plugin_is_found_and_ldd_runs_on_it():
    plugin = qt_libs.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"  # PySide6's Linux wheel ships it
    assert "libQt6XcbQpa" in qt_libs.run_ldd(plugin)
