"""The write stage as a user meets it through `avrgen render`: only changed files are touched,
removed agents' generated files go (a user's own files stay), `--check` writes nothing and
names what is stale, `--agent NAME` renders one agent. Then, through write.changes()/apply():
new agent folders are written whole in a staging folder and renamed into place.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Avrgen

from avrgen.errors import WriteError
from avrgen.pipeline.write import SYNC_EACH_LIMIT, Target, apply, changes, generated_files

OLD = 1_000_000_000_000_000_000  # an mtime (ns) in 2001: any write moves a file past it


@pytest.fixture
def project(avrgen: Avrgen, bundled: Path) -> Path:
    """tmp_path with blueprints/ (a copy of the bundled ones) and a rendered output/."""
    root = bundled.parent
    result = avrgen("render", "-b", "blueprints", "-o", "output", cwd=root)
    assert result.exit_code == 0, result.stderr
    return root


def snapshot_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def age_everything(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(OLD, OLD))


def render(avrgen: Avrgen, root: Path, *args: str) -> str:
    result = avrgen("render", "-b", "blueprints", "-o", "output", *args, cwd=root)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def drop_agent(text: str, name: str) -> str:
    """The agents file without agent `name` (callers remove telephony.yaml first: its
    numbers name the bundled agents)."""
    docs = re.split(r"^---\n", text, flags=re.MULTILINE)
    kept = [d for d in docs if not re.search(rf"^name: {re.escape(name)}$", d, re.MULTILINE)]
    assert len(kept) == len(docs) - 1
    return "---\n".join(kept)


def test_a_second_render_touches_nothing(avrgen: Avrgen, project: Path) -> None:
    age_everything(project)
    before = snapshot_tree(project)
    stdout = render(avrgen, project)
    assert "wrote 0 new, 0 changed, removed 0 file(s) (nothing changed)" in stdout
    assert snapshot_tree(project) == before  # same bytes, same mtimes (the lock too)


def test_only_the_changed_agent_is_rewritten(avrgen: Avrgen, project: Path) -> None:
    age_everything(project)
    before = snapshot_tree(project)
    providers = project / "blueprints" / "providers.yaml"
    providers.write_text(providers.read_text().replace("OPENAI_VOICE: alloy", "OPENAI_VOICE: echo"))
    stdout = render(avrgen, project)
    assert "wrote 0 new, 1 changed, removed 0 file(s)" in stdout
    after = snapshot_tree(project)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert changed == {"output/bookings/sts.env", "blueprints/providers.yaml"}
    assert b'OPENAI_VOICE="echo"' in after["output/bookings/sts.env"][0]


def test_a_hand_edited_file_is_restored(avrgen: Avrgen, project: Path) -> None:
    target = project / "output" / "support-line" / "core.env"
    original = target.read_bytes()
    target.write_bytes(original + b"EXTRA=1\n")
    stdout = render(avrgen, project)
    assert "1 changed" in stdout
    assert target.read_bytes() == original


def test_a_removed_agent_loses_its_files_but_user_files_stay(avrgen: Avrgen, project: Path) -> None:
    output = project / "output"
    (output / "concierge" / "NOTES.md").write_text("my own notes\n")
    (output / "README.md").write_text("my own readme\n")
    (output / "billing" / "override.yml").write_text("services: {}\n")
    (output / "scratch").mkdir()
    (output / "scratch" / "x.env").write_text("A=1\n")
    generated = sorted(p.name for p in (output / "bookings").iterdir())

    (project / "blueprints" / "telephony.yaml").unlink()
    agents = project / "blueprints" / "agents.yaml"
    text = drop_agent(drop_agent(agents.read_text(), "concierge"), "bookings")
    agents.write_text(text)
    stdout = render(avrgen, project)
    removed = 3 + len(generated)
    assert f"removed {removed} file(s)" in stdout

    assert not (output / "bookings").exists()  # all its files were ours: the folder goes too
    assert sorted(p.name for p in (output / "concierge").iterdir()) == ["NOTES.md"]
    assert (output / "README.md").read_text() == "my own readme\n"
    assert (output / "billing" / "override.yml").is_file()
    assert (output / "scratch" / "x.env").read_text() == "A=1\n"


def test_check_writes_nothing_and_names_the_stale_files(avrgen: Avrgen, project: Path) -> None:
    agents = project / "blueprints" / "agents.yaml"
    agents.write_text(agents.read_text().replace("LOG_LEVEL: info}", "LOG_LEVEL: debug}", 1))
    (project / "output" / "concierge" / "core.env").unlink()
    agents.write_text(agents.read_text() + "---\nkind: agent\nname: newbie\nmode: sts\n"
                      "providers: {sts: Gemini Live Production}\n")  # fmt: skip
    age_everything(project)
    before = snapshot_tree(project)

    result = avrgen("render", "--check", "-b", "blueprints", "-o", "output", cwd=project)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert snapshot_tree(project) == before  # nothing written, not even the lock
    stale = result.stderr
    assert "output is stale" in stale
    assert "update: output/support-line/sts.env" in stale
    assert "create: output/concierge/core.env" in stale
    assert "create: output/newbie/docker-compose.yml" in stale
    assert "update: blueprints/avrgen.lock" in stale
    assert "output/billing" not in stale  # fresh files are not listed


def test_check_passes_after_a_render(avrgen: Avrgen, project: Path) -> None:
    age_everything(project)
    before = snapshot_tree(project)
    result = avrgen("render", "--check", "-b", "blueprints", "-o", "output", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert snapshot_tree(project) == before


def test_check_on_a_missing_output_folder(avrgen: Avrgen, bundled: Path) -> None:
    root = bundled.parent
    result = avrgen("render", "--check", "-b", "blueprints", "-o", "output", cwd=root)
    assert result.exit_code == 1
    assert "create: output/billing/docker-compose.yml" in result.stderr
    assert not (root / "output").exists()


def test_agent_option_renders_only_that_agent(avrgen: Avrgen, bundled: Path) -> None:
    root = bundled.parent
    stdout = render(avrgen, root, "--agent", "support-line")
    # and the telephony stack, whose dialplan has every agent's ports
    assert sorted(p.name for p in (root / "output").iterdir()) == ["_telephony", "support-line"]
    assert "avr-core-support-line" in stdout
    assert "avr-core-billing" not in stdout  # the summary shows the chosen agent only
    files = sorted(p.name for p in (root / "output" / "support-line").iterdir())
    assert files == ["core.env", "docker-compose.yml", "sts.env"]


def test_agent_option_leaves_other_agents_alone(avrgen: Avrgen, project: Path) -> None:
    output = project / "output"
    (output / "billing" / "core.env").write_text("# Generated by avrgen\nSTALE=1\n")
    (project / "blueprints" / "telephony.yaml").unlink()
    agents = project / "blueprints" / "agents.yaml"
    agents.write_text(drop_agent(agents.read_text(), "concierge"))
    age_everything(project)
    before = snapshot_tree(output)
    render(avrgen, project, "--agent", "bookings")
    after = snapshot_tree(output)
    # no other agent rewritten or pruned (the telephony stack lost its numbers: rendered)
    assert {k: v for k, v in after.items() if "_telephony/" not in k} == {
        k: v for k, v in before.items() if "_telephony/" not in k
    }


# -- a first render: new agent folders are written whole and renamed into place -------------

GENERATED = b"# Generated by avrgen\n"
STAGING = ".front-desk.0123456789abcdef.tmp"  # what a render killed between its phases leaves


def agent_files(agents: int, size: int = 40) -> dict[str, bytes]:
    """What a render of `agents` new agents writes: env files and a compose file each."""
    files = {}
    for i in range(agents):
        for name in ("core.env", "sts.env", "docker-compose.yml"):
            files[f"agent-{i}/{name}"] = GENERATED + f"{i} {name}\n".encode() * (size // 8)
    return files


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder under `root`, hidden ones too: bytes (b"" for folders), mode."""
    return {
        p.relative_to(root).as_posix(): (
            b"" if p.is_dir() else p.read_bytes(),
            stat.S_IMODE(p.lstat().st_mode),
        )
        for p in sorted(root.rglob("*"))
    }


