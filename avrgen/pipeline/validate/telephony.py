"""The call path's rules between documents: numbers, phones and trunks against the settings'
telephony, the agents, and each other.

- numbers, phones and trunks need `telephony` in the settings;
- a number has exactly one route (agent | phone | trunk), naming one that exists;
- a number is dialled once per context;
- phones and trunks share PJSIP's section names: each name, and the sections avrgen
  derives from it (`<name>-auth`, `<trunk>-reg`), is used once, and none is a section
  avrgen writes itself (transports, templates);
- a trunk's transport is one of the settings' SIP transports; a webrtc phone needs `wss`;
- the tls transport needs `telephony.asterisk.tls` (its certificate and key); those given
  without it are ignored, with a warning;
- values written into an Asterisk file must be writable there (fs/asterisk.py);
- names that would collide with the telephony stack (agent `telephony`: project
  `avr-telephony`), an AMI user called `general` (manager.conf's own section), avr-ami
  without a manager user; opus on a trunk is a warning (AVR's docs: calls hang up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from avrgen.fs.asterisk import config_problem
from avrgen.model.document import Document
from avrgen.model.names import suggest
from avrgen.model.plan import TELEPHONY_PROJECT
from avrgen.model.telephony import (
    TLS_CERT_PATH,
    TLS_KEY_PATH,
    Number,
    Phone,
    TelephonySettings,
    Trunk,
)

# the sections of my_pjsip.conf that avrgen writes whatever the blueprints say
OWN_SECTIONS = frozenset(
    {
        "transport-udp",
        "transport-tcp",
        "transport-tls",
        "transport-wss",
        "endpoint-template",
        "webrtc-template",
        "global",
        "system",
    }
)
# what the tls transport needs, as a message says it
TLS_NEEDS = "telephony.asterisk.tls {cert: {secret_file: NAME}, key: {secret_file: NAME}}"
# what a display name must not hold: callerid's own syntax ("name" <number>)
CALLERID_SPECIAL = '"<>'

Report = Callable[[Document, tuple[Any, ...], str, bool], None]


@dataclass
class TelephonyDocs:
    """The number, phone and trunk documents that passed their model, in file order."""

    numbers: list[tuple[Number, Document]] = field(default_factory=list)
    phones: dict[str, tuple[Phone, Document]] = field(default_factory=dict)
    trunks: dict[str, tuple[Trunk, Document]] = field(default_factory=dict)
    broken: dict[str, set[str]] = field(
        default_factory=lambda: {"agent": set(), "phone": set(), "trunk": set()}
    )


def where(doc: Document, path: tuple[Any, ...]) -> str:
    return f"{doc.file}:{doc.line_of(path)}"


def check_telephony(
    docs: TelephonyDocs,
    settings: TelephonySettings | None,
    settings_doc: Document | None,
    agents: set[str],
    report: Report,
) -> None:
    """Every rule of the module docstring; each problem through `report`."""
    if settings is None:
        for doc in [d for _, d in docs.numbers] + [
            d for _, d in [*docs.phones.values(), *docs.trunks.values()]
        ]:
            report(
                doc,
                ("kind",),
                f"a {doc.data['kind']} needs `telephony` in the settings (the dialplan "
                "context and the Asterisk that takes the calls)",
                False,
            )
        return
    if settings_doc is not None:
        _check_settings(settings, settings_doc, agents, report)
    _check_sections(docs, report)
    _check_numbers(docs, settings, agents, report)
    for phone, doc in docs.phones.values():
        _check_phone(phone, doc, settings, report)
    for trunk, doc in docs.trunks.values():
        _check_trunk(trunk, doc, settings, report)


def _check_settings(
    settings: TelephonySettings, doc: Document, agents: set[str], report: Report
) -> None:
    base = ("telephony",)
    manager = settings.asterisk.ami
    if settings.ami is not None and manager is None:
        report(
            doc,
            (*base, "ami"),
            "avr-ami logs in to Asterisk's manager: set telephony.asterisk.ami "
            "{username: ..., password: {secret: NAME}}",
            False,
        )
    if manager is not None and manager.username.lower() == "general":
        report(
            doc,
            (*base, "asterisk", "ami", "username"),
            "'general' is manager.conf's own section; choose another AMI user name",
            False,
        )
    if settings.ami is not None and "ami_url" in doc.data:
        report(
            doc,
            ("ami_url",),
            "ignored: with telephony.ami, providers' AMI_URL is the avr-ami avrgen runs "
            "(http://avr-ami:6006); set AMI_URL in a provider's env to override it",
            True,
        )
    _check_tls(settings, doc, report)
    if "telephony" in agents:
        report(
            doc,
            base,
            f"an agent named 'telephony' would share compose project {TELEPHONY_PROJECT!r} "
            "with the telephony stack; rename the agent",
            False,
        )


def _check_tls(settings: TelephonySettings, doc: Document, report: Report) -> None:
    """The tls transport needs its certificate and key; the files without it are unused."""
    asterisk = settings.asterisk
    transports = asterisk.sip.transports
    if "tls" in transports and asterisk.tls is None:
        report(
            doc,
            ("telephony", "asterisk", "sip", "transports", transports.index("tls")),
            f"the tls transport needs a certificate and key: {TLS_NEEDS} (mounted read-only "
            f"at {TLS_CERT_PATH} and {TLS_KEY_PATH}, where my_pjsip.conf names them)",
            False,
        )
    if asterisk.tls is not None and "tls" not in transports:
        report(
            doc,
            ("telephony", "asterisk", "tls"),
            "ignored: tls is not one of telephony.asterisk.sip.transports, so the "
            "certificate and key are not mounted (nor their secrets needed at `up`); add tls "
            "to the transports to use them, or remove telephony.asterisk.tls",
            True,
        )


def _check_sections(docs: TelephonyDocs, report: Report) -> None:
    """PJSIP's section names: each once across phones, trunks and what avrgen derives."""
    taken: dict[str, tuple[str, Document | None]] = {
        name: ("one avrgen writes itself", None) for name in OWN_SECTIONS
    }
    entries: list[tuple[str, str, Document, str]] = []  # (section, owner, doc, kind)
    for phone, doc in docs.phones.values():
        entries += [(phone.name, f"phone {phone.name!r}", doc, "phone")]
        entries += [(f"{phone.name}-auth", f"the auth of phone {phone.name!r}", doc, "phone")]
    for trunk, doc in docs.trunks.values():
        entries += [(trunk.name, f"trunk {trunk.name!r}", doc, "trunk")]
        entries += [(f"{trunk.name}-auth", f"the auth of trunk {trunk.name!r}", doc, "trunk")]
        if trunk.register is not None:
            reg = f"the registration of trunk {trunk.name!r}"
            entries += [(f"{trunk.name}-reg", reg, doc, "trunk")]
    for section, owner, doc, kind in entries:
        if section in taken:
            other, other_doc = taken[section]
            at = f" at {where(other_doc, ('name',))}" if other_doc is not None else ""
            report(
                doc,
                ("name",),
                f"{kind} name {doc.data['name']!r} makes PJSIP section [{section}], which is "
                f"already {other}{at}; phones and trunks share PJSIP's section names",
                False,
            )
        else:
            taken[section] = (owner, doc)


