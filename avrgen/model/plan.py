"""A plan: every container of every agent, fully decided (what render and the engine read)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from avrgen.model.blueprint import Host, NetworkSettings, Secret, SwarmSettings, Target
from avrgen.model.labels import ROLE_LABEL
from avrgen.model.mounts import Mount

Lock = dict[str, dict[str, int]]


EnvItems = tuple[tuple[str, str | Secret], ...]


CORE_ROLES = ("core", "http")


CORE_STOP_GRACE = "30s"  # compose's stop_grace_period of an agent's core
PROVIDER_STOP_GRACE = "10s"  # and of its providers (docker's own default)


@dataclass(frozen=True)
class Container:
    """One container of an agent, exactly as it will run."""

    role: str  # core | asr | llm | tts | sts
    name: str
    image: str
    env: EnvItems
    port: int
    labels: tuple[tuple[str, str], ...]
    http_port: int | None = None
    provider: str | None = None
    published: tuple[int, ...] = ()
    platform: str | None = None  # the image's, from its catalog template (linux/amd64)
    host_ip: str | None = None  # where the published ports bind
    mounts: tuple[Mount, ...] = ()  # tools, volumes, key files (model/mounts.py)

    @property
    def port_mappings(self) -> tuple[str, ...]:
        """Compose's short syntax of each published port, bound to `host_ip`."""
        ip = self.host_ip or "0.0.0.0"
        bind = f"[{ip}]" if ":" in ip else ip
        return tuple(f"{bind}:{port}:{port}" for port in self.published)

    @property
    def stop_grace(self) -> str:
        """How long `down` (and compose, and `docker stop`) waits after SIGTERM before
        SIGKILL: core longer, so calls in progress can end."""
        return CORE_STOP_GRACE if self.role == "core" else PROVIDER_STOP_GRACE

    # A value is text or a Secret: told apart by `isinstance(v, str)`, as a check against a
    # pydantic model's class goes through ABCMeta's and is ~5x slower (a render of 1,000
    # agents makes 100,000s)
    @cached_property  # read by the templates and by the parse-back check
    def literal_env(self) -> EnvItems:
        return tuple((k, v) for k, v in self.env if isinstance(v, str))

    @cached_property
    def platform_constraints(self) -> tuple[str, ...]:
        """Swarm's form of `platform:` (which `docker stack deploy` refuses, docker/cli#6542):
        placement on nodes of that OS and architecture (as nodes report it: x86_64, aarch64)."""
        if self.platform is None:
            return ()
        os_name, _, arch = self.platform.partition("/")
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
        return (f"node.platform.os == {os_name}", f"node.platform.arch == {arch}")

    @cached_property
    def secret_env(self) -> tuple[tuple[str, str], ...]:
        return tuple((k, v.secret) for k, v in self.env if not isinstance(v, str))

    @property
    def key_files(self) -> tuple[Mount, ...]:
        """The mounts whose host path is a secret's value at `up` (`{secret_file: NAME}`)."""
        return tuple(m for m in self.mounts if m.secret is not None)

    @property
    def secrets(self) -> frozenset[str]:
        """Every secret the container needs: env values and key files' host paths."""
        names = {name for _, name in self.secret_env}
        return frozenset(names | {m.secret for m in self.mounts if m.secret is not None})


@dataclass(frozen=True)
class AgentPlan:
    name: str
    id: str
    mode: str
    tenant: str | None
    containers: tuple[Container, ...]  # providers in slot order, then core
    constraints: tuple[str, ...] = ()  # swarm placement constraints (target swarm)
    host: str | None = None  # which of the plan's `hosts` runs it; None: the default engine

    @property
    def core(self) -> Container:
        return self.containers[-1]

    @property
    def project(self) -> str:
        return f"avr-{self.name}"

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset().union(*(c.secrets for c in self.containers))

    @property
    def key_secrets(self) -> tuple[str, ...]:
        """The secrets whose values are key files' host paths, sorted."""
        return tuple(sorted({m.secret for c in self.containers for m in c.key_files if m.secret}))


TELEPHONY_PROJECT = "avr-telephony"  # the compose project of avr-asterisk and avr-ami
TELEPHONY_FOLDER = "_telephony"  # output/_telephony/: agent names cannot start with `_`
ASTERISK_CONTAINER = "avr-asterisk"
AMI_CONTAINER = "avr-ami"
# The compose variable naming the host folder of the secrets include files, and where the
# container sees it. Set by `up`; compose fails with this message when it is not set.
SECRETS_VARIABLE = "AVRGEN_ASTERISK_SECRETS"
SECRETS_MOUNT = "/etc/asterisk/avrgen-secrets"
# the committed Asterisk files, each mounted (one file, read-only) at /etc/asterisk/<name>,
# and what makes a running Asterisk read it again after a change (`asterisk -rx ...`)
CONF_RELOADS: tuple[tuple[str, str], ...] = (
    ("my_extensions.conf", "dialplan reload"),
    ("my_pjsip.conf", "module reload res_pjsip.so"),
    ("my_manager.conf", "manager reload"),
    ("my_ari.conf", "module reload res_ari.so"),
)


