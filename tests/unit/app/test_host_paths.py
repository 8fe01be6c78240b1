"""`up`'s check of host paths before anything starts (app/mounts.py), on real files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from telephony_plan import bare_telephony

from avrgen.app.mounts import check_host_paths
from avrgen.engine.secrets import Secrets
from avrgen.errors import HostPathError
from avrgen.model.mounts import Mount
from avrgen.model.plan import AgentPlan, Container, Telephony
from avrgen.model.telephony import TLS_CERT_PATH, TLS_KEY_PATH

KEY_BYTES = "-----BEGIN PRIVATE KEY----- vt-key-7c1e"
TOOLS = Mount("/usr/src/app/tools", "config.tools", "folder", True, "tools")
KEY = Mount("/usr/src/app/google.json", "config.files./usr/src/app/google.json", "file", True,
            secret="GOOGLE_CREDENTIALS")  # fmt: skip
SOUNDS = Mount("/usr/src/app/sounds", "core.volumes[0]", "file or folder", True, "sounds")


def agent(provider: tuple[Mount, ...], core: tuple[Mount, ...]) -> AgentPlan:
    sts = Container("sts", "avr-sts-a", "x:1", (), 6000, (), provider="Google STS", mounts=provider)
    own = Container("core", "avr-core-a", "c:1", (), 5000, (), http_port=7000, mounts=core)
    return AgentPlan("a", "id", "sts", None, (sts, own))


@pytest.fixture
def blueprints(tmp_path: Path) -> Path:
    folder = tmp_path / "blueprints"
    (folder / "tools").mkdir(parents=True)
    (folder / "sounds").mkdir()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "google.json").write_text(KEY_BYTES)
    return folder


def test_all_present_and_a_relative_key_path_made_absolute(blueprints: Path) -> None:
    secrets = Secrets({"GOOGLE_CREDENTIALS": "keys/google.json", "OTHER": "x"})
    checked = check_host_paths(
        [agent((TOOLS, KEY), (SOUNDS,))], blueprints, secrets, cwd=blueprints.parent
    )
    key = blueprints.parent / "keys" / "google.json"
    assert checked.values == {"GOOGLE_CREDENTIALS": key.as_posix(), "OTHER": "x"}
    again = check_host_paths([agent((KEY,), ())], blueprints, Secrets({**checked.values}))
    assert again.values == checked.values  # absolute: kept as it is


def test_every_wrong_path_is_named_with_its_agent_role_and_field(blueprints: Path) -> None:
    (blueprints / "tools").rmdir()
    (blueprints / "tools").write_text("not a folder")
    (blueprints / "sounds").rmdir()
    secrets = Secrets({"GOOGLE_CREDENTIALS": str(blueprints.parent / "keys")})  # a folder
    with pytest.raises(HostPathError) as caught:
        check_host_paths([agent((TOOLS, KEY), (SOUNDS,))], blueprints, secrets)
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == "3 host path(s) not as the blueprints need them; nothing was started:"
    assert lines[1] == (
        f"  agent 'a', STS provider 'Google STS', config.tools: {blueprints}/tools is not a folder"
    )
    assert lines[2] == (
        "  agent 'a', STS provider 'Google STS', config.files./usr/src/app/google.json: "
        "the host path in secret GOOGLE_CREDENTIALS is not a file (it is a folder)"
    )
    assert lines[3] == (
        f"  agent 'a', core, core.volumes[0]: {blueprints}/sounds does not exist "
        "(expected a file or folder)"
    )
    assert str(blueprints.parent / "keys") not in message  # a secret's value is never shown


def test_a_missing_key_file_names_the_secret_not_the_path(blueprints: Path) -> None:
    secrets = Secrets({"GOOGLE_CREDENTIALS": "/nowhere/google.json"})
    with pytest.raises(HostPathError) as caught:
        check_host_paths([agent((KEY,), ())], blueprints, secrets)
    assert "the host path in secret GOOGLE_CREDENTIALS does not exist (expected a file)" in str(
        caught.value
    )
    assert "/nowhere" not in str(caught.value)


def test_a_colon_in_a_key_files_path_is_refused(blueprints: Path) -> None:
    odd = blueprints.parent / "keys" / "a:b.json"
    odd.write_text(KEY_BYTES)
    with pytest.raises(HostPathError, match="holds a ':'"):
        check_host_paths([agent((KEY,), ())], blueprints, Secrets({"GOOGLE_CREDENTIALS": str(odd)}))


def test_a_symlink_out_of_the_blueprint_folder_is_refused(blueprints: Path) -> None:
    (blueprints / "tools").rmdir()
    (blueprints / "tools").symlink_to(blueprints.parent / "keys")
    with pytest.raises(HostPathError, match="leads outside the blueprint folder"):
        check_host_paths([agent((TOOLS,), ())], blueprints, Secrets({}))
    absolute = Mount("/data", "config.volumes[0]", "file or folder", True, str(blueprints.parent))
    check_host_paths([agent((absolute,), ())], blueprints, Secrets({}))  # absolute: its own


def test_an_agent_on_another_host_is_not_checked_here(blueprints: Path) -> None:
    """Its engine binds that machine's paths; the key file's path is still made absolute."""
    remote = replace(agent((TOOLS, KEY), ()), host="edge-1")
    (blueprints / "tools").rmdir()
    checked = check_host_paths(
        [remote], blueprints, Secrets({"GOOGLE_CREDENTIALS": "k.json"}), cwd=Path("/srv")
    )
    assert checked.values == {"GOOGLE_CREDENTIALS": "/srv/k.json"}


# -- the telephony stack's key files: the tls transport's certificate and key ------------------

CERT = Mount(TLS_CERT_PATH, "telephony.asterisk.tls.cert", "file", True, secret="TLS_CERT")
TLS_KEY = Mount(TLS_KEY_PATH, "telephony.asterisk.tls.key", "file", True, secret="TLS_KEY")


def stack(host: str | None = None) -> Telephony:
    return bare_telephony(transports=("udp", "tls"), host=host, key_files=(CERT, TLS_KEY))


def test_the_stacks_key_files_are_made_absolute_and_checked(blueprints: Path) -> None:
    keys = blueprints.parent / "keys"
    (keys / "asterisk.crt").write_text("-----BEGIN CERTIFICATE----- vt")
    (keys / "asterisk.key").write_text(KEY_BYTES)
    secrets = Secrets({"TLS_CERT": "keys/asterisk.crt", "TLS_KEY": "keys/asterisk.key"})
    checked = check_host_paths([], blueprints, secrets, cwd=blueprints.parent, telephony=stack())
    assert checked.values == {
        "TLS_CERT": (keys / "asterisk.crt").as_posix(),
        "TLS_KEY": (keys / "asterisk.key").as_posix(),
    }


def test_a_wrong_stack_key_file_names_the_stack_field_and_secret(blueprints: Path) -> None:
    keys = blueprints.parent / "keys"
    secrets = Secrets({"TLS_CERT": str(keys), "TLS_KEY": str(keys / "gone.key")})
    with pytest.raises(HostPathError) as caught:
        check_host_paths([], blueprints, secrets, telephony=stack())
    assert str(caught.value).splitlines() == [
        "2 host path(s) not as the blueprints need them; nothing was started:",
        "  telephony, avr-asterisk, telephony.asterisk.tls.cert: the host path in secret "
        "TLS_CERT is not a file (it is a folder)",
        "  telephony, avr-asterisk, telephony.asterisk.tls.key: the host path in secret "
        "TLS_KEY does not exist (expected a file)",
    ]
    assert str(keys) not in str(caught.value)  # a secret's value is never shown


def test_a_stack_on_another_host_is_not_checked_here(blueprints: Path) -> None:
    secrets = Secrets({"TLS_CERT": "c.crt", "TLS_KEY": "/etc/k.key"})
    remote = stack(host="edge-1")
    checked = check_host_paths([], blueprints, secrets, cwd=Path("/srv"), telephony=remote)
    assert checked.values == {"TLS_CERT": "/srv/c.crt", "TLS_KEY": "/etc/k.key"}