@contextmanager
def umask(mask: int) -> Iterator[None]:
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.parametrize("mask", [0o077, 0o000, 0o022])
@pytest.mark.parametrize("agents", [1, 8], ids=["fsync-each", "one-sync"])
def test_a_first_render_creates_exactly_the_files_with_exact_modes(
    tmp_path: Path, mask: int, agents: int
) -> None:
    files = agent_files(agents)
    assert (len(files) <= SYNC_EACH_LIMIT) == (agents == 1)
    out = tmp_path / "out"
    with umask(mask):
        target = Target(out, files)
        planned = changes(target)
        assert {c.action for c in planned} == {"create"} and len(planned) == len(files)
        apply(target, planned)
    expected = {
        rel: (data, 0o600 if rel.endswith(".env") else 0o644) for rel, data in files.items()
    }
    folders = {f"agent-{i}": (b"", 0o777 & ~mask) for i in range(agents)}  # as mkdir makes them
    assert tree(out) == {**expected, **folders}  # and nothing else: no temporary folder
    assert changes(Target(out, files)) == []


def test_new_folders_beside_existing_ones(tmp_path: Path) -> None:
    """Existing agents keep their files (mtimes too); new ones are added, a changed one
    is rewritten in place."""
    out = tmp_path / "out"
    old = agent_files(3)
    target = Target(out, old)
    apply(target, changes(target))
    age_everything(out)
    before = snapshot_tree(out)
    new = {**agent_files(6), "agent-0/core.env": GENERATED + b"CHANGED=1\n"}
    target = Target(out, new)
    planned = changes(target)
    assert sorted(c.path for c in planned if c.action == "update") == [f"{out}/agent-0/core.env"]
    apply(target, planned)
    after = snapshot_tree(out)
    assert {rel for rel in after if after[rel] != before.get(rel)} == {
        "agent-0/core.env",
        *(rel for rel in new if not rel.startswith(("agent-0/", "agent-1/", "agent-2/"))),
    }
    assert {rel: data for rel, (data, _) in after.items()} == new