def _check_numbers(
    docs: TelephonyDocs, settings: TelephonySettings, agents: set[str], report: Report
) -> None:
    known = {"agent": agents, "phone": set(docs.phones), "trunk": set(docs.trunks)}
    first: dict[str, Document] = {}
    for number, doc in docs.numbers:
        given = [k for k in ("agent", "phone", "trunk") if getattr(number, k) is not None]
        if not given:
            report(doc, ("number",), "a number needs a route: one of agent, phone or trunk", False)
        elif len(given) > 1:
            report(
                doc,
                (given[1],),
                f"one route per number: {' and '.join(given)} are both given; keep one",
                False,
            )
        else:
            kind = given[0]
            name = getattr(number, kind)
            if name not in known[kind] and name not in docs.broken[kind]:
                choices = [*known[kind], *docs.broken[kind]]
                report(doc, (kind,), f"no {kind} named {name!r}{suggest(name, choices)}", False)
        if number.number in first:
            other = first[number.number]
            report(
                doc,
                ("number",),
                f"number {number.number!r} is dialled twice in context {settings.context!r} "
                f"(first at {where(other, ('number',))})",
                False,
            )
        else:
            first[number.number] = doc


def _check_phone(phone: Phone, doc: Document, settings: TelephonySettings, report: Report) -> None:
    if phone.display_name is not None:
        problem = config_problem(phone.display_name)
        if problem is None and any(c in phone.display_name for c in CALLERID_SPECIAL):
            problem = f"contains one of {CALLERID_SPECIAL}, which end a caller id's name"
        if problem is not None:
            report(
                doc,
                ("display_name",),
                f"display name {phone.display_name!r} cannot be written into pjsip.conf: "
                f"it {problem}",
                False,
            )
    if phone.webrtc and "wss" not in settings.asterisk.sip.transports:
        report(
            doc,
            ("webrtc",),
            "a webrtc phone registers over a secure WebSocket: add wss to the settings' "
            "telephony.asterisk.sip.transports (or set webrtc: false for a plain SIP phone)",
            False,
        )


def _check_trunk(trunk: Trunk, doc: Document, settings: TelephonySettings, report: Report) -> None:
    transports = settings.asterisk.sip.transports
    if trunk.transport not in transports:
        needs = (
            f"; tls also needs {TLS_NEEDS}"
            if trunk.transport == "tls" and settings.asterisk.tls is None
            else ""
        )
        report(
            doc,
            ("transport",),
            f"transport {trunk.transport!r} is not one of the settings' "
            f"telephony.asterisk.sip.transports ({', '.join(transports) or 'none'}){needs}",
            False,
        )
    if "opus" in trunk.codecs:
        report(
            doc,
            ("codecs", trunk.codecs.index("opus")),
            "opus on a trunk: AVR's docs warn that Opus calls hang up; carriers use ulaw/alaw",
            True,
        )
