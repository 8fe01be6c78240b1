"""Hostile input and hostile output folders: each case must end in exit 1 and a message that
names the file and line (or the path), never a traceback, within bounded time and memory.

SECURITY.md lists the promises; each test here tries to break one of them.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from avrgen.errors import AvrgenError, WriteError
from avrgen.fs import lock
from avrgen.pipeline import load
from avrgen.pipeline.write import PRIVATE_MODE, Target, changes
from tests.conftest import REPO, Avrgen

PROVIDER = """\
kind: provider
name: Echo
type: STS
config: {image: "example/sts:1"}
"""
AGENT = """\
kind: agent
name: {name}
mode: sts
providers: {{sts: Echo}}
"""
VALID = PROVIDER + "---\n" + AGENT.format(name="front-desk")


def without_set_id(lock_bytes: bytes) -> bytes:
    return re.sub(rb'"set": "[a-z0-9-]+"', b'"set": ""', lock_bytes)


def blueprints(root: Path, files: dict[str, bytes | str]) -> Path:
    """A blueprint folder under `root` holding `files` (relative name -> content)."""
    return write_blueprints(root / "bp", files)


def check_clean_failure(result: object, where: str, message: str) -> None:
    exit_code, stderr = result.exit_code, result.stderr  # type: ignore[attr-defined]
    assert exit_code == 1, stderr
    assert "Traceback" not in stderr
    assert where in stderr, stderr
    assert message in stderr, stderr


# -- hostile YAML ----------------------------------------------------------------------------

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)
ALIAS_TOWER = (
    "a0: &a0 "
    + "[" * 60
    + "]" * 60
    + "\n"
    + "".join(f"a{i}: &a{i} " + "[" * 60 + f"*a{i - 1}" + "]" * 60 + "\n" for i in range(1, 40))
)

HOSTILE: dict[str, tuple[bytes | str, str, str]] = {
    # name: (content of x.yaml, "x.yaml:LINE:" and the field, part of the message)
    "billion-laughs": (LAUGHS, "x.yaml:1:", "document too large"),
    "deep-flow-10k": ("kind: agent\nname: " + "[" * 10_000 + "]" * 10_000, "x.yaml:2:", "nested"),
    "deep-map-10k": (
        "kind: agent\nx: " + "{a: " * 10_000 + "1" + "}" * 10_000,
        "x.yaml:2:",
        "nested",
    ),
    "deep-block": (  # line 65's key is the 65th level: inside the 64th mapping
        "kind: agent\n" + "".join(" " * i + "a:\n" for i in range(200)),
        "x.yaml:65:",
        "nested",
    ),
    "alias-tower": (ALIAS_TOWER, "x.yaml:1:", "nested more than 64 levels"),
    "recursive-alias": ("kind: agent\nname: &a [*a]\n", "x.yaml:2:", "recursive alias"),
    "non-utf8": (b"kind: agent\nname: caf\xe9\n", "x.yaml:2:", "not valid UTF-8"),
    "utf16": ("kind: agent\n".encode("utf-16"), "x.yaml:1:", "not valid UTF-8"),
    "nul-byte": (b"kind: agent\n\nname: a\x00b\n", "x.yaml:3:", "NUL byte"),
    "nul-escape": (
        'kind: agent\nname: x\nenv: {A: "a\\0b"}\n',
        "x.yaml:3: env.A:",
        "NUL character",
    ),
    "control-char": ("kind: agent\nname: x\x07y\n", "x.yaml:2:", "character 0x0007"),
    "tab-indent": ("kind: agent\n\tname: x\n", "x.yaml:2:", "tab"),
    "merge-key": ("a: &a {mode: sts}\nkind: agent\n<<: *a\n", "x.yaml:3:", "merge keys"),
    "python-object": ("kind: !!python/object:os.system {}\n", "x.yaml:1: kind:", "not allowed"),
    "python-apply": (
        "kind: !!python/object/apply:os.system ['touch /tmp/avrgen-pwned']\n",
        "x.yaml:1: kind:",
        "not allowed",
    ),
    "python-name": (
        "kind: agent\nname: !!python/name:os.system\n",
        "x.yaml:2: name:",
        "not allowed",
    ),
    "custom-tag": ("kind: agent\nname: !vault secret/x\n", "x.yaml:2: name:", "not allowed"),
    "binary-tag": ("kind: agent\nname: !!binary aGk=\n", "x.yaml:2: name:", "not allowed"),
    "set-tag": ("kind: agent\nname: !!set {a, b}\n", "x.yaml:2: name:", "not allowed"),
    "complex-key": ("kind: agent\n? [a, b]\n: x\n", "x.yaml:2:", "a key must be plain text"),
    "duplicate-key": ("kind: agent\nname: a\nname: b\n", "x.yaml:3: name:", "duplicate key 'name'"),
    "null-document": ("~\n", "x.yaml:1:", "must be a mapping"),
    "scalar-document": ("just text\n", "x.yaml:1:", "must be a mapping"),
    "escape-output": (AGENT.format(name="../x"), "x.yaml:2: name:", "agent name must be"),
    "escape-output-abs": (AGENT.format(name="/etc"), "x.yaml:2: name:", "agent name must be"),
    "env-name-nul": (
        'kind: agent\nname: x\nenv: {"A\\0B": v}\n',
        "x.yaml:3: env:",
        "NUL character",
    ),
    "env-name-invalid": (
        AGENT.format(name="x") + "env: {A-B: v}\n",
        "x.yaml:5: env.A-B:",
        "env name",
    ),
    "port-zero": (
        AGENT.format(name="x") + "ports: {core: 0}\n",
        "x.yaml:5: ports.core:",
        "greater than",
    ),
    "port-70000": (
        AGENT.format(name="x") + "ports: {core: 70000}\n",
        "x.yaml:5: ports.core:",
        "less than",
    ),
    "port-huge": (
        AGENT.format(name="x") + "ports: {sts: 1" + "0" * 400 + "}\n",
        "x.yaml:5: ports.sts:",
        "less than",
    ),
    # what a terminal would act on is shown escaped, on the problem's one line
    "escape-in-key": (
        AGENT.format(name="x") + '"\\e]0;owned\\a\\x1e": 1\n',
        "x.yaml:5: \\x1b]0;owned\\x07\\x1e:",
        "unknown field '\\x1b]0;owned\\x07\\x1e'",
    ),
    "cr-in-id": ('kind: agent\nname: x\nid: "\\r"\n', "x.yaml:3: id:", "got '\\r'"),
    # YAML also breaks lines at LS, PS, NEL and a lone CR; lines are counted at "\n" only
    "line-separators": (
        'kind: agent\nnote: "a\u2028b\u2029c\x85d\re"\nname: x\nz: [\n',
        "x.yaml:5:",  # the end of the file, after its fourth "\n" (YAML's ninth line)
        "invalid YAML",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_fails_cleanly(case: str, tmp_path: Path, avrgen: Avrgen) -> None:
    content, where, message = HOSTILE[case]
    folder = blueprints(tmp_path, {"a-provider.yaml": PROVIDER, "x.yaml": content})
    # how long a bomb may take is test_memory_and_time_stay_bounded's (a capped process)
    result = avrgen("validate", "-b", str(folder))
    check_clean_failure(result, where, message)
    prefix = f"{folder}/{where}"  # the problem's own line starts with its file, line and field
    assert all(c == "\n" or c.isprintable() for c in result.stderr), repr(result.stderr)
    assert any(
        line.startswith(prefix) and message in line for line in result.stderr.splitlines()
    ), result.stderr
    assert not Path("/tmp/avrgen-pwned").exists()


def test_every_hostile_case_also_fails_render_and_json(tmp_path: Path, avrgen: Avrgen) -> None:
    """The same inputs through `render` and `--json`: exit 1, no traceback, nothing written."""
    for case, (content, _, _) in HOSTILE.items():
        folder = blueprints(tmp_path / case, {"a-provider.yaml": PROVIDER, "x.yaml": content})
        out = tmp_path / case / "out"
        result = avrgen("render", "-b", str(folder), "-o", str(out))
        assert result.exit_code == 1 and "Traceback" not in result.stderr, (case, result.stderr)
        assert not out.exists(), case
        result = avrgen("validate", "--json", "-b", str(folder))
        assert result.exit_code == 1, case
        assert json.loads(result.stdout)["valid"] is False, case


def test_memory_and_time_stay_bounded(tmp_path: Path) -> None:
    """The bombs in a fresh process capped at 1 GiB of address space and 20 s."""
    files = {
        "laughs.yaml": LAUGHS,
        "tower.yaml": ALIAS_TOWER,
        "deep.yaml": "x: " + "[" * 1_000_000 + "]" * 1_000_000,
    }
    folder = blueprints(tmp_path, files)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "avrgen", "validate", "-b", str(folder)],
        capture_output=True,
        text=True,
        timeout=20,
        preexec_fn=cap,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    for name in files:
        assert f"bp/{name}:1:" in proc.stderr
    assert time.monotonic() - started < 20


def test_huge_file_is_refused_unread(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    with (folder / "huge.yaml").open("wb") as handle:
        handle.truncate(load.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    result = avrgen("validate", "-b", str(folder))
    check_clean_failure(result, "huge.yaml", f"file larger than {load.MAX_FILE_BYTES} bytes")


def test_biggest_allowed_file_loads_in_bounded_time(tmp_path: Path) -> None:
    """A file just under the size limit, full of values: an error or a result within seconds."""
    head = "kind: provider\nname: Big\ntype: ASR\nconfig:\n  image: i\n  env:\n"
    line = "    KEY_{:06d}: a value that is not short at all\n"
    count = (load.MAX_FILE_BYTES - len(head)) // len(line.format(0))
    folder = blueprints(tmp_path, {"big.yaml": head + "".join(map(line.format, range(count)))})
    started = time.monotonic()
    with pytest.raises(AvrgenError, match="document too large"):
        load.load_blueprints(folder)
    assert time.monotonic() - started < 15


def test_bom_is_accepted(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = blueprints(tmp_path, {"a.yaml": "\ufeff" + VALID})
    result = avrgen("validate", "-b", str(folder))
    assert result.exit_code == 0, result.stderr
    assert "1 agent(s)" in result.stdout


def test_empty_files_and_documents_are_skipped(tmp_path: Path, avrgen: Avrgen) -> None:
    """An empty file, a comment-only file and empty `---` documents hold no blueprint: fine."""
    folder = blueprints(
        tmp_path,
        {
            "a.yaml": "---\n" + VALID + "---\n---\n",
            "empty.yaml": "",
            "comments.yml": "# nothing here yet\n",
            "only-separators.yaml": "---\n---\n...\n",
        },
    )
    result = avrgen("validate", "-b", str(folder))
    assert result.exit_code == 0, result.stderr
    assert "ok: 1 agent(s), 1 provider(s), 0 warning(s)" in result.stdout


def test_duplicate_ids(tmp_path: Path, avrgen: Avrgen) -> None:
    same = "id: 7d3b8d5e-9c3e-4a4b-8f55-1b2f0e6c9a10\n"
    folder = blueprints(
        tmp_path,
        {
            "a.yaml": VALID + same,
            "b.yaml": AGENT.format(name="back-office") + same,
            "c.yaml": PROVIDER.replace("Echo", "Echo 2")
            + same
            + "---\n"
            + PROVIDER.replace("Echo", "Echo 3")
            + same,
        },
    )
    result = avrgen("validate", "-b", str(folder))
    check_clean_failure(result, "b.yaml:5: id:", "duplicate agent id")
    assert "duplicate provider id" in result.stderr


# -- symlinks in the blueprint folder --------------------------------------------------------


def test_symlinks_leaving_the_blueprint_folder_are_errors(tmp_path: Path, avrgen: Avrgen) -> None:
    secret = tmp_path / "elsewhere.yaml"
    secret.write_text("kind: agent\nname: [this is not yours to read\n")
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    (folder / "stolen.yaml").symlink_to(secret)
    (folder / "etc").symlink_to("/etc")
    (folder / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    result = avrgen("validate", "-b", str(folder))
    assert result.exit_code == 1
    assert "bp/stolen.yaml: symlink leads outside the blueprint folder" in result.stderr
    assert "bp/etc: symlink leads outside the blueprint folder" in result.stderr
    assert "bp/gone.yaml: broken symlink" in result.stderr
    assert "this is not yours" not in result.stderr


def test_symlink_loops_are_errors_and_terminate(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = blueprints(tmp_path, {"a.yaml": VALID, "sub/b.yaml": "# empty\n"})
    (folder / "sub" / "up").symlink_to("..")
    (folder / "self").symlink_to(".")
    (folder / "x.yaml").symlink_to("y.yaml")
    (folder / "y.yaml").symlink_to("x.yaml")
    result = avrgen("validate", "-b", str(folder))
    assert result.exit_code == 1
    assert "bp/sub/up: symlink loop" in result.stderr
    assert "bp/self: symlink loop" in result.stderr
    assert "bp/x.yaml: broken symlink" in result.stderr


def test_symlinks_inside_the_folder_are_followed(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = blueprints(tmp_path, {"shared/provider.yaml": PROVIDER, "agents/a.yaml": VALID})
    (folder / "agents" / "a.yaml").write_text(AGENT.format(name="front-desk"))
    (folder / "current").symlink_to("shared")
    (folder / "link.yaml").symlink_to("agents/a.yaml")
    result = avrgen("validate", "-b", str(folder))
    assert result.exit_code == 1  # the agent is now read twice: a duplicate, named as such
    assert "duplicate agent name 'front-desk'" in result.stderr
    (folder / "link.yaml").unlink()
    assert avrgen("validate", "-b", str(folder)).exit_code == 0


# -- the lock file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"agents": {"a": {"core": Infinity}}}', "port inf is not a whole number"),
        ('{"agents": {"a": {"core": 1e400}}}', "port inf is not a whole number"),
        ('{"agents": {"a": {"core": "5001"}}}', "port '5001' is not a whole number"),
        ('{"agents": {"a": {"core": true}}}', "port True is not a whole number"),
        ('{"agents": {"a": [5001]}}', "the ports of agent 'a' must be a mapping of role to port"),
        ('{"agents": []}', '"agents" must be a mapping of agent names to their ports'),
        ("{}", '"agents" must be a mapping of agent names to their ports'),
        ("[]", '"agents" must be a mapping of agent names to their ports'),
        ('{"agents": {\n  "a": {"core": 5001,}}}', "invalid JSON at line 2, column 22"),
        ("\xff\xfe", "not UTF-8 text"),
        (" " * (lock.MAX_LOCK_BYTES + 1), f"larger than {lock.MAX_LOCK_BYTES} bytes"),
        ('{"set": "Prod 1", "agents": {}}', "\"set\" must be a set id (a-z, 0-9 and -), not "
         "'Prod 1'"),
        ('{"set": 7, "agents": {}}', '"set" must be a set id (a-z, 0-9 and -), not 7'),
    ],
    ids=["deep", "infinity", "overflow", "string", "bool", "list", "agents-list", "no-agents",
         "not-an-object", "invalid-json", "bytes", "huge", "set-id", "set-number"],
)  # fmt: skip
def test_corrupt_lock_is_a_clean_error(
    content: str, reason: str, tmp_path: Path, avrgen: Avrgen
) -> None:
    """Each way a lock can be broken has its own reason, after the lock's path, and the
    output folder is left unwritten."""
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    (folder / "avrgen.lock").write_bytes(content.encode("latin-1"))
    result = avrgen("render", "-b", str(folder), "-o", str(tmp_path / "out"))
    expected = f"{folder}/avrgen.lock: unreadable lock file ({reason}); delete it to start afresh"
    assert (result.exit_code, result.stderr) == (1, expected + "\n1 error(s)\n")
    assert not (tmp_path / "out").exists()


# -- the output folder -----------------------------------------------------------------------


@pytest.fixture
def rendered(tmp_path: Path, avrgen: Avrgen) -> tuple[Path, Path]:
    """A valid blueprint folder and its freshly rendered output folder."""
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    out = tmp_path / "out"
    assert avrgen("render", "-b", str(folder), "-o", str(out)).exit_code == 0
    return folder, out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_symlinked_file_in_output_is_refused(
    rendered: tuple[Path, Path], tmp_path: Path, avrgen: Avrgen
) -> None:
    folder, out = rendered
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    compose = out / "front-desk" / "docker-compose.yml"
    compose.unlink()
    compose.symlink_to(victim)
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    check_clean_failure(result, "docker-compose.yml", "refusing to write through a symlink")
    assert victim.read_text() == "precious\n"
    assert avrgen("render", "--check", "-b", str(folder), "-o", str(out)).exit_code == 1


def test_symlinked_agent_folder_is_refused(
    rendered: tuple[Path, Path], tmp_path: Path, avrgen: Avrgen
) -> None:
    folder, out = rendered
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine\n")
    shutil.rmtree(out / "front-desk")
    (out / "front-desk").symlink_to(elsewhere)
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    check_clean_failure(result, "out/front-desk", "refusing to write through a symlink")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


def test_symlinked_lock_is_refused(
    rendered: tuple[Path, Path], tmp_path: Path, avrgen: Avrgen
) -> None:
    folder, out = rendered
    victim = tmp_path / "victim.json"
    victim.write_text((folder / "avrgen.lock").read_text())
    (folder / "avrgen.lock").unlink()
    (folder / "avrgen.lock").symlink_to(victim)
    (folder / "a.yaml").write_text(VALID + "---\n" + AGENT.format(name="back-office"))
    before = victim.read_text()
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    check_clean_failure(result, "avrgen.lock", "refusing to write through a symlink")
    assert victim.read_text() == before
    assert not (out / "back-office").exists()


def test_targets_outside_the_folder_are_refused(tmp_path: Path) -> None:
    for rel in ("../x/docker-compose.yml", "/etc/passwd", "a/../../b"):
        with pytest.raises(WriteError, match="refusing to write outside"):
            changes(Target(tmp_path, {rel: b"# Generated by avrgen\n"}))
    assert list(tmp_path.iterdir()) == []


def test_prune_deletes_only_generated_regular_files(
    rendered: tuple[Path, Path], tmp_path: Path, avrgen: Avrgen
) -> None:
    folder, out = rendered
    (out / "old-agent").mkdir()
    (out / "old-agent" / "docker-compose.yml").write_text("# Generated by avrgen\nservices: {}\n")
    (out / "old-agent" / "notes.txt").write_text("hand written\n")
    outside = tmp_path / "outside.yml"
    outside.write_text("# Generated by avrgen\nnot yours\n")
    (out / "old-agent" / "link.yml").symlink_to(outside)
    (out / "linked-agent").symlink_to(tmp_path / "bp")
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert not (out / "old-agent" / "docker-compose.yml").exists()
    assert (out / "old-agent" / "notes.txt").read_text() == "hand written\n"
    assert outside.exists() and (out / "old-agent" / "link.yml").is_symlink()
    assert (folder / "a.yaml").exists()


def test_file_modes(rendered: tuple[Path, Path]) -> None:
    """Env files 0600 (whatever the umask), compose files and the lock 0644."""
    folder, out = rendered
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (out / "front-desk").iterdir()}
    assert modes == {"core.env": 0o600, "sts.env": 0o600, "docker-compose.yml": 0o644}
    assert stat.S_IMODE((folder / "avrgen.lock").stat().st_mode) == 0o644


def test_lax_env_file_modes_are_tightened(rendered: tuple[Path, Path], avrgen: Avrgen) -> None:
    """A git checkout (umask 022) leaves env files 0644: the next render makes them 0600."""
    folder, out = rendered
    env_file = out / "front-desk" / "sts.env"
    env_file.chmod(0o664)
    before = env_file.stat().st_mtime_ns
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    assert result.exit_code == 0 and "nothing changed" in result.stdout
    assert stat.S_IMODE(env_file.stat().st_mode) == PRIVATE_MODE
    assert env_file.stat().st_mtime_ns == before


def test_stale_temp_files_of_a_killed_render_are_cleaned(
    rendered: tuple[Path, Path], avrgen: Avrgen
) -> None:
    folder, out = rendered
    stale = out / "front-desk" / ".sts.env.abc123.tmp"
    stale.write_text("# Generated by avrgen\nhalf")
    assert avrgen("render", "--check", "-b", str(folder), "-o", str(out)).exit_code == 0
    assert avrgen("render", "-b", str(folder), "-o", str(out)).exit_code == 0
    assert not stale.exists()


@pytest.mark.parametrize("cache", ["cache", "no-cache"])
@pytest.mark.parametrize("where", ["output file", "lock"])
def test_a_fifo_in_a_files_place_never_hangs_a_render(
    where: str, cache: str, rendered: tuple[Path, Path]
) -> None:
    """Opening a FIFO for reading blocks until a writer comes: render, its cache and
    --check must never do that. A FIFO where a file goes is replaced like a changed file."""
    folder, out = rendered
    fifo = out / "front-desk" / "sts.env" if where == "output file" else folder / "avrgen.lock"
    want = fifo.read_bytes()
    fifo.unlink()
    os.mkfifo(fifo)
    args = ["-b", str(folder), "-o", str(out)] + (["--no-cache"] if cache == "no-cache" else [])

    def avrgen(*command: str) -> subprocess.CompletedProcess[str]:
        run = [sys.executable, "-m", "avrgen", *command, *args]
        return subprocess.run(run, capture_output=True, text=True, timeout=30, check=False)

    check = avrgen("render", "--check")
    assert check.returncode == 1, check.stderr
    assert "Traceback" not in check.stderr
    result = avrgen("render")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISREG(fifo.lstat().st_mode)
    if where == "lock":  # a lock lost is a set id lost: the render makes up a new one
        assert without_set_id(fifo.read_bytes()) == without_set_id(want)
    else:
        assert fifo.read_bytes() == want
    assert avrgen("render", "--check").returncode == 0


# -- read-only and full output folders ---------------------------------------------------------


def change_every_agent(folder: Path) -> None:
    text = (folder / "a.yaml").read_text()
    (folder / "a.yaml").write_text(text + "env: {GREETING: " + "x" * 4000 + "}\n")


def test_full_disk_fails_before_any_file_changes(
    tmpfs: Path, tmp_path: Path, avrgen: Avrgen
) -> None:
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    out = tmpfs / "out"
    assert avrgen("render", "-b", str(folder), "-o", str(out)).exit_code == 0
    before = snapshot(out)
    filler = tmpfs / "filler"
    with filler.open("wb", buffering=0) as handle:  # leave less room than the new files need
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    os.truncate(filler, filler.stat().st_size - 4096)  # room for one small file, not more
    change_every_agent(folder)
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    check_clean_failure(result, str(out), "No space left on device; nothing was changed")
    assert snapshot(out) == before
    assert not [p for p in out.rglob(".*.tmp")]
    filler.unlink()
    assert avrgen("render", "-b", str(folder), "-o", str(out)).exit_code == 0
    assert snapshot(out) != before


def test_read_only_output_fails_cleanly(tmpfs: Path, tmp_path: Path, avrgen: Avrgen) -> None:
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    out = tmpfs / "out"
    assert avrgen("render", "-b", str(folder), "-o", str(out)).exit_code == 0
    before = snapshot(out)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    change_every_agent(folder)
    result = avrgen("render", "-b", str(folder), "-o", str(out))
    check_clean_failure(result, str(out), "Read-only file system; nothing was changed")
    assert snapshot(out) == before
    assert avrgen("render", "--check", "-b", str(folder), "-o", str(out)).exit_code == 1


@pytest.fixture
def world_tmp() -> Iterator[Path]:
    """A temporary folder every user can enter (pytest's own are 0700, closed to nobody)."""
    path = Path(tempfile.mkdtemp(prefix="avrgen-test-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o777)
        shutil.rmtree(path)


def nobody_runtime(folder: Path) -> tuple[list[str], dict[str, str]]:
    """A command prefix and environment that run avrgen as nobody, from copies in `folder`
    (world-readable) of the package and its runtime dependencies: the checkout and the
    virtualenv may sit under a folder only root can enter."""
    site = folder / "site"
    shutil.copytree(REPO / "avrgen", site / "avrgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "templates", site / "templates")
    for dist in runtime_distributions():
        for file in dist.files or ():
            if file.parts[0] != ".." and "__pycache__" not in file.parts:
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(str(dist.locate_file(file))), target)
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for python in dict.fromkeys((sys._base_executable, shutil.which(f"python{version}"))):
        if python is None:
            continue
        probe = [*drop, python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        answer = subprocess.run(probe, capture_output=True, text=True, env=env, check=False)
        if answer.stdout.strip() == version:  # the same ABI as the copied compiled wheels
            return [*drop, python], env
    pytest.skip(f"no Python {version} that nobody may run: permissions cannot be tested")


def runtime_distributions() -> list[metadata.Distribution]:
    """avrgen's runtime dependencies, transitively, as installed (extras and markers that
    do not apply here left out)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [req for req in map(Requirement, metadata.requires("avrgen") or ()) if applies(req)]
    while todo:
        name = canonicalize_name(todo.pop().name)
        if name not in found:
            found[name] = dist = metadata.distribution(name)
            todo.extend(req for req in map(Requirement, dist.requires or ()) if applies(req))
    return list(found.values())


def applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def test_unwritable_output_as_a_normal_user(world_tmp: Path, avrgen: Avrgen) -> None:
    """chmod 0555 on an agent folder: as root, permissions do not apply, so drop to nobody."""
    tmp_path = world_tmp
    folder = blueprints(tmp_path, {"a.yaml": VALID})
    out = tmp_path / "out"
    assert avrgen("render", "-b", str(folder), "-o", str(out)).exit_code == 0
    change_every_agent(folder)
    before = snapshot(out)
    if os.geteuid() == 0:
        command, env = nobody_runtime(tmp_path / "runtime")
        for path in (tmp_path, folder, *folder.iterdir(), out):
            path.chmod(path.stat().st_mode | 0o777)
    else:
        command, env = [sys.executable], {**os.environ, "PYTHONPATH": str(REPO)}
    (out / "front-desk").chmod(0o555)
    try:
        proc = subprocess.run(
            [*command, "-m", "avrgen", "render", "-b", str(folder), "-o", str(out)],
            capture_output=True,
            text=True,
            cwd="/",
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        (out / "front-desk").chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Permission denied; nothing was changed" in proc.stderr
    assert snapshot(out) == before


# -- a catalog folder named by the settings ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: " + "[" * 10_000 + "]" * 10_000, "nested more than 64 levels"),
        (LAUGHS, "document too large"),
        (b"name: caf\xe9\n", "not valid UTF-8"),
        ("name: !!python/object/apply:os.system ['true']\n", "not allowed"),
        ("---\nname: a\n---\nname: b\n", "invalid YAML"),
        ("db_password: hunter2-do-not-print\nname: x\n", "db_password: Extra inputs"),
    ],
    ids=["deep", "laughs", "non-utf8", "python-tag", "two-documents", "not-a-template"],
)
def test_hostile_catalog_folder_fails_cleanly(
    content: str | bytes, message: str, tmp_path: Path, avrgen: Avrgen
) -> None:
    """`catalog:` may name any folder beside the blueprints: its files get the same limits,
    and an error names fields, never quotes what the file holds."""
    folder = blueprints(tmp_path, {"a.yaml": VALID, "settings.yaml": "kind: settings\n"})
    (folder / "settings.yaml").write_text("kind: settings\ncatalog: ../templates\n")
    (tmp_path / "templates").mkdir()
    data = content.encode() if isinstance(content, str) else content
    (tmp_path / "templates" / "evil.yaml").write_bytes(data)
    for command in ("validate", "render"):
        result = avrgen(command, "-b", str(folder), "-o", str(tmp_path / "out"))
        check_clean_failure(result, "templates/evil.yaml", message)
        assert "hunter2" not in result.stderr


def test_agent_option_cannot_name_a_path(rendered: tuple[Path, Path], avrgen: Avrgen) -> None:
    folder, out = rendered
    for name in ("../x", "/etc", "front-desk/../../x"):
        result = avrgen("render", "--agent", name, "-b", str(folder), "-o", str(out))
        check_clean_failure(result, "error:", f"no agent named {name!r}")
    assert sorted(p.name for p in out.iterdir()) == ["front-desk"]


def test_import_of_hostile_json_fails_cleanly(tmp_path: Path, avrgen: Avrgen) -> None:
    source = tmp_path / "export.json"
    nothing = f"error: {source}: found no provider, agent, number, phone or trunk to import"
    for content, messages in (
        ("[" * 100_000 + "]" * 100_000, [f"error: {source}: invalid JSON: nested too deeply"]),
        (  # each item skipped with its JSON path and reason
            '{"agents": [1, "x", null, {"name": {"a": []}}]}',
            [
                "$.agents[0]: skipped: expected an object, got int",
                "$.agents[1]: skipped: expected an object, got str",
                "$.agents[2]: skipped: expected an object, got NoneType",
                "$.agents[3]: skipped: neither a provider (type, config) nor an agent (mode)",
                nothing,
            ],
        ),
        (  # the NUL is shown escaped, never written raw, and the name made valid
            '[{"name": "a\\u0000b", "mode": "sts"}]',
            [
                "agent 'a\\x00b': renamed to 'a-b' (a-z, 0-9, '-', 40 at most)",
                "agent 'a-b': skipped: sts mode needs STS, got none",
                nothing,
            ],
        ),
    ):
        source.write_text(content)
        result = avrgen("import", str(source), "--dry-run", "-b", str(tmp_path / "bp"))
        assert result.exit_code == 1 and "Traceback" not in result.stderr, result.stderr
        assert sorted(result.stderr.splitlines()) == sorted(messages), result.stderr
        assert "\x00" not in result.stderr


def test_a_state_folder_left_to_root_is_an_error_naming_it(world_tmp: Path) -> None:
    """`sudo avrgen up` made the releases folder (0700, root's); `history` as another
    user: the folder and the reason, exit 1, no traceback."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to leave a folder only root may enter")
    state = world_tmp / "state"
    (state / "releases" / "hardening" / "desk").mkdir(parents=True)
    blueprints = world_tmp / "blueprints"  # history is of this set's releases
    blueprints.mkdir(mode=0o755)
    settings = "kind: settings\nset: hardening\n"
    (blueprints / "settings.yaml").write_text(settings, encoding="utf-8")
    (blueprints / "settings.yaml").chmod(0o644)
    command, env = nobody_runtime(world_tmp / "runtime")
    state.chmod(0o755)
    (state / "releases").chmod(0o700)
    proc = subprocess.run(
        [*command, "-m", "avrgen", "history", "--state", str(state)],
        capture_output=True,
        text=True,
        env=env,
        cwd=world_tmp,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: {state / 'releases' / 'hardening'}: "), proc.stderr
    assert "Traceback" not in proc.stderr