@dataclass(frozen=True)
class FileSecret:
    """A secret Asterisk reads from a file: `up` writes `[section](+)` + `option = value`
    into `file` in the secrets folder (the committed file #tryincludes it)."""

    file: str  # inside the secrets folder: "pjsip.conf" | "manager.conf"
    section: str  # "1000-auth", "carrier-auth", the AMI user ("avr")
    option: str  # "password" (pjsip auth) | "secret" (manager user)
    secret: str  # the secret's NAME, resolved at `up`


@dataclass(frozen=True)
class EnvSecret:
    """A secret a telephony container gets through its environment (compose's
    `${NAME:?...}`, as an agent's): avr-ami's AMI_PASSWORD."""

    container: str
    key: str
    secret: str


@dataclass(frozen=True)
class NumberRoute:
    """One number of the dialplan, decided: where it goes and with which ports."""

    number: str
    route: str  # agent | phone | trunk
    target: str  # the agent's, phone's or trunk's name
    recording: bool = False
    denoise: bool = True
    # route agent: where Asterisk reaches core (AudioSocket, POST /call): its container name
    # on the stack's host, its published address on another host (settings.hosts)
    core: str | None = None
    port: int | None = None  # route agent: core's PORT (AudioSocket)
    http_port: int | None = None  # route agent: core's HTTP_PORT (POST /call)

    @property
    def is_pattern(self) -> bool:
        return self.number.startswith("_")


@dataclass(frozen=True)
class PhonePlan:
    name: str  # endpoint id and SIP user
    display_name: str | None
    webrtc: bool
    auth: str  # the auth section: `<name>-auth`
    password: str  # secret NAME


