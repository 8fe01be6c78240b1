"""The render cache (avrgen/pipeline/cache/): a hit writes nothing and prints exactly what the full
pipeline prints; any change of input misses; a hand-edited, deleted or extra output file is
found (render --check fails, render repairs it); a corrupt cache is ignored.

Whether the pipeline ran is observed with a spy on the validate stage (it calls through).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import avrgen.pipeline.validate
from avrgen.app.project import Paths, Project
from avrgen.app.render import render as render_project
from avrgen.fs.package import BUNDLED_CATALOG, default_templates
from avrgen.model.document import Document
from avrgen.pipeline import cache, render, yaml_reader
from tests.conftest import REPO, Avrgen, CliResult

WARNING_FIXTURE = REPO / "tests" / "fixtures" / "invalid" / "literal-secret-warning"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per time the validate stage ran (the full pipeline)."""
    calls: list[int] = []
    real = avrgen.pipeline.validate.validate

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(avrgen.pipeline.validate, "validate", spy)
    return calls


@pytest.fixture
def project(tmp_path: Path, bundled: Path, cache_home: Path) -> Path:
    """tmp_path with blueprints/ (the bundled set and its lock); output/ not yet rendered."""
    return tmp_path


def state(folder: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every file with its inode, mtime, mode and bytes."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            found[path.relative_to(folder).as_posix()] = (
                st.st_ino,
                st.st_mtime_ns,
                st.st_mode,
                path.read_bytes(),
            )
    return found


def output_entries(cache_home: Path) -> list[Path]:
    """The cache files of output folders (not the `docs-` files of blueprint folders)."""
    found = (cache_home / "avrgen").glob("*.json")
    return [p for p in found if not p.name.startswith("docs-")]


def render_cli(avrgen: Avrgen, project: Path, *extra: str) -> CliResult:
    return avrgen("render", "-b", "blueprints", "-o", "output", *extra, cwd=project)


def test_hit_writes_nothing_and_prints_the_same(
    avrgen: Avrgen, project: Path, cache_home: Path, runs: list[int]
) -> None:
    first = render_cli(avrgen, project)
    assert first.exit_code == 0, first.stderr
    assert len(runs) == 1
    assert len(output_entries(cache_home)) == 1
    # the cache's own entry aside (a hit records there the stats it had to read and hash)
    before = {name: state(project / name) for name in ("blueprints", "output")}
    for extra in ((), ("--json",), ("--check",), ("--check", "--json")):
        full = render_cli(avrgen, project, "--no-cache", *extra)
        calls = len(runs)
        hit = render_cli(avrgen, project, *extra)
        assert len(runs) == calls, f"{extra}: the pipeline ran"
        assert (hit.exit_code, hit.stdout, hit.stderr) == (0, full.stdout, full.stderr)
    assert "(nothing changed)" in render_cli(avrgen, project).stdout
    # not a byte, mode, inode or mtime changed
    assert {name: state(project / name) for name in ("blueprints", "output")} == before


def test_warnings_are_printed_on_a_hit(
    avrgen: Avrgen, tmp_path: Path, cache_home: Path, runs: list[int]
) -> None:
    shutil.copytree(WARNING_FIXTURE, tmp_path / "blueprints")
    first = render_cli(avrgen, tmp_path)
    assert first.exit_code == 0, first.stderr
    assert "warning: OPENAI_API_KEY looks like a secret" in first.stderr
    # the first render wrote the lock: its inputs changed, so it stored nothing; this one does
    assert render_cli(avrgen, tmp_path).exit_code == 0
    for extra in ((), ("--json",)):
        full = render_cli(avrgen, tmp_path, "--no-cache", *extra)
        calls = len(runs)
        hit = render_cli(avrgen, tmp_path, *extra)
        assert len(runs) == calls
        assert (hit.exit_code, hit.stdout, hit.stderr) == (0, full.stdout, full.stderr)


