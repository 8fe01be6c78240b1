"""The write stage as a user meets it through `avrgen render`: only changed files are touched,
removed agents' generated files go (a user's own files stay), `--check` writes nothing and
names what is stale, `--agent NAME` renders one agent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import Avrgen

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
    assert sorted(p.name for p in (root / "output").iterdir()) == ["support-line"]
    assert "avr-core-support-line" in stdout
    assert "avr-core-billing" not in stdout  # the summary shows the chosen agent only
    files = sorted(p.name for p in (root / "output" / "support-line").iterdir())
    assert files == ["core.env", "docker-compose.yml", "sts.env"]


def test_agent_option_leaves_other_agents_alone(avrgen: Avrgen, project: Path) -> None:
    output = project / "output"
    (output / "billing" / "core.env").write_text("# Generated by avrgen\nSTALE=1\n")
    agents = project / "blueprints" / "agents.yaml"
    agents.write_text(drop_agent(agents.read_text(), "concierge"))
    age_everything(project)
    before = snapshot_tree(output)
    render(avrgen, project, "--agent", "bookings")
    assert snapshot_tree(output) == before  # no other agent rewritten or pruned
