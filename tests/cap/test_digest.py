"""cap.digest: the content of a message, whatever its blanks between elements and signatures."""

from __future__ import annotations

import pytest

from cap import CapError
from cap.digest import content_digest

ALERT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    b"<identifier>D-1</identifier><sender>s@example.org</sender><note>two  words</note>"
    b"<info><headline>Flood</headline></info></alert>"
)
SIGNATURE = (
    b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/>'
    b"<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
)


def test_blanks_between_elements_declaration_and_signature_do_not_count() -> None:
    base = content_digest(ALERT)
    indented = ALERT.replace(b"><", b">\n  <")
    assert content_digest(indented) == base
    assert content_digest(ALERT.replace(b"</alert>", SIGNATURE + b"</alert>")) == base
    assert content_digest(ALERT.split(b"\n", 1)[1]) == base  # no XML declaration
    assert content_digest(ALERT.replace(b"<alert ", b"<!-- relayed --><alert ")) == base
    assert content_digest(ALERT.replace(b"<alert ", b'<?xml-stylesheet href="cap.xsl"?><alert ')) == base


def test_content_counts() -> None:
    base = content_digest(ALERT)
    assert content_digest(ALERT.replace(b"two  words", b"two words")) != base
    assert content_digest(ALERT.replace(b"Flood", b"Floods")) != base
    assert content_digest(ALERT.replace(b"<note>two  words</note>", b"")) != base


def test_unreadable_bytes_raise_cap_error() -> None:
    with pytest.raises(CapError):
        content_digest(b"<alert>")
