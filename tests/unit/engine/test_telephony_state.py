"""The telephony stack's state folder: the secrets include files, the record of what the
running Asterisk loaded, and which mounted files a new `up` reloads."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from telephony_plan import bare_telephony

from avrgen.engine.telephony_state import (
    LoadedConfig,
    config_inputs,
    read_confs,
    read_record,
    remove_stack_state,
    secret_files,
    secrets_dir,
    sha256,
    stack_dir,
    write_record,
    write_secrets,
)
from avrgen.errors import SecretsError
from avrgen.model.plan import FileSecret, Telephony

MOUNT = "/etc/asterisk/avrgen-secrets"
PJSIP = (
    b'[1000]\nauth = 1000-auth\n[1000-auth]\ntype = auth\n#tryinclude "'
    + MOUNT.encode()
    + b'/pjsip.conf"\n'
)
MANAGER = b'[avr]\nread = call\n#tryinclude "' + MOUNT.encode() + b'/manager.conf"\n'
EXTENSIONS = b"[demo]\nexten => 5001,1,NoOp(x)\n"


def telephony(*file_secrets: FileSecret) -> Telephony:
    return bare_telephony(ami_user="avr", file_secrets=file_secrets)


STACK = telephony(
    FileSecret("pjsip.conf", "1000-auth", "password", "PHONE_1000_PASSWORD"),
    FileSecret("pjsip.conf", "carrier-auth", "password", "CARRIER_PASSWORD"),
    FileSecret("manager.conf", "avr", "secret", "AMI_PASSWORD"),
)
VALUES = {"PHONE_1000_PASSWORD": "p;1", "CARRIER_PASSWORD": "c2", "AMI_PASSWORD": "a3"}
CONFS = {"my_extensions.conf": EXTENSIONS, "my_pjsip.conf": PJSIP, "my_manager.conf": MANAGER}


def test_secret_files_hold_one_additive_section_per_secret() -> None:
    assert secret_files(STACK, VALUES) == {
        "manager.conf": b"[avr](+)\nsecret = a3\n",
        "pjsip.conf": b"[1000-auth](+)\npassword = p\\;1\n\n[carrier-auth](+)\npassword = c2\n",
    }


@pytest.mark.parametrize("value", ["line\nbreak", " padded", "nul\x00"])
def test_a_value_asterisk_cannot_read_names_the_secret_not_the_value(value: str) -> None:
    with pytest.raises(SecretsError) as caught:
        secret_files(STACK, {**VALUES, "CARRIER_PASSWORD": value})
    message = str(caught.value)
    assert "secret CARRIER_PASSWORD cannot be written into Asterisk's pjsip.conf" in message
    assert value.strip() not in message


def test_secrets_are_written_private_and_stale_files_go(tmp_path: Path) -> None:
    folder = secrets_dir(tmp_path / "state", STACK)
    assert folder == tmp_path / "state" / "telephony" / "avr-telephony" / "secrets"
    write_secrets(folder, {"pjsip.conf": b"a", "manager.conf": b"b"})
    write_secrets(folder, {"pjsip.conf": b"c"})
    assert sorted(p.name for p in folder.iterdir()) == ["pjsip.conf"]
    assert (folder / "pjsip.conf").read_bytes() == b"c"
    assert stat.S_IMODE((folder / "pjsip.conf").stat().st_mode) == 0o600
    for each in (folder, folder.parent, folder.parent.parent):
        assert stat.S_IMODE(each.stat().st_mode) == 0o700
    assert remove_stack_state(tmp_path / "state", "avr-telephony")
    assert not stack_dir(tmp_path / "state", STACK).exists()
    assert not remove_stack_state(tmp_path / "state", "avr-telephony")


def test_the_record_round_trips_and_a_broken_one_is_none(tmp_path: Path) -> None:
    assert read_record(tmp_path, STACK) is None
    record = LoadedConfig("abc", {"my_pjsip.conf": "1"})
    write_record(tmp_path, STACK, record)
    path = stack_dir(tmp_path, STACK) / "loaded.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_record(tmp_path, STACK) == record
    for broken in ("{", "[]", '{"container": 1, "digests": {}}', '{"container": "a"}'):
        path.write_text(broken)
        assert read_record(tmp_path, STACK) is None


def test_inputs_are_each_file_and_the_secrets_files_it_includes() -> None:
    secrets = secret_files(STACK, VALUES)
    inputs = config_inputs(STACK, CONFS, secrets)
    assert inputs.includes == {
        "my_extensions.conf": (),
        "my_pjsip.conf": (f"{MOUNT}/pjsip.conf",),
        "my_manager.conf": (f"{MOUNT}/manager.conf",),
    }
    assert inputs.digests[f"{MOUNT}/pjsip.conf"] == sha256(secrets["pjsip.conf"])
    assert inputs.digests["my_extensions.conf"] == sha256(EXTENSIONS)
    assert config_inputs(STACK, CONFS, {}).digests[f"{MOUNT}/manager.conf"] == "missing"


def test_what_changed_since_the_container_loaded_it() -> None:
    secrets = secret_files(STACK, VALUES)
    before = config_inputs(STACK, CONFS, secrets)
    loaded = LoadedConfig("c1", before.digests)
    everything = ["my_extensions.conf", "my_pjsip.conf", "my_manager.conf"]
    assert before.changed(loaded, "c1") == []
    assert before.changed(None, "c1") == everything  # no record: reload all
    assert before.changed(loaded, "c2") == everything  # another container than recorded
    dialplan = config_inputs(STACK, {**CONFS, "my_extensions.conf": EXTENSIONS + b";\n"}, secrets)
    assert dialplan.changed(loaded, "c1") == ["my_extensions.conf"]
    new_secret = secret_files(STACK, {**VALUES, "AMI_PASSWORD": "other"})
    assert config_inputs(STACK, CONFS, new_secret).changed(loaded, "c1") == ["my_manager.conf"]


def test_rendered_files_are_read_from_the_stack_folder(tmp_path: Path) -> None:
    (tmp_path / "my_pjsip.conf").write_bytes(PJSIP)
    assert read_confs(STACK, tmp_path) == {"my_pjsip.conf": PJSIP}
