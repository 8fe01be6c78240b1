"""Env rules beyond a template's key lists: what an image needs in a combination of keys, what
the dashboard would change in a value, and the keys avr-core reads (AVR-PLATFORM.md).

Each rule gives findings (the field path under the document, the message, a warning or not);
the checker reports them at the field's file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from avrgen.model.catalog import ProviderTemplate
from avrgen.model.names import suggest

Finding = tuple[tuple[str | int, ...], str, bool]  # (path, message, warn)

# The optional keys avr-core reads (AVR-PLATFORM.md "core env"); the keys avrgen sets
# (PORT, the URLs, ...) are reserved and reported by the checker, VAD_* is a family.
CORE_KEYS = frozenset(
    {
        "SYSTEM_MESSAGE",
        "INTERRUPT_LISTENING",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "WEBHOOK_TIMEOUT",
        "WEBHOOK_RETRY",
        "AMBIENT_NOISE_FILE",
        "AMBIENT_NOISE_LEVEL",
    }
)
CORE_PREFIXES = ("VAD_",)

# The dashboard's own transformations of a provider's env (avr-app's provider form).
_URL = re.compile(r"^https?://", re.IGNORECASE)
_AUTO_LANGUAGE = frozenset({"", "auto", "null"})


def template_findings(
    template: ProviderTemplate, env: Mapping[str, Any], has_image: bool
) -> Iterator[Finding]:
    """A provider's env against its template's conditional needs and the dashboard's rewrites."""
    if template.tag is None and not has_image:
        yield (
            ("template",),
            f"template {template.name!r} pins no tag (no public source shows one for "
            f"{template.image}); set config.image to {template.image}:TAG with a tag you "
            "have checked, or :latest on purpose",
            False,
        )
    for need in template.needs:
        if any(env.get(key) == value for key, value in need.unless.items()):
            continue
        given = [keys for keys in need.any_of if all(key in env for key in keys)]
        if not given:
            choices = " or ".join(" + ".join(keys) for keys in need.any_of)
            unless = ", ".join(f"{key}={value}" for key, value in need.unless.items())
            yield (
                ("config", "env"),
                f"missing {choices}, needed by template {template.name!r}"
                + (f" unless {unless}" if unless else ""),
                False,
            )
        elif all(any(env[key] == "" for key in keys) for keys in given):
            for key in (key for key in given[0] if env[key] == ""):
                yield (
                    ("config", "env", key),
                    f"{key} is empty; template {template.name!r} needs a value",
                    True,
                )
    yield from _dashboard_rewrites(template, env)


def _dashboard_rewrites(template: ProviderTemplate, env: Mapping[str, Any]) -> Iterator[Finding]:
    for key, value in env.items():
        if not isinstance(value, str):
            continue
        if key.endswith("_INSTRUCTIONS") and _URL.match(value.strip()):
            prefix = key.removesuffix("_INSTRUCTIONS")
            if prefix.endswith(("_URL", "_FILE")):
                continue
            url_key = f"{prefix}_URL_INSTRUCTIONS"
            if url_key in template.known_keys:
                yield (
                    ("config", "env", key),
                    f"{key} holds a URL, which the image takes as the prompt's text; use "
                    f"{url_key}, from which it fetches the prompt (the dashboard moves a URL "
                    "there)",
                    True,
                )
        if key == "OPENAI_LANGUAGE" and value.strip().lower() in _AUTO_LANGUAGE:
            yield (
                ("config", "env", key),
                "OPENAI_LANGUAGE is empty, `auto` or `NULL`, which reaches the image as a "
                "language; the dashboard drops the key for automatic detection: leave it out",
                True,
            )


def core_findings(
    path: tuple[str, ...], env: Mapping[str, Any], reserved: frozenset[str]
) -> Iterator[Finding]:
    """Keys avr-core does not read (a typo, or a provider's key in the wrong place); the
    `reserved` keys, which avrgen sets, are the checker's to report."""
    for key in env:
        if key in CORE_KEYS or key in reserved or key.startswith((*CORE_PREFIXES, "PROVIDER_")):
            continue
        yield (
            (*path, key),
            f"{key} is not a key avr-core reads{suggest(key, CORE_KEYS)}",
            True,
        )
