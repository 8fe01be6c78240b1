"""The stat rules of the render cache: what tells an output file unchanged without reading
it, as git's index tells it (size, mtime, ctime, inode, mode), and when a recorded stat can
be trusted (`settled`: git's "racy" rule); what stat sees and what it cannot is written in
docs/render-cache.md."""

from __future__ import annotations

import os
import time


def clock() -> int:
    """Now, in ns, as the kernel stamps files: Linux sets mtime and ctime from its coarse
    real-time clock, which may lag time.time_ns() by a tick. Elsewhere: time.time_ns() less
    a second, so that a file stamped just before is never taken for one stamped after."""
    coarse = getattr(time, "CLOCK_REALTIME_COARSE", None)
    if coarse is not None:
        return time.clock_gettime_ns(coarse)
    return time.time_ns() - 1_000_000_000  # pragma: no cover - not Linux


def stat_text(info: os.stat_result) -> str:
    """The fields compared: size, mtime, ctime, inode and mode."""
    return f"{info.st_size} {info.st_mtime_ns} {info.st_ctime_ns} {info.st_ino} {info.st_mode}"


def _granule(*stamps: int) -> int:
    """An upper bound of the file system's timestamp granularity: the largest power of ten
    (up to a second) dividing the stamps; 2 s for whole seconds (FAT keeps even seconds)."""
    granule = 1
    while granule < 1_000_000_000 and not any(s % (granule * 10) for s in stamps):
        granule *= 10
    return 2_000_000_000 if granule == 1_000_000_000 else granule


def settled(info: os.stat_result, since: int) -> bool:
    """Whether a file with this stat, whose bytes were known (written or read) after
    `since` (a clock() reading), would show any later change in its stat.

    A change stamps ctime (which no user can set) with the clock of that moment, cut to the
    file system's granule; one after `since` is stamped at least `since` cut to the granule.
    A file whose ctime and mtime lie before that has a stat no later change can reproduce;
    one stamped in the same granule could be changed again within it unseen (git's "racy"
    file), so it is read and hashed instead."""
    granule = _granule(info.st_mtime_ns, info.st_ctime_ns)
    start = since - since % granule
    return info.st_ctime_ns < start and info.st_mtime_ns < start
