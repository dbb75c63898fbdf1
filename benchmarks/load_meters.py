"""Small meters for :mod:`benchmarks.scheduled_load`: process-tree CPU, percentiles, load.

Linux only (``/proc``); the benchmark runs on the development machine.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended meanwhile
        return None
    # The command name (field 2) may hold spaces; everything after its ")" is fixed.
    return raw[raw.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant of it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its live descendants so far."""
    total = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:  # utime, stime are fields 14 and 15 (index 11, 12 here)
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def machine_state() -> str:
    """Cores and load averages, for labelling the numbers."""
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} cores, load {one:.2f} / {five:.2f} / {fifteen:.2f}"
