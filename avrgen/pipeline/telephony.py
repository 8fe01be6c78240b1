"""Plan of the telephony stack: numbers, phones and trunks of a valid Blueprint, with the
agents' planned ports, -> the Telephony plan (model/plan.py) that render and the engine read.

Pure, as plan.py: no files, no clocks.
"""

from __future__ import annotations

from avrgen.model.blueprint import Blueprint
from avrgen.model.labels import MANAGED_LABEL, SET_LABEL, TELEPHONY_LABEL
from avrgen.model.mounts import Mount
from avrgen.model.plan import (
    AMI_CONTAINER,
    ASTERISK_CONTAINER,
    AgentPlan,
    EnvSecret,
    FileSecret,
    NumberRoute,
    PhonePlan,
    PublishedPort,
    Telephony,
    TrunkPlan,
)
from avrgen.model.telephony import (
    AMI_PORT,
    AVR_AMI_PORT,
    HTTP_PORT,
    HTTPS_PORT,
    TLS_CERT_PATH,
    TLS_KEY_PATH,
    TLS_PORT,
    AsteriskSettings,
    TelephonySettings,
)

PJSIP_SECRETS = "pjsip.conf"  # the files in the secrets folder, by what includes them
MANAGER_SECRETS = "manager.conf"


def ami_url(settings: TelephonySettings | None = None, host: str | None = None) -> str:
    """Where providers reach the avr-ami avrgen runs (telephony.ami): by its name on the
    stack's own host; on another host (settings.hosts), at its published address, when it
    is published (else by name all the same: validate warns)."""
    ami = settings.ami if settings is not None else None
    if settings is not None and host != settings.host and ami is not None and ami.publish:
        address = ami.publish.host_ip
        return f"http://{f'[{address}]' if ':' in address else address}:{AVR_AMI_PORT}"
    return f"http://{AMI_CONTAINER}:{AVR_AMI_PORT}"


def reserved_ports(blueprint: Blueprint) -> set[int]:
    """The telephony stack's host ports (none without telephony): never an agent's."""
    telephony = blueprint.settings.telephony
    if telephony is None:
        return set()
    return {
        port
        for p in telephony.host_ports()
        for port in ((p,) if isinstance(p, int) else range(p.low, p.high + 1))
    }


def plan_telephony(
    blueprint: Blueprint, agents: dict[str, AgentPlan], set_id: str = ""
) -> Telephony | None:
    """The stack, or None without settings.telephony; its containers and volume carry the
    blueprint set's id (`set_id`) as every container avrgen creates does."""
    settings = blueprint.settings.telephony
    if settings is None:
        return None
    asterisk = settings.asterisk
    # sorted, so the order of documents on disk changes no byte (Asterisk matches
    # extensions whatever their order in the file)
    numbers = tuple(_route(blueprint, number, agents) for number in sorted(blueprint.numbers))
    phones = tuple(
        PhonePlan(p.name, p.display_name, p.webrtc, f"{p.name}-auth", p.password.secret)
        for _, p in sorted(blueprint.phones.items())
    )
    trunks = tuple(
        TrunkPlan(
            t.name,
            t.transport,
            tuple(dict.fromkeys(t.codecs)),
            t.user,
            t.register,
            f"{t.name}-auth",
            t.password.secret,
        )
        for _, t in sorted(blueprint.trunks.items())
    )
    transports = tuple(dict.fromkeys(asterisk.sip.transports))
    file_secrets = [FileSecret(PJSIP_SECRETS, p.auth, "password", p.password) for p in phones]
    file_secrets += [FileSecret(PJSIP_SECRETS, t.auth, "password", t.password) for t in trunks]
    env_secrets: list[EnvSecret] = []
    ami_env: tuple[tuple[str, str], ...] = ()
    manager = asterisk.ami
    if manager is not None:
        file_secrets.append(
            FileSecret(MANAGER_SECRETS, manager.username, "secret", manager.password.secret)
        )
    if settings.ami is not None and manager is not None:
        env_secrets.append(EnvSecret(AMI_CONTAINER, "AMI_PASSWORD", manager.password.secret))
        ami_env = (
            ("PORT", str(AVR_AMI_PORT)),
            ("AMI_HOST", ASTERISK_CONTAINER),
            ("AMI_PORT", str(AMI_PORT)),
            ("AMI_USERNAME", manager.username),
        )
    host_ip = asterisk.publish.host_ip or blueprint.settings.publish.host_ip
    ami_publish = settings.ami.publish if settings.ami is not None else None
    ami_published = (
        (PublishedPort(ami_publish.host_ip, str(AVR_AMI_PORT), "tcp"),) if ami_publish else ()
    )
    platforms = sorted({c.platform for a in agents.values() for c in a.containers if c.platform})
    return Telephony(
        context=settings.context,
        asterisk_image=asterisk.image,
        ami_image=settings.ami.image if settings.ami is not None else None,
        numbers=numbers,
        phones=phones,
        trunks=trunks,
        sip_port=asterisk.sip.port,
        transports=transports,
        rtp=(asterisk.rtp.low, asterisk.rtp.high),
        published=_published(host_ip, asterisk.sip.port, transports, asterisk.rtp, phones),
        reserved=tuple(p if isinstance(p, int) else (p.low, p.high) for p in settings.host_ports()),
        ami_user=manager.username if manager is not None else None,
        ami_env=ami_env,
        file_secrets=tuple(file_secrets),
        env_secrets=tuple(env_secrets),
        labels=(
            ("app", "AVR"),
            (TELEPHONY_LABEL, settings.context),
            *(((SET_LABEL, set_id),) if set_id else ()),
            (MANAGED_LABEL, "true"),
        ),
        platform=platforms[0] if platforms else None,
        ami=AMI_CONTAINER if settings.ami is not None else None,
        host=settings.host,
        ami_published=ami_published,
        key_files=_tls_files(asterisk) if "tls" in transports else (),
    )


