"""What a running telephony stack keeps in the server's state folder, outside output/ and git.

    <state>/telephony/<project>/          0700
        secrets/<file>                    0600: the secrets Asterisk reads from files
        loaded.json                       0600: what the running Asterisk last loaded

`secrets/` is the folder the rendered compose file mounts read-only at
`/etc/asterisk/avrgen-secrets` (compose variable AVRGEN_ASTERISK_SECRETS); each file holds,
for the plan's `file_secrets` of that file, `[section](+)` and `option = value`
(avrgen.fs.asterisk.additions), which the committed my_pjsip.conf / my_manager.conf pull
in with `#tryinclude`. Files are written atomically (the folder is mounted, not the file,
so the container sees the new one); a file no secret needs any more is removed.

`loaded.json` records, after each `up`, the id of the Asterisk container and the sha256 of
every file it loaded: each mounted `my_*.conf` and each secrets file they include (by the
path Asterisk reads it at). The next `up` reloads (in place) the files whose digest differs
from the record, and everything when the record is missing or names another container.
Digests of secrets files are of the file's bytes, never a value on its own.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from avrgen.errors import SecretsError
from avrgen.fs.asterisk import additions, config_problem, parse
from avrgen.fs.atomic import write_atomic
from avrgen.fs.state import private_dir
from avrgen.model.plan import Telephony

RECORD = "loaded.json"
SECRETS = "secrets"


def stack_dir(state_dir: Path, telephony: Telephony | str) -> Path:
    """`<state>/telephony/<project>`: everything avrgen keeps about this stack (`telephony`:
    the plan's, or its compose project's name)."""
    project = telephony if isinstance(telephony, str) else telephony.project
    return state_dir / "telephony" / project


def secrets_dir(state_dir: Path, telephony: Telephony) -> Path:
    return stack_dir(state_dir, telephony) / SECRETS


def secret_files(telephony: Telephony, values: Mapping[str, str]) -> dict[str, bytes]:
    """The text of each secrets file (by its name in the folder), from the secrets' values.

    A value Asterisk cannot read back as written (a newline, a control character, blanks
    around it) fails naming the secret and why, never the value.
    """
    entries: dict[str, list[tuple[str, str, str]]] = {}
    for item in telephony.file_secrets:
        value = values[item.secret]
        problem = config_problem(value)
        if problem is not None:
            raise SecretsError(
                f"secret {item.secret} cannot be written into Asterisk's {item.file} "
                f"([{item.section}] {item.option}): its value {problem}; nothing was started"
            )
        entries.setdefault(item.file, []).append((item.section, item.option, value))
    return {name: additions(found).encode() for name, found in sorted(entries.items())}


def write_secrets(folder: Path, files: Mapping[str, bytes]) -> None:
    """Make `folder` hold exactly `files` (0600 each, in a 0700 folder), each written
    atomically; other regular files in it are removed."""
    private_dir(folder)
    for name, data in files.items():
        write_atomic(folder / name, data, mode=0o600)
    for path in folder.iterdir():
        if path.name not in files and path.is_file() and not path.is_symlink():
            path.unlink()


def remove_stack_state(state_dir: Path, telephony_project: str) -> bool:
    """Remove `<state>/telephony/<project>` (its secrets and record); True when it existed."""
    folder = stack_dir(state_dir, telephony_project)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LoadedConfig:
    """What an Asterisk container loaded: its id, and each file's digest by the path it is
    read at (`my_pjsip.conf`, `/etc/asterisk/avrgen-secrets/pjsip.conf`)."""

    container: str
    digests: Mapping[str, str]

    def to_json(self) -> bytes:
        document = {"container": self.container, "digests": dict(sorted(self.digests.items()))}
        return (json.dumps(document, indent=2) + "\n").encode()


def read_record(state_dir: Path, telephony: Telephony) -> LoadedConfig | None:
    """The last record; None when there is none or it cannot be read (everything reloads)."""
    try:
        document = json.loads((stack_dir(state_dir, telephony) / RECORD).read_text("utf-8"))
        container, digests = document["container"], document["digests"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(container, str) or not isinstance(digests, dict):
        return None
    return LoadedConfig(container, {str(k): str(v) for k, v in digests.items()})


def write_record(state_dir: Path, telephony: Telephony, record: LoadedConfig) -> None:
    folder = private_dir(stack_dir(state_dir, telephony))
    write_atomic(folder / RECORD, record.to_json(), mode=0o600)


@dataclass(frozen=True)
class ConfigInputs:
    """Every file the running Asterisk loads, by the path it reads it at, with its digest,
    and for each mounted file the secrets files it includes."""

    digests: Mapping[str, str]
    includes: Mapping[str, tuple[str, ...]]  # my_*.conf -> included secrets paths

    def changed(self, loaded: LoadedConfig | None, container: str) -> list[str]:
        """The mounted files whose reload is due: all without a record of this container,
        else those whose own digest or an included file's differs from the record."""
        files = list(self.includes)
        if loaded is None or loaded.container != container:
            return files
        return [
            name
            for name in files
            if any(
                self.digests.get(path) != loaded.digests.get(path)
                for path in (name, *self.includes[name])
            )
        ]


def read_confs(telephony: Telephony, folder: Path) -> dict[str, bytes]:
    """The rendered my_*.conf in `folder` (output/_telephony), by name (missing ones left out)."""
    found: dict[str, bytes] = {}
    for name in telephony.conf_files:
        try:
            found[name] = (folder / name).read_bytes()
        except FileNotFoundError:
            continue
    return found


def config_inputs(
    telephony: Telephony, confs: Mapping[str, bytes], secrets: Mapping[str, bytes]
) -> ConfigInputs:
    """The digests of the my_*.conf files (`confs`, by name) and of the secrets files
    (`secrets`, by name in the secrets folder) they include from the secrets mount."""
    digests: dict[str, str] = {}
    includes: dict[str, tuple[str, ...]] = {}
    prefix = telephony.secrets_mount.rstrip("/") + "/"
    for name, data in confs.items():
        digests[name] = sha256(data)
        paths = tuple(
            include.path
            for include in parse(data.decode("utf-8")).includes
            if include.path.startswith(prefix)
        )
        includes[name] = paths
        for path in paths:
            own = secrets.get(path.removeprefix(prefix))
            digests[path] = sha256(own) if own is not None else "missing"
    return ConfigInputs(digests, includes)
