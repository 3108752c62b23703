"""A CAP 1.0 <password> never leaves: `cap.redaction.redact_password` empties it, namespace-aware,
and keeps every other byte of the message."""

from __future__ import annotations

import pytest

from cap.errors import CapError
from cap.redaction import redact_password
from tests.cap.test_rules import CAP10

SECRET = "s3cret-redaction"
WITH_PASSWORD = CAP10.replace(
    "<msgType>Alert</msgType>", f"<msgType>Alert</msgType>\n  <password>{SECRET}</password>"
).encode()
REDACTED = WITH_PASSWORD.replace(SECRET.encode(), b"")


def test_the_password_text_is_removed_and_every_other_byte_kept() -> None:
    assert redact_password(WITH_PASSWORD) == REDACTED


@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET[:4]}<!-- a comment -->{SECRET[4:]}",
        f"<![CDATA[{SECRET}]]>",
        f"{SECRET[:2]}<x>{SECRET[2:6]}</x>{SECRET[6:]}",
        f"\n    {SECRET}\n  ",
    ],
)
def test_everything_inside_the_password_goes(content: str) -> None:
    data = WITH_PASSWORD.replace(
        f"<password>{SECRET}</password>".encode(), f"<password>{content}</password>".encode()
    )
    assert redact_password(data) == REDACTED


def test_a_prefixed_password_in_the_cap_10_namespace_is_found_and_the_prolog_kept() -> None:
    data = (
        WITH_PASSWORD.replace(b"<alert xmlns=", b"<!-- relayed -->\n<cap:alert xmlns:cap=")
        .replace(b"</alert>", b"</cap:alert>")
        .replace(b"<password>", b"<cap:password>")
        .replace(b"</password>", b"</cap:password>")
    )
    redacted = redact_password(data)
    assert redacted == data.replace(SECRET.encode(), b"")


def test_a_password_in_another_namespace_is_left_alone_and_the_bytes_are_the_same() -> None:
    data = WITH_PASSWORD.replace(
        f"<password>{SECRET}</password>".encode(), b"<p:password xmlns:p='urn:other'>kept</p:password>"
    )
    assert redact_password(data) is data
    plain = CAP10.encode()
    assert redact_password(plain) is plain


def test_a_utf16_message_loses_its_password_too() -> None:
    data = WITH_PASSWORD.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    redacted = redact_password(data).decode("utf-16")
    assert SECRET not in redacted and "<password></password>" in redacted
    assert "<areaDesc>EXTREME NORTH CENTRAL TUOLUMNE COUNTY</areaDesc>" in redacted


def test_what_is_not_safe_xml_is_refused_not_passed_through() -> None:
    with pytest.raises(CapError):
        redact_password(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
