"""Render cache: a render whose inputs and outputs are exactly as the last one left them
skips the pipeline (load, validate, plan, render, parse-back), and prints the same.

Sound by construction. The key (key.py) is a sha256 over everything a render reads:
avrgen's own files (code, bundled catalog), the versions of the libraries that shape the
bytes, the templates folder, every --catalog folder, every blueprint file (relative path
and bytes), the lock, the paths as given (they appear in what is printed), the working
folder and the options. The settings' `catalog:` folder is named inside a blueprint, so its
files are hashed on a lookup and compared with what the entry recorded. The value
(store.py) is the sha256 and the stat of every file the render produced (output files; the
lock is hashed; the stat rules: stats.py) and what the CLI prints after a render (warnings,
the plan's agents and containers for --json, and the table's text: views.py).

A hit stats every output file and reads and hashes one whose stat is not the recorded,
settled one (git's rule for its index: stats.settled; what stat can and cannot see is in
docs/render-cache.md), and refuses any extra file avrgen generated, a leftover temporary
file, a symlink or an env file with loose permissions: a hand-edited, replaced or deleted
output is found and repaired by the full pipeline. On any doubt (unreadable input, corrupt
entry, version change) the answer is a miss. An entry is stored only when the inputs
hashed after the render equal those before it.

When the pipeline does run (one agent changed), two finer layers save most of its work:
DocumentCache (documents.py) gives the parsed documents of a blueprint file whose name and
text hash as before (so only edited files are parsed), and AgentReuse (agents.py) gives the
files of an agent whose plan hashes as before and whose files on disk still hold the
recorded bytes (so only changed agents go through the templates).

Where: `$XDG_CACHE_HOME/avrgen/` (default `~/.cache/avrgen/`): per output folder one JSON
file, per blueprint folder one `docs-` file, each named by a hash of the folder's absolute
path and written atomically; never in output/ (which is committed). `AVRGEN_NO_CACHE=1` (or
`render --no-cache`) turns all of it off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from avrgen.pipeline.cache.documents import DocumentCache
from avrgen.pipeline.cache.key import FORMAT, LIBRARIES, catalog_hash, enabled, folder, key
from avrgen.pipeline.cache.stats import clock, settled
from avrgen.pipeline.cache.store import last_set_view, lookup, store, with_summary
from avrgen.pipeline.cache.views import AgentView, ContainerView, Hit, PlanView, SetView

if TYPE_CHECKING:
    from avrgen.pipeline.cache.agents import AgentReuse, agent_bytes


def __getattr__(name: str) -> Any:
    """AgentReuse and agent_bytes, imported when first asked for: the plan's models
    (pydantic) are not for a render whose cache says nothing changed."""
    if name in ("AgentReuse", "agent_bytes"):
        from avrgen.pipeline.cache import agents

        return getattr(agents, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FORMAT",
    "LIBRARIES",
    "AgentReuse",
    "AgentView",
    "ContainerView",
    "DocumentCache",
    "Hit",
    "PlanView",
    "SetView",
    "agent_bytes",
    "catalog_hash",
    "clock",
    "enabled",
    "folder",
    "key",
    "last_set_view",
    "lookup",
    "settled",
    "store",
    "with_summary",
]