def test_a_file_in_the_way_of_a_new_folder_changes_nothing(tmp_path: Path) -> None:
    """Phase one fails (a file where `agent-5/` goes, planted after changes()): the folders
    already written whole are removed, no temporary folder or file stays."""
    out = tmp_path / "out"
    out.mkdir()
    target = Target(out, agent_files(8))
    planned = changes(target)
    (out / "agent-5").write_bytes(b"in the way\n")
    with pytest.raises(WriteError, match=r"agent-5.*; nothing was changed"):
        apply(target, planned)
    assert tree(out) == {"agent-5": (b"in the way\n", 0o644)}


def test_a_symlink_planted_at_a_new_folder_is_not_followed(tmp_path: Path) -> None:
    """A link made between changes() and apply() where a new agent folder goes: refused,
    nothing written (through it or anywhere else)."""
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = Target(out, agent_files(8))
    planned = changes(target)
    (out / "agent-5").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="agent-5: refusing to write through a symlink"):
        apply(target, planned)
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["agent-5"]


def test_a_folder_made_meanwhile_is_written_file_by_file(tmp_path: Path) -> None:
    """An (empty) agent folder made between changes() and apply() gets the per-file path:
    the user's file in it stays."""
    out = tmp_path / "out"
    target = Target(out, agent_files(8))
    planned = changes(target)
    (out / "agent-5").mkdir(parents=True)
    (out / "agent-5" / "notes.txt").write_text("mine\n")
    apply(target, planned)
    assert sorted(p.name for p in (out / "agent-5").iterdir()) == [
        "core.env",
        "docker-compose.yml",
        "notes.txt",
        "sts.env",
    ]
    assert {rel: data for rel, (data, _) in snapshot_tree(out).items()} == {
        **agent_files(8),
        "agent-5/notes.txt": b"mine\n",
    }


