"""Text from a Canvas server made safe for a terminal, a page, an email or a log line.

A Canvas server (or anyone who registers one) controls course names, the profile name and the
bodies of error responses. Written raw to a terminal, ``\\x1b]0;...\\x07`` retitles the window
and ``\\x1b[31m`` recolours or hides what follows; in a log file the same bytes forge lines.
Unicode adds its own invisible controls: the bidi overrides and isolates (U+202A-U+202E,
U+2066-U+2069) print ``Bio\\u202e1.0 :edarg`` as "Bio grade: 0.1", and the line and paragraph
separators (U+2028, U+2029, U+0085) break a line where a mail header or a log line must not.

:func:`strip_control` is the one helper for every such boundary: the sync parser cleans every
Canvas string with it as it arrives (``app.sync.coerce.clean_text``), and each output (the CLI,
mail, webhooks, the iCalendar feed, pages) cleans again with it or :func:`strip_format`, for
text stored before this cleaning existed.

Format characters (Unicode category Cf: bidi controls, zero-width spaces, the soft hyphen, tag
characters) are removed, except the zero-width joiner and non-joiner (U+200D, U+200C): they
cannot reorder or break text, and emoji sequences (a family, a flag with a profession) and
Persian or Indic spelling need them.
"""

from __future__ import annotations

import re
import unicodedata

# ESC sequences first (so their parameters go too): OSC ... BEL/ST, CSI params final, and
# two-character escapes; then any remaining C0 control, DEL and C1 control.
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (window title, hyperlinks)
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI (colours, cursor moves, erase)
    r"|\x1b[@-Z\\-_]?"  # other two-character escapes (and a bare ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # the one-byte C1 CSI
)
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[\x85\u2028\u2029]+")
# Joiners kept: they only join or keep apart the glyphs either side (see the docstring).
KEPT_FORMAT = frozenset({"\u200c", "\u200d"})


def _without_format(value: str) -> str:
    if value.isascii():
        return value  # no format character is ASCII: the common case costs one scan
    return "".join(
        ch for ch in value if ch in KEPT_FORMAT or unicodedata.category(ch) != "Cf"
    )


def format_table(value: str) -> dict[int, str | None]:
    """A ``str.translate`` table that removes ``value``'s format characters (spaces for the
    line separators); ``Markup.translate`` keeps a page's markup safe with it."""
    table: dict[int, str | None] = {}
    if value.isascii():
        return table
    for ch in set(value):
        if ch in "\x85\u2028\u2029":
            table[ord(ch)] = " "
        elif ch not in KEPT_FORMAT and unicodedata.category(ch) == "Cf":
            table[ord(ch)] = None
    return table


def strip_format(text: object) -> str:
    """``text`` without Unicode format characters; line/paragraph separators become a space.

    For text that may keep its own line breaks (a page), unlike :func:`strip_control`.
    """
    return _without_format(_SEPARATORS.sub(" ", str(text)))


def strip_control(text: object) -> str:
    """``text`` as one line without ANSI escapes, control or format characters.

    C0, DEL and C1 controls and Unicode format characters (bidi controls among them) go; tabs,
    line breaks and the Unicode line/paragraph separators become one space, so a multi-line
    body stays one readable line.
    """
    value = _ESCAPES.sub("", str(text))
    value = _WHITESPACE_CONTROLS.sub(" ", value)
    return _without_format(_CONTROLS.sub("", value))
