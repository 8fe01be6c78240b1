"""ps, status and an `up` of agents in sync run the docker CLI directly: their modules do
not import python-on-whales (a quarter of a second of imports, issue 20); it is imported
where a client is used (compose, swarm, logs, removal)."""

from __future__ import annotations

import subprocess
import sys

HOT_PATH = (
    "avrgen.cli.main",
    "avrgen.app.lifecycle",
    "avrgen.app.status",
    "avrgen.app.insync",
    "avrgen.app.running",
    "avrgen.app.telephony",
    "avrgen.engine.compose",
    "avrgen.engine.drift",
)


def imported_after(modules: tuple[str, ...]) -> set[str]:
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint(*sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_listing_paths_do_not_import_python_on_whales() -> None:
    loaded = imported_after(HOT_PATH)
    assert set(HOT_PATH) <= loaded
    assert not {m for m in loaded if m.split(".")[0] == "python_on_whales"}


def test_the_client_imports_it_on_first_use() -> None:
    code = (
        "import sys\nfrom avrgen.engine.docker import Engine\nengine = Engine()\n"
        "print('python_on_whales' in sys.modules)\nengine.client\n"
        "print('python_on_whales' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_the_early_read_imports_no_models() -> None:
    """ps and status start reading the engine before they import avrgen's models (pydantic)
    and plan: app/reading.py must stay that light."""
    loaded = imported_after(("avrgen.app.reading",))
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "python_on_whales")}
    assert "avrgen.model.blueprint" not in loaded
