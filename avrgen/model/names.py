"""Rules on names: an agent's name, and the did-you-mean suggestion for a misspelt one."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

AGENT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
# a blueprint set's id (settings `set:`, or the one its lock records): a label value
SET_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the nearest choice, or nothing."""
    return _nearest(word, tuple(choices))


@functools.lru_cache(maxsize=1024)  # one unknown env key of a set is often in every agent
def _nearest(word: str, choices: tuple[str, ...]) -> str:
    import difflib  # here: only a misspelt name needs it

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


# the name of the engine avrgen reaches by default (agents without `host:`), in tables
DEFAULT_HOST = "local"
