"""Clocks set explicitly for whole-process tests: libfaketime (Debian's `faketime`) under a subprocess.

The in-process code takes its clock as an argument; a subprocess (a delivery run killed mid-way, two runs at
once) reads the real clock, so it runs with libfaketime preloaded and starts at the given instant (then ticks on).
A missing library fails the test loudly: `.ci/run` installs the `faketime` package.
"""

from __future__ import annotations

import glob
from datetime import UTC, datetime


def faketime_library() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime is missing: install Debian's 'faketime' package (apt-get install faketime)")
    return found[0]


def faketime_env(moment: datetime) -> dict[str, str]:
    """Environment variables that start a child process's clock at `moment` (aware), ticking on from there."""
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {"LD_PRELOAD": faketime_library(), "FAKETIME": f"@{stamp}", "TZ": "UTC"}