def _tls_files(asterisk: AsteriskSettings) -> tuple[Mount, ...]:
    """The tls transport's certificate and key, where my_pjsip.conf names them (without
    telephony.asterisk.tls validate has refused the blueprints)."""
    tls = asterisk.tls
    assert tls is not None  # validate: the tls transport needs telephony.asterisk.tls
    field = "telephony.asterisk.tls"
    return (
        Mount(TLS_CERT_PATH, f"{field}.cert", "file", True, secret=tls.cert.secret_file),
        Mount(TLS_KEY_PATH, f"{field}.key", "file", True, secret=tls.key.secret_file),
    )


def _route(blueprint: Blueprint, number: str, agents: dict[str, AgentPlan]) -> NumberRoute:
    spec = blueprint.numbers[number]
    route = spec.route
    assert route is not None  # validate: exactly one route
    kind, target = route
    if kind != "agent":
        return NumberRoute(number, kind, target, spec.recording, spec.denoise)
    agent = agents[target]
    core = agent.core
    stack_host = blueprint.settings.telephony.host if blueprint.settings.telephony else None
    # on another host, Asterisk reaches core where it is published (validate requires an
    # address of that host: not loopback, not every interface)
    address = core.name if agent.host == stack_host or core.host_ip is None else core.host_ip
    return NumberRoute(
        number,
        kind,
        target,
        spec.recording,
        spec.denoise,
        core=f"[{address}]" if ":" in address else address,
        port=core.port,
        http_port=core.http_port,
    )


def _published(
    host_ip: str,
    sip_port: int,
    transports: tuple[str, ...],
    rtp: object,
    phones: tuple[PhonePlan, ...],
) -> tuple[PublishedPort, ...]:
    """SIP on its transports, RTP, and Asterisk's HTTP/HTTPS (WebSocket) for wss and webrtc
    phones. AMI and avr-ami stay on the Docker network: neither has a public use, and
    avr-ami's HTTP API (hangup, originate) has no authentication."""
    ports: list[PublishedPort] = []
    if "udp" in transports:
        ports.append(PublishedPort(host_ip, str(sip_port), "udp"))
    if "tcp" in transports:
        ports.append(PublishedPort(host_ip, str(sip_port), "tcp"))
    if "tls" in transports:
        ports.append(PublishedPort(host_ip, str(TLS_PORT), "tcp"))
    if "wss" in transports or any(p.webrtc for p in phones):
        ports.append(PublishedPort(host_ip, str(HTTP_PORT), "tcp"))
        ports.append(PublishedPort(host_ip, str(HTTPS_PORT), "tcp"))
    ports.append(PublishedPort(host_ip, str(rtp), "udp"))
    return tuple(ports)
