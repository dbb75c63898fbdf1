"""Text from a Canvas server made safe for a terminal or a log line.

A Canvas server (or anyone who registers one) controls course names, the profile name and the
bodies of error responses. Written raw to a terminal, ``\\x1b]0;...\\x07`` retitles the window
and ``\\x1b[31m`` recolours or hides what follows; in a log file the same bytes forge lines.
:func:`strip_control` is the one helper for every such boundary.
"""

from __future__ import annotations

import re

# ESC sequences first (so their parameters go too): OSC ... BEL/ST, CSI params final, and
# two-character escapes; then any remaining C0 control, DEL and C1 control.
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (window title, hyperlinks)
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI (colours, cursor moves, erase)
    r"|\x1b[@-Z\\-_]?"  # other two-character escapes (and a bare ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # the one-byte C1 CSI
)
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def strip_control(text: object) -> str:
    """``text`` as a string without ANSI escapes or control characters (C0, DEL, C1).

    Tabs and line breaks become one space, so a multi-line body stays one readable line.
    """
    value = _ESCAPES.sub("", str(text))
    value = _WHITESPACE_CONTROLS.sub(" ", value)
    return _CONTROLS.sub("", value)
