"""XML-DSig verification of CAP alerts: statuses for real signers and for tampered messages."""

from __future__ import annotations

import base64
import copy
import csv
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLSigner

import cap
from cap.report import (
    BAD_DIGEST,
    BAD_SIGNATURE,
    UNSIGNED,
    UNTRUSTED_OR_EXPIRED_CERT,
    UNVERIFIABLE,
    VERIFIED,
)
from cap.signature import DS, verify_signature
from cap.trust import TrustAnchors
from tests.conftest import SHARED

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"

ALERT = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>TAMPERE-TEST-0001</identifier>
  <sender>met@example.org</sender>
  <sent>2025-03-01T10:00:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Storm</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>Severe storm over the coast</headline>
    <area>
      <areaDesc>Coast</areaDesc>
      <polygon>60.0,24.0 60.5,24.0 60.5,25.0 60.0,24.0</polygon>
    </area>
  </info>
</alert>"""

NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
NOT_AFTER = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: Signer | None,
    *,
    ca: bool,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.cert.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        # RFC 5280 §4.2.1.3: a CA certificate says it signs certificates (keyCertSign).
        builder = builder.add_extension(CA_KEY_USAGE, critical=True)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


@pytest.fixture(scope="module")
def ca() -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, _certificate("Tampere Test Root CA", key, None, ca=True))


@pytest.fixture(scope="module")
def other_ca() -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, _certificate("Some Other CA", key, None, ca=True))


@pytest.fixture(scope="module")
def signer(ca: Signer) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, _certificate("met.example.org", key, ca, ca=False))


@pytest.fixture(scope="module")
def ec_signer() -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, _certificate("ec.example.org", key, None, ca=False))


def _sign(
    signer: Signer,
    alert: bytes = ALERT,
    *,
    method: SignatureMethod = SignatureMethod.RSA_SHA256,
    with_cert: bool = True,
) -> bytes:
    root = etree.fromstring(alert)
    xml_signer = XMLSigner(signature_algorithm=method)
    signed = xml_signer.sign(root, key=signer.key, cert=[signer.cert_pem] if with_cert else None)
    return etree.tostring(signed)


def _root(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def _ds(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path.replace("ds:", f"{{{DS}}}"))
    assert found is not None, path
    return found


# --- messages we sign ourselves -----------------------------------------------------------


def test_signed_alert_verifies_and_names_the_signer(signer: Signer, ca: Signer) -> None:
    result = verify_signature(_root(_sign(signer)), trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert result.signer == "CN=met.example.org"
    assert result.count == 1


def test_signature_without_a_trust_anchor_is_untrusted_but_its_value_checked(signer: Signer) -> None:
    # A signature proves a key signed; that the key is the sender's is configuration.
    result = verify_signature(_root(_sign(signer)))
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "no trust anchor is configured for sender 'met@example.org'" in result.detail
    assert "signature value verifies" in result.detail
    assert result.signer == "CN=met.example.org"


def test_ecdsa_signature_verifies(ec_signer: Signer) -> None:
    # ec.example.org's certificate is self-signed: configured as its own anchor (pinned).
    signed = _root(_sign(ec_signer, method=SignatureMethod.ECDSA_SHA256))
    result = verify_signature(signed, trusted_certs=[ec_signer.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert "signing certificate is a trust anchor" in result.detail


def test_changed_text_is_bad_digest(signer: Signer) -> None:
    signed = _sign(signer).replace(b"Severe storm over the coast", b"No storm over the coast")
    result = verify_signature(_root(signed))
    assert result.status == BAD_DIGEST
    assert "Reference 0" in result.detail


def test_comments_are_outside_what_an_enveloped_signature_covers(signer: Signer, ca: Signer) -> None:
    # XML-DSig §4.4.3.3: URI="" selects the document without its comments.
    root = _root(_sign(signer))
    root.insert(0, etree.Comment(" relayed by a feed aggregator "))
    assert verify_signature(root, trusted_certs=[ca.cert_pem]).status == VERIFIED


def test_altered_signature_value_is_bad_signature(signer: Signer) -> None:
    root = _root(_sign(signer))
    value = _ds(root, "ds:Signature/ds:SignatureValue")
    raw = bytearray(base64.b64decode(value.text or ""))
    raw[10] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    result = verify_signature(root)
    assert result.status == BAD_SIGNATURE
    assert "SignatureValue does not verify" in result.detail


def test_digest_value_with_altered_padding_bits_is_bad_digest(signer: Signer) -> None:
    # Lenient base64 decoders read "...A=" and "...B=" as the same bytes; base64Binary does not.
    root = _root(_sign(signer))
    digest = _ds(root, "ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue")
    text = (digest.text or "").strip()
    assert text.endswith("=") and not text.endswith("==")  # SHA-256: 32 bytes, one "="
    bumped = chr(ord(text[-2]) + 1) if text[-2] not in "9+/Zz" else "B"
    digest.text = text[:-2] + bumped + "="
    assert base64.b64decode(digest.text) == base64.b64decode(text)
    result = verify_signature(root)
    assert result.status == BAD_DIGEST
    assert "base64Binary" in result.detail


def test_certificate_not_valid_at_sent_time_is_untrusted_or_expired(ca: Signer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    expired = Signer(
        key,
        _certificate(
            "old.example.org",
            key,
            ca,
            ca=False,
            not_before=NOT_BEFORE,
            not_after=datetime(2025, 2, 1, tzinfo=UTC),
        ),
    )
    root = _root(_sign(expired))
    # <sent> 2025-03-01 is after the certificate expired, although it chains to the anchor.
    result = verify_signature(root, trusted_certs=[ca.cert_pem])
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "not valid at 2025-03-01T08:00:00+00:00" in result.detail
    assert "expired" in result.detail
    # The caller may check at another time, e.g. when the message was received (RFC 5280:
    # then every certificate of the chain must be valid at that time, the anchor's too).
    in_window = verify_signature(root, at=datetime(2025, 1, 15, tzinfo=UTC), trusted_certs=[ca.cert_pem])
    assert in_window.status == VERIFIED, in_window.detail


def test_expired_certificate_with_tampered_content_is_bad_digest(ca: Signer) -> None:
    # The value is checked before trust: tampering is named as tampering, not as an old key.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    old = _certificate("old.example.org", key, ca, ca=False, not_after=datetime(2025, 2, 1, tzinfo=UTC))
    signed = _sign(Signer(key, old)).replace(b"Severe storm", b"Mild storm")
    assert verify_signature(_root(signed), trusted_certs=[ca.cert_pem]).status == BAD_DIGEST


def test_explicit_time_outside_validity_is_untrusted(signer: Signer, ca: Signer) -> None:
    root = _root(_sign(signer))
    result = verify_signature(root, at=NOT_AFTER + timedelta(days=1), trusted_certs=[ca.cert_pem])
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT


def test_chain_to_the_configured_ca_verifies(signer: Signer, ca: Signer) -> None:
    result = verify_signature(_root(_sign(signer)), trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert "chains to CN=Tampere Test Root CA, a trust anchor of sender 'met@example.org'" in result.detail


def test_trusted_der_leaf_certificate_verifies(signer: Signer) -> None:
    der = signer.cert.public_bytes(serialization.Encoding.DER)
    result = verify_signature(_root(_sign(signer)), trusted_certs=[der])
    assert result.status == VERIFIED, result.detail


def test_chain_to_another_ca_is_untrusted(signer: Signer, other_ca: Signer) -> None:
    result = verify_signature(_root(_sign(signer)), trusted_certs=[other_ca.cert_pem])
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "does not chain to a trust anchor" in result.detail


def test_unreadable_trust_anchor_is_a_configuration_error(signer: Signer) -> None:
    with pytest.raises(ValueError, match=r"trusted_certs\[0\]"):
        verify_signature(_root(_sign(signer)), trusted_certs=[b"not a certificate"])


def test_signature_without_key_info_is_unverifiable(signer: Signer) -> None:
    root = _root(_sign(signer))
    signature = _ds(root, "ds:Signature")
    signature.remove(_ds(signature, "ds:KeyInfo"))
    result = verify_signature(root)
    assert result.status == UNVERIFIABLE
    assert "no key material" in result.detail


def test_certificate_named_but_not_embedded_is_unverifiable(signer: Signer) -> None:
    root = _root(_sign(signer))
    x509_data = _ds(root, "ds:Signature/ds:KeyInfo/ds:X509Data")
    for child in list(x509_data):
        x509_data.remove(child)
    etree.SubElement(x509_data, f"{{{DS}}}X509SubjectName").text = "CN=met.example.org"
    result = verify_signature(root)
    assert result.status == UNVERIFIABLE
    assert "X509SubjectName" in result.detail


def test_bare_key_value_verifies_only_against_a_pinned_key(signer: Signer, ca: Signer) -> None:
    root = _root(_sign(signer, with_cert=False))
    assert root.find(f".//{{{DS}}}RSAKeyValue") is not None
    result = verify_signature(root)
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT, result.detail
    assert result.signer is None
    assert "signer is not identified" in result.detail
    # A bare key proves nothing about who signed once trust is asked for.
    assert verify_signature(root, trusted_certs=[ca.cert_pem]).status == UNTRUSTED_OR_EXPIRED_CERT
    pinned = verify_signature(root, trusted_certs=[signer.cert_pem])
    assert pinned.status == VERIFIED, pinned.detail


def test_unsigned_alert() -> None:
    result = verify_signature(_root(ALERT))
    assert (result.status, result.signer, result.count) == (UNSIGNED, None, 0)


def test_signature_nested_below_the_alert_does_not_count(signer: Signer) -> None:
    # CAP 1.2 §3.3.2.1: the signature is enveloped as a child of <alert>, nowhere else.
    signature = _ds(_root(_sign(signer)), "ds:Signature")
    root = _root(ALERT)
    info = root.find(f"{{{CAP12}}}info")
    assert info is not None
    info.append(signature)
    assert verify_signature(root).status == UNSIGNED


def test_without_sent_time_the_chain_is_checked_now_and_said_so(signer: Signer, ca: Signer) -> None:
    no_sent = ALERT.replace(b"  <sent>2025-03-01T10:00:00+02:00</sent>\n", b"")
    signed = _root(_sign(signer, no_sent))
    # The test certificates are valid in 2025 only: at any later present they have expired.
    result = verify_signature(signed, trusted_certs=[ca.cert_pem])
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT, result.detail
    assert "no <sent> time: checked at the present time" in result.detail
    assert verify_signature(signed, trusted_certs=[ca.cert_pem], at=NOT_BEFORE).status == VERIFIED


def test_legacy_sha1_signature_is_accepted_and_named(signer: Signer, ca: Signer) -> None:
    xml_signer = XMLSigner()
    # signxml refuses to create SHA-1 signatures; CAP signers (NAADS, NWS, USGS) still do.
    xml_signer.sign_alg = SignatureMethod.RSA_SHA1
    xml_signer.digest_alg = DigestAlgorithm.SHA1
    signed = xml_signer.sign(_root(ALERT), key=signer.key, cert=[signer.cert_pem])
    result = verify_signature(_root(etree.tostring(signed)), trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert "RSA_SHA1" in result.detail and "reference digest uses SHA-1" in result.detail


def test_signed_then_pretty_printed_alert_verifies_with_a_note(signer: Signer, ca: Signer) -> None:
    compact = etree.tostring(etree.fromstring(ALERT, etree.XMLParser(remove_blank_text=True)))
    root = _root(_sign(signer, compact))
    etree.indent(root)
    result = verify_signature(root, trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert "whitespace between elements ignored" in result.detail
    headline = root.find(f".//{{{CAP12}}}headline")
    assert headline is not None
    headline.text = "All clear"
    assert verify_signature(root).status == BAD_DIGEST


def test_co_signed_alert_reports_the_worst_signature(signer: Signer, ec_signer: Signer, ca: Signer) -> None:
    # Two parties sign the same alert independently and both signatures are attached (NAADS).
    first = _ds(_root(_sign(signer)), "ds:Signature")
    second = _ds(_root(_sign(ec_signer, method=SignatureMethod.ECDSA_SHA256)), "ds:Signature")
    root = _root(ALERT)
    root.append(first)
    root.append(second)
    # Both are the sender's: the CA of one, the (self-signed, pinned) certificate of the other.
    anchors = [ca.cert_pem, ec_signer.cert_pem]
    result = verify_signature(root, trusted_certs=anchors)
    assert result.status == VERIFIED, result.detail
    assert result.count == 2
    assert result.signer == "CN=met.example.org; CN=ec.example.org"
    # One signature without its anchor makes the alert untrusted: the worst one counts.
    assert verify_signature(root, trusted_certs=[ca.cert_pem]).status == UNTRUSTED_OR_EXPIRED_CERT
    value = _ds(second, "ds:SignatureValue")
    raw = bytearray(base64.b64decode(value.text or ""))
    raw[-1] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    result = verify_signature(root, trusted_certs=anchors)
    assert result.status == BAD_SIGNATURE
    assert "signature 2: SignatureValue does not verify" in result.detail


def test_signed_alert_inside_a_feed_verifies(signer: Signer, ca: Signer) -> None:
    feed = etree.fromstring(
        b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss">'
        b'<entry><content type="text/xml"/></entry></feed>'
    )
    content = feed.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}content")
    assert content is not None
    content.append(_root(_sign(signer)))
    result = verify_signature(content[0], trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail


def test_verifying_leaves_the_callers_tree_as_it_was(signer: Signer, ec_signer: Signer, ca: Signer) -> None:
    # Signatures are cut out of a private copy: the caller's tree is never edited, not briefly.
    root = _root(ALERT)
    for signed in (_sign(signer), _sign(ec_signer, method=SignatureMethod.ECDSA_SHA256)):
        root.append(_ds(_root(signed), "ds:Signature"))
    root.addprevious(etree.ProcessingInstruction("xml-stylesheet", 'href="cap.xsl"'))
    before = etree.tostring(root.getroottree())
    result = verify_signature(root, trusted_certs=[ca.cert_pem, ec_signer.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert etree.tostring(root.getroottree()) == before


def test_signed_alert_beside_a_stylesheet_instruction_verifies(signer: Signer, ca: Signer) -> None:
    # WMO alerts start with <?xml-stylesheet?>: libxml2 canonicalises a root with siblings
    # through a temporary document and would write xmlns="" on its grandchildren.
    stylesheet = b'<?xml-stylesheet href="cap.xsl" type="text/xsl"?>\n'
    root = _root(stylesheet + _sign(signer))
    assert root.getprevious() is not None
    result = verify_signature(root, trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail


def test_alert_copied_out_of_a_feed_verifies(signer: Signer, ca: Signer) -> None:
    # cap.feeds checks a deep copy of each embedded alert; lxml copies the text after it too,
    # which leaves the copy beside a text node (the same temporary-document trap as above).
    feed = etree.fromstring(
        b'<feed xmlns="http://www.w3.org/2005/Atom">\n <entry>\n  <content type="text/xml">\n'
        + _sign(signer)
        + b"\n  </content>\n </entry>\n</feed>"
    )
    copied = copy.deepcopy(feed[0][0][0])
    assert copied.getparent() is None and copied.tail
    result = verify_signature(copied, trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert verify_signature(feed[0][0][0], trusted_certs=[ca.cert_pem]).status == VERIFIED


_C14N = '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
_RSA = '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
_SHA256 = '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
_ENVELOPED = (
    "<ds:Transforms><ds:Transform "
    'Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>'
)

# name -> (content of ds:Signature, expected status)
_GARBAGE = {
    "text only": ("hello", BAD_SIGNATURE),
    "empty SignedInfo": (
        "<ds:SignedInfo/><ds:SignatureValue>AA==</ds:SignatureValue>",
        BAD_SIGNATURE,
    ),
    "no Reference": (
        f"<ds:SignedInfo>{_C14N}{_RSA}</ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue>",
        BAD_SIGNATURE,
    ),
    "unknown algorithms": (
        '<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="x"/>'
        '<ds:SignatureMethod Algorithm="urn:nope"/><ds:Reference URI="">'
        '<ds:DigestMethod Algorithm="urn:nope"/><ds:DigestValue>AA==</ds:DigestValue>'
        "</ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue>",
        UNVERIFIABLE,
    ),
    "DigestValue not base64": (
        f'<ds:SignedInfo>{_C14N}{_RSA}<ds:Reference URI="">{_SHA256}'
        "<ds:DigestValue>%%%</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>***</ds:SignatureValue>",
        BAD_DIGEST,
    ),
    "XSLT transform": (
        f'<ds:SignedInfo>{_C14N}{_RSA}<ds:Reference URI=""><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/></ds:Transforms>'
        f"{_SHA256}<ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>AA==</ds:SignatureValue>",
        UNVERIFIABLE,
    ),
    "SignatureValue not base64": (
        f'<ds:SignedInfo>{_C14N}{_RSA}<ds:Reference URI="">{_ENVELOPED}{_SHA256}'
        "<ds:DigestValue>@DIGEST@</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>not base64!</ds:SignatureValue>"
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>@CERT@</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo>",
        BAD_SIGNATURE,
    ),
    "certificate is not DER": (
        f'<ds:SignedInfo>{_C14N}{_RSA}<ds:Reference URI="">{_ENVELOPED}{_SHA256}'
        "<ds:DigestValue>@DIGEST@</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>AA==</ds:SignatureValue>"
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>aGVsbG8=</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo>",
        BAD_SIGNATURE,
    ),
    "RSA key with zero modulus": (
        f'<ds:SignedInfo>{_C14N}{_RSA}<ds:Reference URI="">{_ENVELOPED}{_SHA256}'
        "<ds:DigestValue>@DIGEST@</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>AA==</ds:SignatureValue><ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue>"
        "<ds:Modulus>AA==</ds:Modulus><ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue>"
        "</ds:KeyValue></ds:KeyInfo>",
        UNVERIFIABLE,
    ),
    "HMAC needs a shared secret": (
        "<ds:SignedInfo>"
        f'{_C14N}<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"/>'
        f'<ds:Reference URI="">{_ENVELOPED}{_SHA256}'
        "<ds:DigestValue>@DIGEST@</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>AA==</ds:SignatureValue><ds:KeyInfo><ds:KeyName>k</ds:KeyName>"
        "</ds:KeyInfo>",
        UNVERIFIABLE,
    ),
}


def _with_signature(content: str, signer: Signer | None = None) -> etree._Element:
    if "@DIGEST@" in content:
        # A correct digest, so that what comes after the reference check is what is reached.
        digest = hashes.Hash(hashes.SHA256())
        digest.update(etree.tostring(_root(ALERT), method="c14n", exclusive=True))
        content = content.replace("@DIGEST@", base64.b64encode(digest.finalize()).decode())
    if "@CERT@" in content and signer is not None:
        der = signer.cert.public_bytes(serialization.Encoding.DER)
        content = content.replace("@CERT@", base64.b64encode(der).decode())
    root = _root(ALERT)
    root.append(etree.fromstring(f'<ds:Signature xmlns:ds="{DS}">{content}</ds:Signature>'))
    return root


@pytest.mark.parametrize("garbage", sorted(_GARBAGE))
def test_garbage_inside_a_signature_gives_a_status_not_an_exception(garbage: str, signer: Signer) -> None:
    content, expected = _GARBAGE[garbage]
    result = verify_signature(_with_signature(content, signer))
    assert result.status == expected, result.detail
    assert result.count == 1 and result.detail


def test_external_reference_is_not_fetched() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/alert.xml"
        content = (
            f'<ds:SignedInfo>{_C14N}{_RSA}<ds:Reference URI="{url}">{_SHA256}'
            "<ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>"
            "<ds:SignatureValue>AA==</ds:SignatureValue><ds:KeyInfo><ds:RetrievalMethod "
            f'URI="{url}"/></ds:KeyInfo>'
        )
        result = verify_signature(_with_signature(content))
        assert result.status == UNVERIFIABLE
        assert "does not cover the whole alert" in result.detail
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_too_many_signatures_are_not_all_checked(signer: Signer) -> None:
    signature = _ds(_root(_sign(signer)), "ds:Signature")
    root = _root(ALERT)
    for _ in range(50):
        root.append(etree.fromstring(etree.tostring(signature)))
    result = verify_signature(root)
    assert result.status == UNVERIFIABLE and result.count == 50


_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _sign_with_inclusive_prefix(signer: Signer, prefix: str) -> etree._Element:
    """An alert declaring `prefix` without using it, signed with it in the reference's PrefixList."""
    alert = ALERT.replace(b'cap:1.2">', f'cap:1.2" xmlns:{prefix}="urn:example:unused">'.encode())
    root = _root(alert)
    canonical = etree.tostring(root, method="c14n", exclusive=True, inclusive_ns_prefixes=[prefix])
    assert f"xmlns:{prefix}".encode() in canonical
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical)
    der = signer.cert.public_bytes(serialization.Encoding.DER)
    signature = etree.fromstring(
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{_EXC}"/>{_RSA}<ds:Reference URI="">'
        f'<ds:Transforms><ds:Transform Algorithm="{DS}enveloped-signature"/>'
        f'<ds:Transform Algorithm="{_EXC}"><ec:InclusiveNamespaces xmlns:ec="{_EXC}" '
        f'PrefixList="{prefix}"/></ds:Transform></ds:Transforms>{_SHA256}'
        f"<ds:DigestValue>{base64.b64encode(digest.finalize()).decode()}</ds:DigestValue>"
        "</ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data>"
        f"<ds:X509Certificate>{base64.b64encode(der).decode()}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
    root.append(signature)
    signed_info = etree.tostring(_ds(root, "ds:Signature/ds:SignedInfo"), method="c14n", exclusive=True)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    value = signer.key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
    _ds(root, "ds:Signature/ds:SignatureValue").text = base64.b64encode(value).decode()
    return root


def test_inclusive_prefix_declared_but_unused_verifies_in_another_thread(signer: Signer, ca: Signer) -> None:
    # Exclusive c14n renders PrefixList namespaces even when unused. lxml only keeps prefixes
    # its thread's name dictionary knows, and a tree read by another thread may not be known
    # here: the verifier must not lose the declaration (the digest would then mismatch).
    built: list[etree._Element] = []
    worker = threading.Thread(
        target=lambda: built.append(_sign_with_inclusive_prefix(signer, "tampereunusedpfx"))
    )
    worker.start()
    worker.join()
    result = verify_signature(built[0], trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    signed_here = _sign_with_inclusive_prefix(signer, "tampereunusedpfx")
    result = verify_signature(signed_here, trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail


# --- the shared CAP corpus --------------------------------------------------------------------

CORPUS = SHARED / "corpus" / "cap"


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not (CORPUS / "manifest.tsv").is_file():
        pytest.skip("shared CAP corpus not present")
    return CORPUS


def _signed_rows(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "manifest.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        row
        for row in rows
        if row["file"].endswith(".xml")
        and (row["layer"] == "signature" or "signed" in row["file"] or "sign" in row["reason"])
    ]


def _embedded_certificates(root: etree._Element) -> list[bytes]:
    """The DER certificates a message carries: pinned as its sender's anchors where a test says so."""
    return [
        base64.b64decode("".join((el.text or "").split())) for el in root.iter(f"{{{DS}}}X509Certificate")
    ]


# Verified independently below: the signer's DSA signature over SignedInfo is genuine, so the
# alert text itself was changed after NTWC signed it (the fixture comes from KDE's test data).
CHANGED_AFTER_SIGNING = {"valid/ntwc_tsunami-signed.xml"}


@pytest.mark.corpus
def test_corpus_signature_statuses_follow_the_manifest(corpus: Path) -> None:
    rows = _signed_rows(corpus)
    assert len(rows) >= 15
    table = []
    for row in rows:
        root = etree.parse(str(corpus / row["file"])).getroot()
        result = verify_signature(root)
        table.append((row, result))
    width = max(len(row["file"]) for row, _ in table)
    print()
    for row, result in table:
        print(f"{row['file']:<{width}}  {row['expected']:<7}  {row['layer']:<12}  {result.status}")
    broken = (BAD_DIGEST, BAD_SIGNATURE)
    for row, result in table:
        where = f"{row['file']}: {result.status}: {result.detail}"
        if row["layer"] == "signature" and row["expected"] == "valid":
            assert result.status not in broken, where
        elif row["layer"] == "signature":
            assert result.status in (*broken, UNTRUSTED_OR_EXPIRED_CERT), where
        elif row["file"] in CHANGED_AFTER_SIGNING:
            assert result.status == BAD_DIGEST, where
        else:
            assert result.status not in broken, where
    statuses = {row["file"]: result.status for row, result in table}
    # Each WMO tampering is reported as what was tampered with.
    assert statuses["invalid/wmo_seychelles-bad-digest.xml"] == BAD_DIGEST
    assert statuses["invalid/wmo_seychelles-bad-signature.xml"] == BAD_SIGNATURE
    assert statuses["invalid/wmo_seychelles-bad-certificate.xml"] == BAD_SIGNATURE
    assert statuses["invalid/wmo_synthetic-circle-polygons-digest-mismatch.xml"] == BAD_DIGEST
    assert statuses["valid/wmo_seychelles-unsigned.xml"] == UNSIGNED
    # Without anchors, no real signer is verified: their values verify, their keys are unknown.
    assert VERIFIED not in statuses.values()
    # Real signers verified offline once their own embedded certificates are configured as the
    # sender's anchors (pinned; this test vouches for them): NAADS co-signatures (SHA-1),
    # IPAWS, WMO ECDSA.
    for name in (
        "valid/naads_canada-signed.xml",
        "valid/ipaws_civil-emergency-large-signed.xml",
        "valid/wmo_burkina-faso-signed-large-polygon.xml",
    ):
        root = etree.parse(str(corpus / name)).getroot()
        pinned = verify_signature(root, trusted_certs=_embedded_certificates(root))
        assert pinned.status == VERIFIED, f"{name}: {pinned.detail}"
    # USGS signs with a bare KeyValue: its value verifies, but nothing names the signer.
    usgs = verify_signature(etree.parse(str(corpus / "valid/usgs_earthquake-cap11-signed.xml")).getroot())
    assert usgs.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "signature value verifies with a bare KeyValue" in usgs.detail


@pytest.mark.corpus
def test_certificates_outside_their_validity_at_sent_time(corpus: Path) -> None:
    # Seychelles: certificate issued 2024-07-02, alert sent 2024-05-19 (signed afterwards).
    seychelles = verify_signature(etree.parse(str(corpus / "valid/wmo_seychelles-signed.xml")).getroot())
    assert seychelles.status == UNTRUSTED_OR_EXPIRED_CERT
    assert seychelles.signer == "CN=www.meteo.sc"
    at_signing = datetime(2024, 8, 1, tzinfo=UTC)
    root = etree.parse(str(corpus / "valid/wmo_seychelles-signed.xml")).getroot()
    # Pinned explicitly: the embedded certificate is configured as the sender's own anchor.
    anchors = _embedded_certificates(root)
    assert verify_signature(root, trusted_certs=anchors).status == UNTRUSTED_OR_EXPIRED_CERT
    assert verify_signature(root, at=at_signing, trusted_certs=anchors).status == VERIFIED
    # Pelmorex 2019: NAADS signature good, Environment Canada's certificate expired in 2018.
    pelmorex = verify_signature(
        etree.parse(str(corpus / "valid/pelmorex-naads_wind-update-signed.xml")).getroot()
    )
    assert pelmorex.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "signature 2 (Environment Canada): signing certificate" in pelmorex.detail


@pytest.mark.corpus
def test_ntwc_alert_was_changed_after_signing(corpus: Path) -> None:
    root = etree.parse(str(corpus / "valid/ntwc_tsunami-signed.xml")).getroot()
    assert verify_signature(root).status == BAD_DIGEST
    # Independent check with the DSA key from the message: SignedInfo is exactly as signed,
    # so the mismatch lies in the alert content, not in our canonicalisation of the signature.
    signature = _ds(root, "ds:Signature")

    def number(name: str) -> int:
        text = _ds(signature, f"ds:KeyInfo/ds:KeyValue/ds:DSAKeyValue/ds:{name}").text or ""
        return int.from_bytes(base64.b64decode("".join(text.split())), "big")

    params = dsa.DSAParameterNumbers(number("P"), number("Q"), number("G"))
    key = dsa.DSAPublicNumbers(number("Y"), params).public_key()
    raw = base64.b64decode("".join((_ds(signature, "ds:SignatureValue").text or "").split()))
    signed_info = etree.fromstring(etree.tostring(_ds(signature, "ds:SignedInfo")))
    data = etree.tostring(signed_info, method="c14n", with_comments=True)
    der = encode_dss_signature(int.from_bytes(raw[:20], "big"), int.from_bytes(raw[20:], "big"))
    key.verify(der, data, hashes.SHA1())  # raises InvalidSignature if SignedInfo was altered


@pytest.mark.corpus
def test_signed_alert_embedded_in_an_atom_feed_verifies(corpus: Path) -> None:
    feed = etree.parse(str(corpus / "feeds/google_canada-signed.atom")).getroot()
    alerts = list(feed.iter(f"{{{CAP12}}}alert"))
    assert alerts
    for alert in alerts:
        # Each alert's own certificates pinned as its sender's anchors (this test vouches).
        result = verify_signature(alert, trusted_certs=_embedded_certificates(alert))
        assert result.status == VERIFIED, result.detail
        assert result.count == 2


# --- trust per sender, references without URI, keys known only to the receiver ----------------


def _forged_like(signer: Signer) -> Signer:
    """A self-signed certificate with the same name as `signer`'s: what anyone can make."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, _certificate(signer.cert.subject.rfc4514_string()[3:], key, None, ca=False))


def test_forged_self_signed_certificate_named_like_the_issuer_is_untrusted(
    signer: Signer, ca: Signer
) -> None:
    forged = _forged_like(signer)
    assert forged.cert.subject == signer.cert.subject
    anchors = TrustAnchors({"met@example.org": (ca.cert_pem,)})
    result = verify_signature(_root(_sign(forged)), trusted_certs=anchors)
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "does not chain to a trust anchor of sender 'met@example.org'" in result.detail
    assert verify_signature(_root(_sign(signer)), trusted_certs=anchors).status == VERIFIED


def test_anchor_of_another_sender_does_not_verify(signer: Signer, ca: Signer) -> None:
    signed = _sign(signer)
    elsewhere = TrustAnchors({"alerts@elsewhere.example": (ca.cert_pem,)})
    result = verify_signature(_root(signed), trusted_certs=elsewhere)
    assert result.status == UNTRUSTED_OR_EXPIRED_CERT
    assert "no trust anchor is configured for sender 'met@example.org'" in result.detail
    # cap.validate picks the anchors of the sender the alert names, in feeds too.
    assert cap.validate(signed, trust_anchors={"alerts@elsewhere.example": [ca.cert]}).signature == (
        UNTRUSTED_OR_EXPIRED_CERT
    )
    report = cap.validate(signed, trust_anchors={"met@example.org": [ca.cert]})
    assert report.signature == VERIFIED and report.valid


def _without_reference_uri(signer: Signer, alert: bytes = ALERT) -> etree._Element:
    """Signed as the WMO Alert Hub re-signs: ds:Reference with no URI attribute at all."""
    root = _root(_sign(signer, alert))
    reference = _ds(root, "ds:Signature/ds:SignedInfo/ds:Reference")
    del reference.attrib["URI"]
    # SignedInfo changed, so its value is computed again (signxml writes URI="" always).
    signed_info = etree.fromstring(etree.tostring(_ds(root, "ds:Signature/ds:SignedInfo")))
    method = _ds(root, "ds:Signature/ds:SignedInfo/ds:CanonicalizationMethod").get("Algorithm", "")
    data = etree.tostring(signed_info, method="c14n", exclusive=method.startswith(_EXC))
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    value = signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    _ds(root, "ds:Signature/ds:SignatureValue").text = base64.b64encode(value).decode()
    return root


def test_reference_without_uri_covers_the_whole_alert(signer: Signer, ca: Signer) -> None:
    root = _without_reference_uri(signer)
    assert "URI" not in _ds(root, "ds:Signature/ds:SignedInfo/ds:Reference").attrib
    result = verify_signature(root, trusted_certs=[ca.cert_pem])
    assert result.status == VERIFIED, result.detail
    headline = root.find(f".//{{{CAP12}}}headline")
    assert headline is not None
    headline.text = "All clear"
    tampered = verify_signature(root, trusted_certs=[ca.cert_pem])
    assert tampered.status == BAD_DIGEST
    assert "Reference 0 (no URI" in tampered.detail


def test_reference_without_uri_with_an_altered_value_is_bad_signature(signer: Signer) -> None:
    root = _without_reference_uri(signer)
    value = _ds(root, "ds:Signature/ds:SignatureValue")
    raw = bytearray(base64.b64decode(value.text or ""))
    raw[0] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    # No anchors at all: the value is still computed, and found altered.
    assert verify_signature(root).status == BAD_SIGNATURE


def test_signature_without_key_info_is_checked_with_the_senders_anchor(signer: Signer) -> None:
    # XML-DSig §4.5: KeyInfo may be omitted when the recipient knows the key.
    root = _root(_sign(signer))
    signature = _ds(root, "ds:Signature")
    signature.remove(_ds(signature, "ds:KeyInfo"))
    assert verify_signature(root).status == UNVERIFIABLE  # nobody's key is known
    result = verify_signature(root, trusted_certs=[signer.cert_pem])
    assert result.status == VERIFIED, result.detail
    assert "key taken from a trust anchor" in result.detail
    headline = root.find(f".//{{{CAP12}}}headline")
    assert headline is not None
    headline.text = "All clear"
    assert verify_signature(root, trusted_certs=[signer.cert_pem]).status == BAD_DIGEST
