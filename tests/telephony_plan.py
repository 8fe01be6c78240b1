"""A planned telephony stack with nothing in it, for the unit tests of what reads one."""

from __future__ import annotations

from typing import Any

from avrgen.model.plan import Telephony


def bare_telephony(**fields: Any) -> Telephony:
    """A stack with no numbers, phones or trunks on udp; `fields` replace those defaults."""
    defaults: dict[str, Any] = {
        "context": "demo",
        "asterisk_image": "asterisk",
        "ami_image": None,
        "numbers": (),
        "phones": (),
        "trunks": (),
        "sip_port": 5060,
        "transports": ("udp",),
        "rtp": (10000, 10050),
        "published": (),
        "reserved": (),
        "ami_user": None,
    }
    return Telephony(**{**defaults, **fields})
