"""Before the QApplication exists: can Qt's X11 platform plugin load? When system libraries are
missing Qt aborts the process, and its message names the wrong one (libxcb-cursor0 when
libxcb-icccm4 and libxcb-keysyms1 are missing). `ldd` on the plugin names the real ones; this
turns them into one message with the apt-get line that installs them. Imports no Qt module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# Debian/Ubuntu packages whose names do not follow the usual rule (see `debian_package`).
PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libfreetype.so.6": "libfreetype6",
    "libz.so.1": "zlib1g",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames `ldd` reports as "not found", in order, each once."""
    seen: list[str] = []
    for name in _NOT_FOUND.findall(ldd_output):
        if name not in seen:
            seen.append(name)
    return seen


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships a library: the soname's stem, lower case, with its
    major version appended ("-" between two digits): libxcb-icccm.so.4 -> libxcb-icccm4,
    libxkbcommon-x11.so.0 -> libxkbcommon-x11-0, libX11-xcb.so.1 -> libx11-xcb1."""
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    m = re.fullmatch(r"(.+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if not m:
        return soname
    stem, major = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def message(missing: list[str]) -> str:
    """What the user reads: what failed, which files are missing, and the line that fixes it."""
    packages = list(dict.fromkeys(debian_package(s) for s in missing))
    return ("DesktopGen cannot open its window: Qt's X11 (xcb) platform plugin needs system "
            f"libraries that are not installed: {', '.join(missing)}.\n"
            f"On Debian or Ubuntu install them with:\n    sudo apt-get install {' '.join(packages)}\n"
            "(On other systems, install the packages that provide these files. To run without a "
            "display, use the command line: desktopgen --help.)")


def xcb_plugin() -> Path | None:
    """Qt's xcb plugin inside the installed PySide6, if there is one."""
    try:
        import PySide6  # the package only: no Qt library is loaded
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will try the xcb plugin: Linux, and QT_QPA_PLATFORM unset (outside a Wayland
    session) or naming xcb."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def run_ldd(path: Path) -> str:
    try:
        return subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""  # no ldd: let Qt try, and say what it says


def check_qt_platform(environ=os.environ, platform: str = sys.platform, ldd=run_ldd) -> str | None:
    """The message to print when the xcb plugin would fail for missing libraries; else None."""
    if not uses_xcb(environ, platform):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(ldd(plugin))
    return message(missing) if missing else None