@dataclass(frozen=True)
class TrunkPlan:
    name: str
    transport: str
    codecs: tuple[str, ...]
    username: str
    register: str | None
    auth: str  # `<name>-auth`
    password: str  # secret NAME


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    port: str  # "5060" or a range "10000-10050": host and container side alike
    protocol: str  # udp | tcp

    @property
    def mapping(self) -> str:
        """Compose's short syntax, bound to `host_ip`."""
        bind = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"{bind}:{self.port}:{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Telephony:
    """The telephony stack, fully decided: what render writes to output/_telephony/ and
    what the engine runs. This is the interface between the two sides.

    - `project` (`avr-telephony`) is the compose project of `output/<folder>/
      docker-compose.yml` (`folder` is `_telephony`), which runs `asterisk` (container
      `avr-asterisk`) and, with `telephony.ami`, `ami` (`avr-ami`; None without it), both
      on the shared external network, with avrgen's labels (labels.py: avrgen.managed,
      avrgen.telephony = the context, avrgen.role = asterisk | ami; no avrgen.agent).
      Recordings go to a named volume (`recordings_volume`, same labels) mounted at
      /var/spool/asterisk/monitor.
    - The committed `my_extensions.conf`, `my_pjsip.conf`, `my_manager.conf` and
      `my_ari.conf` (CONF_RELOADS: each file and the `asterisk -rx` command that reloads
      it) are bind-mounted one by one, read-only, at `/etc/asterisk/<name>`, where the
      avr-asterisk image's sample configs `#include` them. Single-file bind mounts follow
      the inode: the writer updates these files in place (same inode), never by rename,
      so a reload in the running container reads the new bytes.
    - Secrets never reach output/. Those Asterisk reads from files are `file_secrets`:
      for each, `up` writes into `<secrets folder>/<file>` a `[section](+)` block with
      `option = value` (avrgen.fs.asterisk.additions() writes that text), files 0600 in a
      0700 folder under the state dir. The compose file mounts that folder read-only at
      SECRETS_MOUNT (`/etc/asterisk/avrgen-secrets`) from the compose variable
      SECRETS_VARIABLE (`${AVRGEN_ASTERISK_SECRETS:?...}`), which `up` sets; the committed
      `my_pjsip.conf` and `my_manager.conf` end with
      `#tryinclude "/etc/asterisk/avrgen-secrets/<file>"`. Auth sections have unique
      names (`<phone>-auth`, `<trunk>-auth`) because `[name](+)` adds to the *first*
      section of that name (AVR-PLATFORM.md, "Checked with a real Asterisk 23").
    - `env_secrets` are passed by environment like an agent's (avr-ami's AMI_PASSWORD).
    - `key_files`: with the tls transport, its certificate and key (telephony.asterisk.tls),
      bind-mounted read-only at the paths my_pjsip.conf's transport names (TLS_CERT_PATH,
      TLS_KEY_PATH) from `${NAME:?...}`: the host path is the secret's value at `up`, as
      an agent's key file; neither the path nor the bytes reach output/.
    - `published`: Asterisk's host ports (SIP, RTP; HTTP/WebSocket for webrtc phones and
      wss), bound to telephony.asterisk.publish.host_ip. `reserved` is every host port of
      the stack (published or not: SIP, TLS, RTP, AMI 5038, HTTP 8088/8089, avr-ami 6006),
      never given to an agent.
    """

    context: str
    asterisk_image: str
    ami_image: str | None
    numbers: tuple[NumberRoute, ...]
    phones: tuple[PhonePlan, ...]
    trunks: tuple[TrunkPlan, ...]
    sip_port: int
    transports: tuple[str, ...]
    rtp: tuple[int, int]
    published: tuple[PublishedPort, ...]
    reserved: tuple[int | tuple[int, int], ...]
    ami_user: str | None  # the manager.conf user avr-ami logs in as
    ami_env: tuple[tuple[str, str], ...] = ()  # avr-ami's literal env (secrets: env_secrets)
    file_secrets: tuple[FileSecret, ...] = ()
    env_secrets: tuple[EnvSecret, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # common to both containers (+ avrgen.role)
    platform: str | None = None  # `linux/amd64` when the agents' containers set it
    project: str = TELEPHONY_PROJECT
    folder: str = TELEPHONY_FOLDER
    asterisk: str = ASTERISK_CONTAINER
    ami: str | None = AMI_CONTAINER  # None without telephony.ami
    secrets_variable: str = SECRETS_VARIABLE
    secrets_mount: str = SECRETS_MOUNT
    conf_files: tuple[str, ...] = tuple(name for name, _ in CONF_RELOADS)
    recordings_volume: str = "avr-telephony-recordings"
    host: str | None = None  # which of the settings' hosts runs it (None: the default engine)
    ami_published: tuple[PublishedPort, ...] = ()  # avr-ami's port, for agents on other hosts
    # with the tls transport: its certificate and key, each a file whose host path is a
    # secret's value at `up` (compose's `${NAME:?...}`), mounted read-only into avr-asterisk
    key_files: tuple[Mount, ...] = ()

    @property
    def secrets(self) -> frozenset[str]:
        """Every secret NAME the stack needs at `up`."""
        names = self.conf_secrets | {s.secret for s in self.env_secrets}
        return frozenset(names | {m.secret for m in self.key_files if m.secret is not None})

    @property
    def conf_secrets(self) -> frozenset[str]:
        """The secrets written into the secrets files Asterisk includes (`file_secrets`)."""
        return frozenset(s.secret for s in self.file_secrets)

    def labels_for(self, role: str) -> tuple[tuple[str, str], ...]:
        """The labels of the stack's container (or volume) `role`: asterisk | ami | recordings."""
        return (*self.labels, (ROLE_LABEL, role))

    @property
    def reloads(self) -> dict[str, str]:
        """Each mounted file and the `asterisk -rx` command that reloads it."""
        return dict(CONF_RELOADS)


@dataclass(frozen=True)
class Plan:
    network: NetworkSettings
    agents: dict[str, AgentPlan]  # sorted by name
    lock: Lock
    target: Target = "compose"  # the settings' target; `render --target` may override it
    swarm: SwarmSettings = field(default_factory=SwarmSettings)
    hosts: dict[str, Host] = field(default_factory=dict)  # the settings' Docker hosts
    telephony: Telephony | None = None  # None without settings.telephony
    # the blueprint set's id: the `avrgen.set` label of everything it creates (pipeline.plan
    # always sets it: the settings' `set:`, else the one its lock records)
    set_id: str = ""

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset().union(*(a.secrets for a in self.agents.values()))

    def on_host(self, host: str | None) -> Plan:
        """The plan of one host's engine: the agents placed on it (None: the default
        engine), so that its containers of any other agent are orphans there."""
        return replace(self, agents={n: a for n, a in self.agents.items() if a.host == host})

    @property
    def hosts_in_use(self) -> list[str | None]:
        """Every host of the inventory, after the default engine when an agent runs there."""
        default: list[str | None] = (
            [None] if any(a.host is None for a in self.agents.values()) else []
        )
        return [*default, *sorted(self.hosts)]
