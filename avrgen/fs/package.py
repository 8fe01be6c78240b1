"""Where the installed package keeps what it ships: its code, templates and catalog."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
BUNDLED_CATALOG = PACKAGE / "catalog"


def default_templates() -> Path:
    """The templates shipped with avrgen: inside the package when installed, else the repo's."""
    packaged = PACKAGE / "templates"
    return packaged if packaged.is_dir() else PACKAGE.parent / "templates"
