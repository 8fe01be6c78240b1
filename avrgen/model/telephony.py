"""The call path's blueprint documents: `number`, `phone`, `trunk`, and `settings.telephony`.

Their fields as DESIGN.md gives them. Rules between documents (one route per number, a
number dialled once per context, references, transports) live in pipeline/validate/.
"""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from avrgen.model.fields import (
    AgentName,
    HostIp,
    HostName,
    Port,
    PortRange,
    Range,
    Secret,
    Text,
)
from avrgen.model.mounts import SecretFile, SecretFileSchema

# What callers dial: digits with an optional leading +, or an Asterisk pattern: `_`, then
# digits, X (0-9), Z (1-9), N (2-9), `*`, `#`, `+` or a [class] of digits and ranges,
# optionally ending in `.` (one or more characters) or `!` (zero or more).
LITERAL_NUMBER_RE = re.compile(r"^\+?[0-9]{1,32}$")
PATTERN_NUMBER_RE = re.compile(r"^_(?:[0-9XZNxzn*#+]|\[[0-9]+(?:-[0-9][0-9]*)*\]){1,40}[.!]?$")
NUMBER_RE = re.compile(f"{LITERAL_NUMBER_RE.pattern}|{PATTERN_NUMBER_RE.pattern}")
# phones, trunks and the AMI user: section names in pjsip.conf/manager.conf and dial strings
SIP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
# the dialplan context: a section name of extensions.conf (Asterisk keeps up to 79 bytes)
CONTEXT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,78}$")
# where a trunk registers: a host name or IPv4 address, optionally with a port
REGISTER_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$")

NumberText = Annotated[str, StringConstraints(pattern=NUMBER_RE.pattern)]
SipName = Annotated[str, StringConstraints(pattern=SIP_NAME_RE.pattern)]
ContextName = Annotated[str, StringConstraints(pattern=CONTEXT_RE.pattern)]
RegisterTarget = Annotated[str, StringConstraints(pattern=REGISTER_RE.pattern)]


def _secret_only(value: object) -> object:
    """A password is `{secret: NAME}`: a literal one would be written into output/."""
    if isinstance(value, dict | Secret):
        return value
    raise ValueError("expected {secret: NAME}; a password is never written in a blueprint")


Password = Annotated[Secret, BeforeValidator(_secret_only)]


def _secret_file_only(value: object) -> object:
    """A certificate or key is `{secret_file: NAME}`: a host path in a blueprint would be
    written into output/ (and a key's path is the operator's to keep)."""
    if isinstance(value, dict | SecretFile):
        return value
    raise ValueError(
        "expected {secret_file: NAME}: the file's host path is the value of the secret NAME "
        "at `avrgen up`, never written in a blueprint"
    )


KeyFile = Annotated[
    SecretFile, BeforeValidator(_secret_file_only), WithJsonSchema(SecretFileSchema)
]

# the stack's fixed ports (the avr-asterisk image's manager.conf, http.conf; avr-ami's PORT)
TLS_PORT = 5061
AMI_PORT = 5038
HTTP_PORT = 8088
HTTPS_PORT = 8089
AVR_AMI_PORT = 6006
# where my_pjsip.conf's tls transport reads its certificate and private key (cert_file,
# priv_key_file), and where `up` mounts telephony.asterisk.tls's files, read-only
TLS_CERT_PATH = "/etc/asterisk/keys/asterisk.crt"
TLS_KEY_PATH = "/etc/asterisk/keys/asterisk.key"

Transport = Literal["udp", "tcp", "tls", "wss"]
TRANSPORTS: tuple[str, ...] = ("udp", "tcp", "tls", "wss")
# codecs Asterisk 23 knows by these names (`core show codecs`); the telephony ones first
Codec = Literal[
    "ulaw", "alaw", "g722", "g729", "gsm", "g726", "ilbc", "speex", "slin", "slin16", "opus"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SipSettings(_Strict):
    port: Port = 5060  # UDP and TCP; TLS listens on TLS_PORT
    transports: Annotated[tuple[Transport, ...], Field(min_length=1)] = ("udp", "tcp")


class TelephonyPublish(_Strict):
    """Where Asterisk's SIP and RTP ports bind; None: the settings' publish.host_ip."""

    host_ip: HostIp | None = None


class ManagerUser(_Strict):
    """The AMI user avr-ami logs in as (a section of manager.conf)."""

    username: SipName = "avr"
    password: Password


class TlsFiles(_Strict):
    """The `tls` transport's certificate and private key (PEM): host files whose paths are
    secrets' values at `up`, mounted read-only at TLS_CERT_PATH and TLS_KEY_PATH."""

    cert: KeyFile
    key: KeyFile


class AsteriskSettings(_Strict):
    image: Text = "agentvoiceresponse/avr-asterisk:1.5.1"
    sip: SipSettings = SipSettings()
    rtp: Range = PortRange(low=10000, high=10050)
    publish: TelephonyPublish = TelephonyPublish()
    ami: ManagerUser | None = None
    tls: TlsFiles | None = None  # needed with the tls transport; ignored (a warning) without


class AmiPublish(_Strict):
    """Where avr-ami's port is published, for providers on other hosts (settings.hosts)."""

    host_ip: HostIp


class AmiSettings(_Strict):
    """avr-ami, which the STS and LLM providers' tools call (`AMI_URL`)."""

    image: Text = "agentvoiceresponse/avr-ami:1.1.1"
    # None: on the shared network only, where the agents of the stack's own host reach it
    publish: AmiPublish | None = None


class TelephonySettings(_Strict):
    context: ContextName = "demo"
    host: HostName | None = None  # which of the settings' hosts runs it; None: the default
    asterisk: AsteriskSettings = AsteriskSettings()
    ami: AmiSettings | None = None

    def host_ports(self) -> tuple[int | PortRange, ...]:
        """Every host port of the stack, published or not: SIP (and TLS), RTP, AMI, HTTP
        and HTTPS (ARI, WebSocket), avr-ami's. No agent port may be allocated on them."""
        sip = self.asterisk.sip
        tls = (TLS_PORT,) if "tls" in sip.transports else ()
        return (sip.port, *tls, self.asterisk.rtp, AMI_PORT, HTTP_PORT, HTTPS_PORT, AVR_AMI_PORT)


class Number(_Strict):
    kind: Literal["number"]
    number: NumberText
    agent: AgentName | None = None
    phone: SipName | None = None
    trunk: SipName | None = None
    recording: bool = False
    denoise: bool = True

    @property
    def route(self) -> tuple[str, str] | None:
        """(kind, name) of the one route, or None when not exactly one is given."""
        given = [(k, v) for k, v in (("agent", self.agent), ("phone", self.phone),
                                      ("trunk", self.trunk)) if v is not None]  # fmt: skip
        return given[0] if len(given) == 1 else None


class Phone(_Strict):
    kind: Literal["phone"]
    name: SipName
    display_name: Text | None = None
    password: Password
    webrtc: bool = False  # true: a browser phone (the dashboard's webrtc-template, over wss)


# `register` is the field's name in the blueprint; pydantic warns that it shadows ABCMeta's
# classmethod of that name on the class (instances read the field, nothing calls the other)
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class Trunk(_Strict):
        kind: Literal["trunk"]
        name: SipName
        transport: Transport = "udp"
        codecs: Annotated[tuple[Codec, ...], Field(min_length=1)] = ("ulaw", "alaw")
        username: SipName | None = None  # default: the name
        password: Password
        register: RegisterTarget | None = None

        @property
        def user(self) -> str:
            return self.username or self.name