def _append(path: Path, data: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(data)


def _templates(project: Path) -> Path:
    folder = project / "templates"
    if not folder.exists():
        shutil.copytree(render.default_templates(), folder)
    return folder


def _catalog(project: Path) -> Path:
    folder = project / "catalog"
    if not folder.exists():
        folder.mkdir()
        shutil.copy(BUNDLED_CATALOG / "llm-openai.yaml", folder)
    return folder


def _settings_catalog(project: Path) -> Path:
    folder = project / "provider-templates"
    if not folder.exists():
        folder.mkdir()
        shutil.copy(BUNDLED_CATALOG / "llm-openai.yaml", folder)
        _append(project / "blueprints" / "settings.yaml", "catalog: ../provider-templates\n")
    return folder


# Each change leaves the output bytes as they were: only the key can tell the render apart.
CHANGES: dict[str, tuple[tuple[str, ...], Callable[[Path], None]]] = {
    "blueprint byte": ((), lambda p: _append(p / "blueprints" / "agents.yaml", "# edit\n")),
    "new blueprint file": ((), lambda p: (p / "blueprints" / "empty.yaml").write_text("")),
    "lock bytes": (
        (),
        lambda p: (p / "blueprints" / "avrgen.lock").write_text(
            (p / "blueprints" / "avrgen.lock").read_text(encoding="utf-8") + "\n"
        ),
    ),
    "template file": (
        ("--templates", "templates"),
        lambda p: _append(_templates(p) / "service.env.j2", "{# a comment #}"),
    ),
    "template folder gains a file": (
        ("--templates", "templates"),
        lambda p: (_templates(p) / "unused.j2").write_text("x"),
    ),
    "--catalog file": (
        ("--catalog", "catalog"),
        lambda p: _append(_catalog(p) / "llm-openai.yaml", "# edit\n"),
    ),
    "settings catalog file": (
        (),
        lambda p: _append(_settings_catalog(p) / "llm-openai.yaml", "# edit\n"),
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_input_change_misses(
    avrgen: Avrgen, project: Path, runs: list[int], change: str
) -> None:
    options, edit = CHANGES[change]
    _templates(project)
    _catalog(project)
    if change == "settings catalog file":
        _settings_catalog(project)
    assert render_cli(avrgen, project, *options).exit_code == 0
    calls = len(runs)
    assert render_cli(avrgen, project, *options).exit_code == 0
    assert len(runs) == calls, "the second render should be a hit"
    edit(project)
    result = render_cli(avrgen, project, *options)
    assert result.exit_code == 0, result.stderr
    assert len(runs) == calls + 1, f"{change}: the render after it was a hit"


def test_an_option_change_misses(avrgen: Avrgen, project: Path, runs: list[int]) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    calls = len(runs)
    assert render_cli(avrgen, project, "--target", "compose").exit_code == 0
    assert len(runs) == calls + 1
    # the same folder under another name: what is printed names it, so it is another key
    os.symlink("output", project / "out-link")
    result = avrgen("render", "-b", "blueprints", "-o", "out-link", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert len(runs) == calls + 2


def test_an_agent_subset_never_uses_the_cache(
    avrgen: Avrgen, project: Path, runs: list[int]
) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    calls = len(runs)
    assert render_cli(avrgen, project, "--agent", "billing").exit_code == 0
    assert len(runs) == calls + 1


@pytest.mark.parametrize(
    "how", ["edited", "deleted", "extra generated file", "extra asterisk file", "leftover temp"]
)
def test_a_changed_output_is_detected_and_repaired(
    avrgen: Avrgen, project: Path, runs: list[int], how: str
) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    assert render_cli(avrgen, project).exit_code == 0  # the entry is there and valid
    good = state(project / "output")
    target = project / "output" / "billing" / "docker-compose.yml"
    if how == "edited":
        target.write_bytes(target.read_bytes().replace(b"image:", b"image: ", 1))
    elif how == "deleted":
        target.unlink()
    elif how == "extra generated file":
        (project / "output" / "gone").mkdir()
        shutil.copy(target, project / "output" / "gone" / "docker-compose.yml")
    elif how == "extra asterisk file":  # one render no longer writes, with Asterisk's mark
        (project / "output" / "_telephony" / "old.conf").write_bytes(b"; Generated by avrgen\n")
    else:
        (target.parent / ".docker-compose.yml.abc123.tmp").write_bytes(b"half")
    calls = len(runs)
    check = render_cli(avrgen, project, "--check")
    if how == "leftover temp":  # not stale: the full pipeline ran and found nothing to do
        assert check.exit_code == 0, check.stderr
    else:
        assert check.exit_code == 1, check.stdout
        assert "stale" in check.stderr
    assert len(runs) == calls + 1
    repaired = render_cli(avrgen, project)
    assert repaired.exit_code == 0, repaired.stderr
    assert len(runs) == calls + 2
    now = state(project / "output")
    assert {k: v[3] for k, v in now.items()} == {k: v[3] for k, v in good.items()}
    assert not (project / "output" / "gone").exists()


def test_a_loosened_env_file_is_repaired(avrgen: Avrgen, project: Path, runs: list[int]) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    env_file = project / "output" / "billing" / "core.env"
    env_file.chmod(0o644)
    calls = len(runs)
    assert render_cli(avrgen, project).exit_code == 0
    assert len(runs) == calls + 1
    assert env_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"format": 1, "key": 5}', b"\xff\x00"])
def test_a_corrupt_cache_file_is_ignored(
    avrgen: Avrgen, project: Path, cache_home: Path, runs: list[int], garbage: bytes
) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    (entry,) = output_entries(cache_home)
    entry.write_bytes(garbage)
    full = render_cli(avrgen, project, "--no-cache")
    calls = len(runs)
    result = render_cli(avrgen, project)
    assert (result.exit_code, result.stdout, result.stderr) == (0, full.stdout, full.stderr)
    assert len(runs) == calls + 1
    assert render_cli(avrgen, project).exit_code == 0  # stored again: a hit
    assert len(runs) == calls + 1


def test_a_tampered_entry_with_the_right_key_is_still_verified(
    avrgen: Avrgen, project: Path, cache_home: Path, runs: list[int]
) -> None:
    """An entry whose hashes do not match the files (e.g. written by another avrgen for
    other outputs) is not trusted: the files themselves are compared."""
    assert render_cli(avrgen, project).exit_code == 0
    (entry,) = output_entries(cache_home)
    text = entry.read_text(encoding="utf-8")
    entry.write_text(text.replace('"billing/core.env":"', '"billing/core.env":"0'))
    calls = len(runs)
    assert render_cli(avrgen, project).exit_code == 0
    assert len(runs) == calls + 1


def test_an_unusable_cache_folder_is_not_an_error(
    avrgen: Avrgen, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for _ in range(2):
        result = render_cli(avrgen, project)
        assert result.exit_code == 0, result.stderr


def test_disabled_by_environment_and_option(
    project: Path, runs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = Paths(project / "blueprints", project / "output")
    render_project(Project(paths), use_cache=True)
    render_project(Project(paths), use_cache=True)
    assert len(runs) == 1  # the second: a hit
    monkeypatch.setenv("AVRGEN_NO_CACHE", "1")
    render_project(Project(paths), use_cache=True)
    assert len(runs) == 2
    monkeypatch.delenv("AVRGEN_NO_CACHE")
    render_project(Project(paths))  # the default for core calls (up, deploy): no cache
    assert len(runs) == 3
    assert render_project(Project(paths), use_cache=True).changes == []
    assert len(runs) == 3


def test_nothing_is_written_into_the_output_folder(avrgen: Avrgen, project: Path) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    assert render_cli(avrgen, project).exit_code == 0
    names = {p.name for p in (project / "output").rglob("*")}
    assert not any(name.endswith(".json") for name in names)


def test_no_templates_folder_means_the_bundled_one(project: Path) -> None:
    """The key without --templates is the key of the renderer's default templates."""
    args = (project / "blueprints", project / "output")
    assert cache.key(*args, None, (), {}) == cache.key(*args, default_templates(), (), {})
    assert cache.key(*args, None, (), {}) is not None


# -- the output check by stat (as git's index): what it trusts, what it still reads -----------

_OPENED: list[tuple[str, Path]] | None = None  # while a list: every file opened, folder listed


def _audit(event: str, args: tuple[object, ...]) -> None:
    listed = event in ("open", "os.scandir", "os.listdir")
    if listed and _OPENED is not None and isinstance(args[0], str | bytes | Path):
        _OPENED.append((event, Path(os.path.abspath(os.fsdecode(args[0])))))


sys.addaudithook(_audit)  # Python's audit events: open(), os.open(), os.scandir() among them


def opened_outputs(avrgen: Avrgen, project: Path, *extra: str) -> tuple[CliResult, list[str]]:
    """A render, and the files under output/ it opened and the folders it listed (by name;
    not the output folder's own handle, which holds the render's lock: fs/mutex.py)."""
    global _OPENED
    _OPENED = []
    output = project.absolute() / "output"
    try:
        result = render_cli(avrgen, project, *extra)
        found = [
            f"{path.name}" if event == "open" else f"{event} {path.name}"
            for event, path in _OPENED
            if path.is_relative_to(output) and (event, path) != ("open", output)
        ]
    finally:
        _OPENED = None
    return result, found


def settle(folder: Path) -> None:
    """Wait until the clock files are stamped by has left the newest stamp below `folder`
    (milliseconds here): until then a lookup may not trust any of their stats."""
    stamps = [max(p.stat().st_ctime_ns, p.stat().st_mtime_ns) for p in folder.rglob("*")]
    while cache.clock() <= max(stamps):
        time.sleep(0.001)


def fast(avrgen: Avrgen, project: Path) -> None:
    """Rendered, with an entry whose every stat is settled (the state of a later hit)."""
    for _ in range(2):  # the first writes the lock (no entry), the second stores
        assert render_cli(avrgen, project).exit_code == 0
    settle(project / "output")
    assert render_cli(avrgen, project).exit_code == 0  # records what it had to read


def test_a_hit_with_settled_stats_reads_no_output_file(
    avrgen: Avrgen, project: Path, runs: list[int]
) -> None:
    fast(avrgen, project)
    calls = len(runs)
    full = render_cli(avrgen, project, "--no-cache")
    for extra in ((), ("--json",), ("--check",)):
        hit, opened = opened_outputs(avrgen, project, *extra)
        assert hit.exit_code == 0, hit.stderr
        assert opened == []
    assert (hit.stdout, hit.stderr) == (
        render_cli(avrgen, project, "--no-cache", "--check").stdout,
        "",
    )
    assert render_cli(avrgen, project).stdout == full.stdout
    assert len(runs) == calls + 2  # the two --no-cache renders only


def test_a_file_rewritten_with_its_bytes_is_read_then_trusted_again(
    avrgen: Avrgen, project: Path, runs: list[int]
) -> None:
    """Its stat changed: it is read and hashed (still a hit); once its new stat is settled
    the entry records it, and the next hit reads nothing."""
    fast(avrgen, project)
    target = project / "output" / "billing" / "core.env"
    target.write_bytes(target.read_bytes())  # same bytes, new mtime and ctime
    calls = len(runs)
    settle(project / "output")
    hit, opened = opened_outputs(avrgen, project)
    assert hit.exit_code == 0
    assert opened == ["core.env"]
    hit, opened = opened_outputs(avrgen, project)
    assert (hit.exit_code, opened) == (0, [])
    assert len(runs) == calls


def test_an_entry_stored_without_the_table_gets_it_on_the_first_hit(
    avrgen: Avrgen, project: Path, runs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` renders through the cache without the CLI's table: the next `render` prints the
    table made from the stored views, the same bytes, and keeps it for the hits after."""
    with monkeypatch.context() as patch:
        patch.chdir(project)  # the paths as the CLI gives them (they are in the key)
        render_project(Project(Paths(Path("blueprints"), Path("output"))), use_cache=True)
    paths = Paths(project / "blueprints", project / "output")
    calls = len(runs)
    full = render_cli(avrgen, project, "--no-cache")
    entry = store_module().read_entry(paths.output)
    assert entry is not None and entry.section(store_module().SUMMARY) is None
    assert render_cli(avrgen, project).stdout == full.stdout
    entry = store_module().read_entry(paths.output)
    assert entry is not None
    table = entry.section(store_module().SUMMARY)
    assert isinstance(table, str) and table in full.stdout
    assert render_cli(avrgen, project).stdout == full.stdout
    assert len(runs) == calls + 1  # the --no-cache render only


def store_module() -> Any:
    return sys.modules["avrgen.pipeline.cache.store"]  # the name `store` is the function


def _edit_in_place(target: Path) -> None:
    """One byte changed in place, the size kept and the mtime (and atime) set back: all that
    a user can restore. The ctime cannot be set: the kernel stamps it with the time of the
    change."""
    before = target.stat()
    data = target.read_bytes()
    index = data.index(b"image:")
    with target.open("r+b") as handle:
        handle.seek(index)
        handle.write(b"Image:")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def _replace(target: Path) -> None:
    """Replaced by another file of the same size and mtime (a new inode)."""
    before = target.stat()
    other = target.with_name("other")
    other.write_bytes(target.read_bytes().replace(b"image:", b"Image:", 1))
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    other.chmod(before.st_mode & 0o777)
    other.replace(target)


@pytest.mark.parametrize(
    "how",
    [
        "edited in place",
        "replaced",
        "removed",
        "extra generated",
        "extra in an agent folder",
        "leftover temp",
    ],
)
def test_a_change_behind_settled_stats_is_caught(
    avrgen: Avrgen, project: Path, runs: list[int], how: str
) -> None:
    fast(avrgen, project)
    good = state(project / "output")
    target = project / "output" / "billing" / "docker-compose.yml"
    if how == "edited in place":
        _edit_in_place(target)
    elif how == "replaced":
        _replace(target)
    elif how == "removed":
        target.unlink()
    elif how == "extra generated":
        (project / "output" / "gone").mkdir()
        shutil.copy(target, project / "output" / "gone" / "docker-compose.yml")
    elif how == "extra in an agent folder":  # the folder's stat changes, not the output's
        shutil.copy(target, target.with_name("old.yml"))
    else:
        (target.parent / ".docker-compose.yml.abc123.tmp").write_bytes(b"half")
    calls = len(runs)
    check = render_cli(avrgen, project, "--check")
    assert len(runs) == calls + 1  # the full pipeline ran
    if how == "leftover temp":  # not stale: the full pipeline found nothing to do
        assert check.exit_code == 0, check.stderr
    else:
        assert check.exit_code == 1, check.stdout
        assert ".yml" in check.stderr
    assert render_cli(avrgen, project).exit_code == 0
    assert {k: v[3] for k, v in state(project / "output").items()} == {
        k: v[3] for k, v in good.items()
    }


def _stat(mtime_ns: int, ctime_ns: int) -> os.stat_result:
    # mode, ino, dev, nlink, uid, gid, size, 3 x float times, then the ns times
    return os.stat_result(
        (0o100644, 1, 1, 1, 0, 0, 5, 0, 0, 0, 0.0, 0.0, 0.0, 0, mtime_ns, ctime_ns)
    )


@pytest.mark.parametrize(
    ("mtime", "ctime", "since", "trusted"),
    [
        (1_000_000_123, 1_000_000_456, 1_000_000_457, True),  # ns stamps, both before
        (1_000_000_123, 1_000_000_456, 1_000_000_456, False),  # ctime in the same ns: racy
        (1_000_000_123, 1_000_000_999, 1_000_000_456, False),  # changed after `since`
        (5_000_000_000, 1_000_000_123, 1_000_000_456, False),  # an mtime set in the future
        (4_000_000_000, 4_000_000_000, 5_999_999_999, False),  # whole seconds: 2 s granules
        (4_000_000_000, 4_000_000_000, 6_000_000_000, True),
        (1_230_000_000, 1_230_000_000, 1_235_000_000, False),  # 10 ms stamps: 10 ms granules
        (1_230_000_000, 1_230_000_000, 1_240_000_000, True),
    ],
)
def test_settled_needs_both_stamps_a_granule_before(
    mtime: int, ctime: int, since: int, trusted: bool
) -> None:
    assert cache.settled(_stat(mtime, ctime), since) is trusted


# -- per agent and per blueprint file (a render that runs the pipeline) -----------------------


@pytest.fixture
def rendered_agents(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The agents the renderer ran its templates for (a spy: it calls through)."""
    names: list[str] = []
    real = render.Renderer.render_agent

    def spy(self: render.Renderer, agent: object, network: object) -> dict[str, bytes]:
        names.append(agent.name)  # type: ignore[attr-defined]
        return real(self, agent, network)  # type: ignore[arg-type]

    monkeypatch.setattr(render.Renderer, "render_agent", spy)
    return names


def _edit_billing(project: Path, text: str) -> None:
    agents = project / "blueprints" / "agents.yaml"
    source = agents.read_text(encoding="utf-8")
    old = "Billing desk: how can I help?"
    assert source.count(old) == 1
    agents.write_text(source.replace(old, f"Billing desk ({text})"), encoding="utf-8")


def test_one_agent_changed_renders_only_it_and_the_same_bytes(
    avrgen: Avrgen, project: Path, tmp_path: Path, rendered_agents: list[str]
) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    assert len(rendered_agents) == 5
    _edit_billing(project, "one")
    rendered_agents.clear()
    result = render_cli(avrgen, project)
    assert result.exit_code == 0, result.stderr
    assert rendered_agents == ["billing"]
    assert "wrote 0 new, 1 changed" in result.stdout
    # the same bytes as a render without any cache, into a fresh folder
    fresh = avrgen("render", "--no-cache", "-b", "blueprints", "-o", "fresh", cwd=project)
    assert fresh.exit_code == 0, fresh.stderr
    ours = {k: v[3] for k, v in state(project / "output").items()}
    assert ours == {k: v[3] for k, v in state(project / "fresh").items()}


def test_a_hand_edited_file_of_an_unchanged_agent_is_rendered_again(
    avrgen: Avrgen, project: Path, rendered_agents: list[str]
) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    good = (project / "output" / "bookings" / "docker-compose.yml").read_bytes()
    (project / "output" / "bookings" / "docker-compose.yml").write_bytes(good + b"# edit\n")
    _edit_billing(project, "two")
    rendered_agents.clear()
    result = render_cli(avrgen, project)
    assert result.exit_code == 0, result.stderr
    assert sorted(rendered_agents) == ["billing", "bookings"]
    assert (project / "output" / "bookings" / "docker-compose.yml").read_bytes() == good


def test_a_template_change_renders_every_agent(
    avrgen: Avrgen, project: Path, rendered_agents: list[str]
) -> None:
    options = ("--templates", "templates")
    folder = _templates(project)
    assert render_cli(avrgen, project, *options).exit_code == 0
    _append(folder / "service.env.j2", "# {{ container.role }}\n")
    rendered_agents.clear()
    result = render_cli(avrgen, project, *options)
    assert result.exit_code == 0, result.stderr
    assert len(rendered_agents) == 5
    assert "# core" in (project / "output" / "billing" / "core.env").read_text()


def test_parsed_documents_are_reused_with_their_lines(
    avrgen: Avrgen, project: Path, cache_home: Path
) -> None:
    """An unchanged file's documents come from the cache, an edited one is parsed again;
    the error of a later edit names the same line with and without the cache."""
    assert render_cli(avrgen, project).exit_code == 0
    assert list((cache_home / "avrgen").glob("docs-*.json"))
    providers = project / "blueprints" / "providers.yaml"
    text = providers.read_text(encoding="utf-8")
    providers.write_text(text.replace("type: ", "type: NOPE", 1), encoding="utf-8")
    for extra in ((), ("--no-cache",)):
        result = render_cli(avrgen, project, *extra)
        assert result.exit_code == 1
        expected = result.stderr if not extra else expected  # noqa: F821
    assert result.stderr == expected
    _append(project / "blueprints" / "agents.yaml", "---\nkind: agent\nname: [x\n")
    first = render_cli(avrgen, project)
    second = render_cli(avrgen, project, "--no-cache")
    assert first.exit_code == second.exit_code == 1
    assert first.stderr == second.stderr


def test_a_corrupt_documents_cache_is_ignored(
    avrgen: Avrgen, project: Path, cache_home: Path, runs: list[int]
) -> None:
    assert render_cli(avrgen, project).exit_code == 0
    (docs,) = (cache_home / "avrgen").glob("docs-*.json")
    good = render_cli(avrgen, project, "--no-cache").stdout
    for garbage in (b"{", b'{"format": 1, "code": "x", "files": []}', b"\x00"):
        docs.write_bytes(garbage)
        _append(project / "blueprints" / "agents.yaml", "# edit\n")  # a miss: the pipeline runs
        result = render_cli(avrgen, project)
        assert (result.exit_code, result.stdout) == (0, good)


def test_agent_keys_tell_every_field_apart(project: Path) -> None:
    """A literal value and a {secret: ...} of the same text, or any one field changed, give
    other bytes; the same plan built twice gives the same bytes."""
    from dataclasses import replace

    from avrgen.model.blueprint import Secret

    paths = Paths(project / "blueprints", project / "output")
    agent = Project(paths).plan()[0].agents["billing"]
    again = Project(paths).plan()[0].agents["billing"]
    assert cache.agent_bytes(agent) == cache.agent_bytes(again)
    core = agent.containers[-1]
    secret = next(k for k, v in core.env if isinstance(v, Secret))
    name = dict(core.env)[secret].secret  # type: ignore[union-attr]
    literal = tuple((k, name if k == secret else v) for k, v in core.env)
    variants = [
        replace(agent, containers=(*agent.containers[:-1], replace(core, env=literal))),
        replace(agent, containers=(*agent.containers[:-1], replace(core, port=core.port + 1))),
        replace(agent, containers=(*agent.containers[:-1], replace(core, labels=()))),
        replace(agent, tenant="other"),
        replace(agent, constraints=("node.hostname == x",)),
    ]
    found = {cache.agent_bytes(v) for v in variants} | {cache.agent_bytes(agent)}
    assert len(found) == len(variants) + 1


def test_validate_parses_only_the_files_that_changed(
    project: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate reads and leaves the parsed documents as render does (the same problems
    either way: test_parsed_documents_are_reused_with_their_lines); AVRGEN_NO_CACHE: no
    cache is read or written."""
    blueprints = project / "blueprints"
    parsed: list[str] = []
    real = yaml_reader.parse_documents

    def spy(text: str, name: str) -> list[Document]:
        if Path(name).parent == blueprints:  # not the catalog's templates
            parsed.append(Path(name).name)
        return real(text, name)

    monkeypatch.setattr(yaml_reader, "parse_documents", spy)
    paths = Paths(blueprints, project / "output")
    Project(paths).validate()
    assert sorted(parsed) == sorted(p.name for p in blueprints.glob("*.yaml"))
    parsed.clear()
    _append(blueprints / "agents.yaml", "# edit\n")
    result = Project(paths).validate()
    assert parsed == ["agents.yaml"]
    monkeypatch.setenv("AVRGEN_NO_CACHE", "1")
    shutil.rmtree(cache_home)
    assert Project(paths).validate().blueprint == result.blueprint
    assert not cache_home.exists()