def test_a_killed_renders_staging_folder_is_removed_never_an_agent(
    avrgen: Avrgen, project: Path
) -> None:
    """Left by a render killed between its phases: `--check` and the prune do not take it
    for an agent (nothing stale, nothing to remove), the next render removes it; folders
    that only look alike, and links, stay."""
    output = project / "output"
    stale = output / STAGING
    shutil.copytree(output / "billing", stale)
    gone = output / ".gone-agent.fedcba9876543210.tmp"  # of an agent no longer in the blueprints
    gone.mkdir()
    (gone / "core.env").write_bytes(GENERATED + b"half")
    lookalikes = [output / ".notes.tmp", output / ".x.0123.tmp"]
    for folder in lookalikes:
        folder.mkdir()
        (folder / "core.env").write_bytes(b"mine")  # a user's (no header: never pruned)
    victim = project / "victim"
    victim.mkdir()
    (victim / "core.env").write_bytes(GENERATED + b"keep")
    (output / ".billing.00000000aaaaaaaa.tmp").symlink_to(victim)
    assert not {rel for rel in generated_files(output) if rel.startswith((STAGING, ".gone"))}

    assert (
        avrgen("render", "--check", "-b", "blueprints", "-o", "output", cwd=project).exit_code == 0
    )
    stdout = render(avrgen, project)
    assert "removed 0 file(s)" in stdout
    assert not stale.exists() and not gone.exists()
    assert all((folder / "core.env").read_bytes() == b"mine" for folder in lookalikes)
    assert (victim / "core.env").read_bytes() == GENERATED + b"keep"
    assert (output / ".billing.00000000aaaaaaaa.tmp").is_symlink()


def test_a_killed_first_render_leaves_nothing_the_next_one_keeps(tmp_path: Path) -> None:
    """Killed in phase one of a first render: only staging folders exist; the next render
    writes the agents and removes them."""
    out = tmp_path / "out"
    out.mkdir()
    files = agent_files(2)
    for i in range(2):
        half = out / f".agent-{i}.0123456789abcdef.tmp"
        half.mkdir()
        (half / "core.env").write_bytes(GENERATED + b"half")
    target = Target(out, files)
    planned = changes(target)
    assert sorted(c.action for c in planned) == ["create"] * len(files)
    apply(target, planned)
    assert {rel: data for rel, (data, _) in snapshot_tree(out).items()} == files
    assert sorted(p.name for p in out.iterdir()) == ["agent-0", "agent-1"]


def test_a_full_disk_during_a_first_render_leaves_nothing(tmpfs: Path) -> None:
    out = tmpfs / "out"
    out.mkdir()
    files = agent_files(60, size=4096)  # about 720 KiB: more than the 512 KiB there are
    target = Target(out, files)
    with pytest.raises(WriteError, match="No space left on device; nothing was changed"):
        apply(target, changes(target))
    assert list(out.iterdir()) == []
    target = Target(out, agent_files(4, size=4096))  # room for these
    apply(target, changes(target))
    assert sorted(p.name for p in out.iterdir()) == [f"agent-{i}" for i in range(4)]


def test_a_read_only_output_folder_fails_before_a_first_render(tmpfs: Path) -> None:
    out = tmpfs / "out"
    out.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    target = Target(out, agent_files(8))
    with pytest.raises(WriteError, match="Read-only file system; nothing was changed"):
        apply(target, changes(target))
    assert list(out.iterdir()) == []
