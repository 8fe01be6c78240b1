"""output/_telephony/ from the telephony fixture (tests/fixtures/telephony/): the plan,
a snapshot of every generated file, the parse-back checks' reasons, broken templates, and
the writer's in-place update of the mounted Asterisk files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from avrgen.errors import TemplateError, WriteError
from avrgen.fs import asterisk
from avrgen.fs.package import default_templates
from avrgen.model.mounts import Mount
from avrgen.model.plan import EnvSecret, FileSecret, Plan, PublishedPort, Telephony
from avrgen.model.telephony import TLS_CERT_PATH, TLS_KEY_PATH
from avrgen.pipeline import telephony_checks
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.load import load_blueprints
from avrgen.pipeline.plan import plan
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.validate import validate
from avrgen.pipeline.write import Target, apply, changes
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "telephony"


class TextFileSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def plan_of(folder: Path) -> Plan:
    catalog = load_catalog()
    return plan(validate(load_blueprints(folder), catalog).blueprint, {}, catalog, "test-set")


@pytest.fixture(scope="module")
def the_plan() -> Plan:
    return plan_of(FIXTURE)


@pytest.fixture(scope="module")
def telephony(the_plan: Plan) -> Telephony:
    assert the_plan.telephony is not None
    return the_plan.telephony


def telephony_files(the_plan: Plan, templates: Path | None = None) -> dict[str, str]:
    files = Renderer(templates).render(the_plan)
    return {k: v.decode() for k, v in files.items() if k.startswith("_telephony/")}


# -- plan --------------------------------------------------------------------------------------


def test_the_plan_tells_the_running_side_what_to_run(telephony: Telephony) -> None:
    assert (telephony.project, telephony.folder) == ("avr-telephony", "_telephony")
    assert (telephony.asterisk, telephony.ami, telephony.context) == (
        "avr-asterisk",
        "avr-ami",
        "office",
    )
    assert telephony.file_secrets == (
        FileSecret("pjsip.conf", "1000-auth", "password", "PHONE_1000_PASSWORD"),
        FileSecret("pjsip.conf", "desk.2-auth", "password", "PHONE_DESK2_PASSWORD"),
        FileSecret("pjsip.conf", "backup-auth", "password", "BACKUP_PASSWORD"),
        FileSecret("pjsip.conf", "carrier-auth", "password", "CARRIER_PASSWORD"),
        FileSecret("manager.conf", "avr", "secret", "AMI_PASSWORD"),
    )
    assert telephony.env_secrets == (EnvSecret("avr-ami", "AMI_PASSWORD", "AMI_PASSWORD"),)
    assert telephony.secrets == {
        "PHONE_1000_PASSWORD",
        "PHONE_DESK2_PASSWORD",
        "CARRIER_PASSWORD",
        "BACKUP_PASSWORD",
        "AMI_PASSWORD",
        "TLS_CERT",
        "TLS_KEY",
    }
    assert "TLS_CERT" not in telephony.conf_secrets  # a host path, not in a secrets file
    # the tls transport's files, where my_pjsip.conf names them, read-only
    assert telephony.key_files == (
        Mount(TLS_CERT_PATH, "telephony.asterisk.tls.cert", "file", True, secret="TLS_CERT"),
        Mount(TLS_KEY_PATH, "telephony.asterisk.tls.key", "file", True, secret="TLS_KEY"),
    )
    assert [p.mapping for p in telephony.published] == [
        "10.0.0.5:5070:5070/udp",
        "10.0.0.5:5070:5070/tcp",
        "10.0.0.5:5061:5061/tcp",
        "10.0.0.5:8088:8088/tcp",
        "10.0.0.5:8089:8089/tcp",
        "10.0.0.5:20000-20099:20000-20099/udp",
    ]
    assert PublishedPort("::1", "5060", "udp").mapping == "[::1]:5060:5060/udp"
    assert telephony.reserved == (5070, 5061, (20000, 20099), 5038, 8088, 8089, 6006)
    assert telephony.reloads["my_extensions.conf"] == "dialplan reload"
    assert telephony.reloads["my_pjsip.conf"] == "module reload res_pjsip.so"
    assert telephony.platform == "linux/amd64"  # the agents' catalog images are amd64 only


def test_numbers_dial_the_planned_ports(the_plan: Plan, telephony: Telephony) -> None:
    support = the_plan.agents["support"].core
    routes = {n.number: n for n in telephony.numbers}
    assert [n.number for n in telephony.numbers] == [  # sorted: no byte depends on file order
        "+4930123",
        "1000",
        "5002",
        "9000",
        "_0X.",
        "_8[1-3]X",
    ]
    assert (routes["+4930123"].core, routes["+4930123"].port, routes["+4930123"].http_port) == (
        "avr-core-support",
        support.port,
        support.http_port,
    )
    assert (routes["1000"].route, routes["1000"].core) == ("phone", None)
    assert routes["_0X."].is_pattern and not routes["9000"].is_pattern


def test_providers_reach_the_avr_ami_avrgen_runs(the_plan: Plan) -> None:
    sts = the_plan.agents["support"].containers[0]
    assert dict(sts.env)["AMI_URL"] == "http://avr-ami:6006"


def test_no_telephony_no_plan(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "kind: provider\nname: P\ntype: STS\nconfig: {image: x}\n---\n"
        "kind: agent\nname: a\nmode: sts\nproviders: {sts: P}\n"
    )
    the_plan = plan_of(tmp_path)
    assert the_plan.telephony is None
    assert not any(k.startswith("_telephony/") for k in Renderer().render(the_plan))


def test_agent_ports_never_land_on_the_stack_ports(tmp_path: Path) -> None:
    """SIP, RTP, AMI, HTTP and avr-ami are the only free ports of a small core range."""
    (tmp_path / "a.yaml").write_text(
        "kind: settings\n"
        "ports: {core: 5060-5062, http: 8087-8089, reserved: []}\n"
        "telephony:\n  asterisk:\n    sip: {transports: [udp, tls]}\n"
        "    tls: {cert: {secret_file: C}, key: {secret_file: K}}\n---\n"
        "kind: provider\nname: P\ntype: STS\nconfig: {image: x}\n---\n"
        "kind: agent\nname: a\nmode: sts\nproviders: {sts: P}\n"
    )
    the_plan = plan_of(tmp_path)
    assert the_plan.lock["a"]["core"] == 5062
    assert the_plan.lock["a"]["http"] == 8087


def test_without_avr_ami_no_container_and_no_env_secret(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "kind: settings\ntelephony:\n  asterisk:\n"
        "    ami: {username: mgr, password: {secret: AMI_PW}}\n"
    )
    telephony = plan_of(tmp_path).telephony
    assert telephony is not None
    assert (telephony.ami, telephony.ami_image, telephony.env_secrets) == (None, None, ())
    assert telephony.file_secrets == (FileSecret("manager.conf", "mgr", "secret", "AMI_PW"),)
    assert telephony.platform is None
    assert [p.mapping for p in telephony.published] == [
        "127.0.0.1:5060:5060/udp",
        "127.0.0.1:5060:5060/tcp",
        "127.0.0.1:10000-10050:10000-10050/udp",
    ]


# -- render: every generated file --------------------------------------------------------------


def test_every_telephony_file(the_plan: Plan, snapshot: SnapshotAssertion) -> None:
    files = telephony_files(the_plan)
    assert sorted(files) == [
        "_telephony/docker-compose.yml",
        "_telephony/my_ari.conf",
        "_telephony/my_extensions.conf",
        "_telephony/my_manager.conf",
        "_telephony/my_pjsip.conf",
    ]
    text_snapshot = snapshot.use_extension(TextFileSnapshot)
    for rel, text in files.items():
        assert text == text_snapshot(name=rel.replace("/", "__"))


def test_minimal_telephony_files(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    """`telephony: {}` alone: no numbers, no manager user, no avr-ami."""
    (tmp_path / "a.yaml").write_text("kind: settings\ntelephony: {}\n")
    files = telephony_files(plan_of(tmp_path))
    text_snapshot = snapshot.use_extension(TextFileSnapshot)
    for rel, text in files.items():
        assert text == text_snapshot(name="minimal__" + rel.replace("/", "__"))


def test_the_bytes_are_deterministic(the_plan: Plan) -> None:
    assert telephony_files(the_plan) == telephony_files(plan_of(FIXTURE))


def test_no_secret_name_or_value_in_asterisk_files(the_plan: Plan) -> None:
    for rel, text in telephony_files(the_plan).items():
        parsed = None if rel.endswith(".yml") else asterisk.parse(text)
        if parsed is not None:
            options = [o.name for s in parsed.sections for o in s.options]
            assert "password" not in options and "secret" not in options, rel
            assert "PASSWORD" not in text, rel


def test_both_targets_render_the_same_telephony_files(the_plan: Plan) -> None:
    swarm = Renderer(target="swarm").render(the_plan)
    compose = Renderer().render(the_plan)
    assert {k: v for k, v in swarm.items() if k.startswith("_telephony/")} == {
        k: v for k, v in compose.items() if k.startswith("_telephony/")
    }


# -- parse-back: what each check catches --------------------------------------------------------

Edit = Callable[[str], str]
CASES: dict[str, tuple[str, Edit, str]] = {
    # name: (file, edit of the rendered text, the reason in the error)
    "wrong AudioSocket port": (
        "my_extensions.conf",
        lambda t: t.replace("AudioSocket/avr-core-support:5011", "AudioSocket/avr-core-support:1"),
        "the block of number +4930123 differs",
    ),
    "a number dropped": (
        "my_extensions.conf",
        lambda t: t.replace("exten => 9000,1", "exten => 9001,1"),
        "numbers differ",
    ),
    "outside the region": (
        "my_extensions.conf",
        lambda t: t.replace("; END AVR-MANAGED", "; END AVR-MANAGED\n[office]"),
        "[office] outside the managed region",
    ),
    "two regions": (
        "my_extensions.conf",
        lambda t: t + "; BEGIN AVR-MANAGED\n; END AVR-MANAGED\n",
        "one managed region",
    ),
    "another context": (
        "my_extensions.conf",
        lambda t: t.replace("[office]", "[other]", 1),
        "[other]: not the context",
    ),
    "stray same": (
        "my_extensions.conf",
        lambda t: t.replace("exten => +4930123,1,", " same => n,"),
        "stray `same`",
    ),
    "second priority": (
        "my_extensions.conf",
        lambda t: t.replace("exten => 5002,1,", "exten => 5002,2,"),
        "5002: first priority is not 1",
    ),
    "include in dialplan": (
        "my_extensions.conf",
        lambda t: t + '#include "x.conf"\n',
        "includes in the dialplan",
    ),
    "broken syntax": (
        "my_extensions.conf",
        lambda t: t.replace("[office]", "[office", 1),
        "does not read back (line 6: section header without its closing `]`)",
    ),
    "no header": (
        "my_ari.conf",
        lambda t: t.replace("; Generated by avrgen", "; Made by hand"),
        "no `; Generated by avrgen` header",
    ),
    "a password": (
        "my_pjsip.conf",
        lambda t: t.replace("username = acct-77", "username = acct-77\npassword = x"),
        "[carrier-auth]: auth differs",
    ),
    "a password in a transport": (
        "my_pjsip.conf",
        lambda t: t.replace("protocol = wss", "protocol = wss\npassword = x"),
        "[transport-wss]: a password in a committed file",
    ),
    "bind port": (
        "my_pjsip.conf",
        lambda t: t.replace("bind = 0.0.0.0:5070", "bind = 0.0.0.0:5060", 1),
        "udp: bind",
    ),
    "phone template": (
        "my_pjsip.conf",
        lambda t: t.replace("[1000](webrtc-template)", "[1000](endpoint-template)"),
        "phone 1000: template",
    ),
    "callerid": (
        "my_pjsip.conf",
        lambda t: t.replace('"Front desk\\; main"', '"Front desk"'),
        "phone 1000: callerid",
    ),
    "trunk codecs": (
        "my_pjsip.conf",
        lambda t: t.replace("allow = alaw,ulaw", "allow = opus"),
        "trunk carrier: codecs",
    ),
    "tls certificate elsewhere": (
        "my_pjsip.conf",
        lambda t: t.replace("cert_file = /etc/asterisk/keys/asterisk.crt", "cert_file = /x.crt"),
        "tls: cert_file",
    ),
    "tls key dropped": (
        "my_pjsip.conf",
        lambda t: t.replace("priv_key_file = /etc/asterisk/keys/asterisk.key\n", ""),
        "tls: priv_key_file",
    ),
    "tls port": (
        "my_pjsip.conf",
        lambda t: t.replace("bind = 0.0.0.0:5061", "bind = 0.0.0.0:5062"),
        "tls: bind",
    ),
    "compose key file path written": (
        "docker-compose.yml",
        lambda t: t.replace('"${TLS_KEY:?secret TLS_KEY is not set}"', '"/etc/ssl/asterisk.key"'),
        "asterisk: volumes differ",
    ),
    "registration": (
        "my_pjsip.conf",
        lambda t: t.replace("client_uri = sip:acct-77@", "client_uri = sip:carrier@"),
        "client",
    ),
    "contact without register": (
        "my_pjsip.conf",
        lambda t: t.replace("[backup]\ntype = aor\n", "[backup]\ntype = aor\ncontact = sip:x\n"),
        "trunk backup: contact without register",
    ),
    "an extra section": (
        "my_pjsip.conf",
        lambda t: t.replace("\n#tryinclude", "[extra]\ntype = aor\n\n#tryinclude"),
        "sections differ: ['extra']",
    ),
    "include not last": (
        "my_pjsip.conf",
        lambda t: t.replace("[endpoint-template](!)", '#tryinclude "x"\n[endpoint-template](!)'),
        "missing or not alone",
    ),
    "secrets include moved up": (
        "my_manager.conf",
        lambda t: t.replace(
            "[avr]", '#tryinclude "/etc/asterisk/avrgen-secrets/manager.conf"\n[avr]'
        ).rsplit("#tryinclude", 1)[0],
        "the secrets include is not after every section",
    ),
    "manager rights": (
        "my_manager.conf",
        lambda t: t.replace("write = all", "write = system"),
        "the AMI user differs",
    ),
    "an ARI user": (
        "my_ari.conf",
        lambda t: t + "[avr]\ntype = user\n",
        "ARI users or includes",
    ),
    "compose port": (
        "docker-compose.yml",
        lambda t: t.replace('"10.0.0.5:5070:5070/udp"', '"0.0.0.0:5070:5070/udp"'),
        "asterisk: ports differ",
    ),
    "compose mount": (
        "docker-compose.yml",
        lambda t: t.replace("read_only: true", "read_only: false", 1),
        "asterisk: volumes differ",
    ),
    "compose ami env": (
        "docker-compose.yml",
        lambda t: t.replace(":?secret AMI_PASSWORD is not set}", "}"),
        "ami: environment differs",
    ),
    "compose published ami": (
        "docker-compose.yml",
        lambda t: t.replace(
            '    environment:\n      PORT: "6006"',
            '    ports:\n      - "6006:6006"\n    environment:\n      PORT: "6006"',
        ),
        "ami: ports differ",
    ),
    "compose labels": (
        "docker-compose.yml",
        lambda t: t.replace('"avrgen.role": "ami"', '"avrgen.role": "x"'),
        "ami: labels differ",
    ),
    "compose volume": (
        "docker-compose.yml",
        lambda t: t.replace('name: "avr-telephony-recordings"', 'name: "x"'),
        "recordings volume name differs",
    ),
    "compose network": (
        "docker-compose.yml",
        lambda t: t.replace("external: true", "external: false"),
        "network is not external",
    ),
    "compose yaml": (
        "docker-compose.yml",
        lambda t: t.replace("services:", "services: [", 1),
        "the rendered file does not match the plan",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_check_names_what_differs(the_plan: Plan, telephony: Telephony, case: str) -> None:
    name, edit, reason = CASES[case]
    text = telephony_files(the_plan)[f"_telephony/{name}"]
    edited = edit(text)
    assert edited != text, "the edit changed nothing"
    with pytest.raises(TemplateError) as caught:
        telephony_checks.TELEPHONY_CHECKS[name](telephony, the_plan.network, edited)
    message = str(caught.value)
    assert message.startswith(f"_telephony/{name}: "), message
    assert reason in message, message


def test_the_tls_transport_without_its_files_in_the_plan(
    the_plan: Plan, telephony: Telephony
) -> None:
    text = telephony_files(the_plan)["_telephony/my_pjsip.conf"]
    with pytest.raises(TemplateError, match="tls: no certificate mounted"):
        telephony_checks.check_pjsip(replace(telephony, key_files=()), the_plan.network, text)


def test_tls_files_without_the_tls_transport_are_not_mounted(tmp_path: Path) -> None:
    """validate warns; the plan mounts nothing and needs neither secret at `up`."""
    (tmp_path / "a.yaml").write_text(
        "kind: settings\ntelephony:\n  asterisk:\n"
        "    tls: {cert: {secret_file: C}, key: {secret_file: K}}\n"
    )
    the_plan = plan_of(tmp_path)
    assert the_plan.telephony is not None
    assert (the_plan.telephony.key_files, the_plan.telephony.secrets) == ((), frozenset())
    compose = telephony_files(the_plan)["_telephony/docker-compose.yml"]
    assert "/etc/asterisk/keys" not in compose


def test_the_manager_check_without_a_user(the_plan: Plan, telephony: Telephony) -> None:
    without = replace(telephony, ami_user=None)
    check = telephony_checks.check_manager
    check(without, the_plan.network, "; Generated by avrgen\n")
    with pytest.raises(TemplateError, match="a user without ami settings"):
        check(without, the_plan.network, "; Generated by avrgen\n[avr]\nread = call\n")


# -- broken templates fail the render, naming the file ----------------------------------------

BROKEN: dict[str, tuple[str, str, str, str]] = {
    # name: (template, text replaced, by, the error's start)
    "a raw value": (
        "my_pjsip.conf.j2",
        "display_name | asterisk",
        "display_name",
        "_telephony/my_pjsip.conf: the rendered file does not match the plan",
    ),
    "a dropped step": (
        "my_extensions.conf.j2",
        " same => n,Wait(1)\n",
        "",
        "_telephony/my_extensions.conf: the rendered file does not match the plan",
    ),
    "an undefined variable": (
        "my_manager.conf.j2",
        "telephony.ami_user | section",
        "telephony.ami_usr | section",
        "rendering _telephony/my_manager.conf: ",
    ),
    "a syntax error": (
        "my_ari.conf.j2",
        "; No ARI users",
        "{% if %}",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_template_fails_the_render(the_plan: Plan, tmp_path: Path, case: str) -> None:
    template, old, new, start = BROKEN[case]
    folder = tmp_path / "templates"
    shutil.copytree(default_templates(), folder)
    path = folder / template
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(TemplateError) as caught:
        Renderer(folder).render(the_plan)
    assert str(caught.value).startswith(start)


def test_an_unsafe_value_reaching_a_filter_is_refused(the_plan: Plan) -> None:
    assert the_plan.telephony is not None
    bad = replace(the_plan.telephony, context="a,b")
    with pytest.raises(TemplateError) as caught:
        Renderer().render(replace(the_plan, telephony=bad))
    assert "refusing to write 'a,b' as a dialplan argument: it contains ','" in str(caught.value)


def test_a_custom_templates_folder_without_telephony_templates(
    the_plan: Plan, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(default_templates(), folder)
    (folder / "my_ari.conf.j2").unlink()
    with pytest.raises(TemplateError, match=r"my_ari\.conf\.j2"):
        Renderer(folder).render(the_plan)


# -- write: the mounted files keep their inode -------------------------------------------------


def write(root: Path, files: dict[str, bytes]) -> None:
    target = Target(root, files)
    apply(target, changes(target))


def test_mounted_asterisk_files_are_updated_in_place(the_plan: Plan, tmp_path: Path) -> None:
    root = tmp_path / "output"
    files = Renderer().render(the_plan)
    write(root, files)
    conf = root / "_telephony" / "my_extensions.conf"
    compose = root / "_telephony" / "docker-compose.yml"
    before = (os.stat(conf).st_ino, os.stat(compose).st_ino)
    changed = dict(files)
    changed["_telephony/my_extensions.conf"] = b"; Generated by avrgen\n; shorter\n"
    changed["_telephony/docker-compose.yml"] = files["_telephony/docker-compose.yml"] + b"# x\n"
    write(root, changed)
    assert conf.read_bytes() == b"; Generated by avrgen\n; shorter\n"  # truncated to the new size
    assert os.stat(conf).st_ino == before[0]  # same inode: a bind mount sees the new bytes
    assert os.stat(compose).st_ino != before[1]  # the rest: atomic, by rename
    assert not [p for p in (root / "_telephony").iterdir() if p.name.startswith(".")]


def test_telephony_files_are_pruned_when_telephony_goes(the_plan: Plan, tmp_path: Path) -> None:
    root = tmp_path / "output"
    files = Renderer().render(the_plan)
    write(root, files)
    write(root, {k: v for k, v in files.items() if not k.startswith("_telephony/")})
    assert not (root / "_telephony").exists()


def test_an_unwritable_mounted_file_changes_nothing(the_plan: Plan, tmp_path: Path) -> None:
    """An update in place that cannot open its file fails in the first phase: no other
    file has changed, no temporary file is left."""
    root = tmp_path / "output"
    files = Renderer().render(the_plan)
    write(root, files)
    pjsip = root / "_telephony" / "my_pjsip.conf"
    pjsip.unlink()
    pjsip.mkdir()  # in the way: opening it for writing fails
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    changed = {k: v + b"; x\n" if k.endswith(".conf") else v for k, v in files.items()}
    with pytest.raises(WriteError, match="nothing was changed"):
        write(root, changed)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert not [p for p in root.rglob(".*") if p.is_file()]
