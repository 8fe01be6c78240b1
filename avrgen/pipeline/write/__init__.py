"""Write stage: rendered files -> the output folder, atomically and only where bytes changed.

A file is replaced through a temporary file and os.replace, so a reader (or a crash) sees
the old bytes or the new ones, never a mix. An agent folder that does not exist yet is
written whole as a temporary folder beside it and renamed into place (one rename, not one
per file). Every temporary file and folder is written (and synced) before the first rename,
so a full or read-only disk fails before anything changes.
A few files are synced one by one; many (a first render of 1,000 agents) with one sync()
of the file system, which costs about as much as one fsync instead of thousands.
Files whose bytes are unchanged are not touched (their mtime stays). Files of agents that
no longer exist are removed, but only files avrgen wrote (they start with its header).
Nothing is written outside the folder, nor through a symlink inside it. Env files are
written 0600 (only the owner, who runs docker compose, reads them); the rest 0644.

The jobs, one module each: target (what a folder should hold), changes (what writing it
would change, read without writing), apply (carrying the changes out), tidy (what a killed
render left behind).
"""

from __future__ import annotations

from avrgen.pipeline.write.apply import SYNC_EACH_LIMIT, apply
from avrgen.pipeline.write.changes import changes, generated_files, written
from avrgen.pipeline.write.target import PRIVATE_MODE, Action, Change, Target, mode_for

__all__ = [
    "PRIVATE_MODE",
    "SYNC_EACH_LIMIT",
    "Action",
    "Change",
    "Target",
    "apply",
    "changes",
    "generated_files",
    "mode_for",
    "written",
]
