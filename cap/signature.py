"""XML-DSig verification of CAP alerts, reported apart from the content verdict.

CAP 1.2 §3.3.2.1 (and CAP 1.1 §3.3.2.1) let an <alert> carry enveloped XML Signatures
(`ds:Signature`, http://www.w3.org/2000/09/xmldsig#) as its last children. This module checks
each one offline: reference digests first, then the SignatureValue over SignedInfo, then the
signing certificate's validity at the alert's <sent> time and its chain to a trust anchor
configured for the alert's sender (XML-DSig 1.1 §3.2 core validation order). Nothing is
fetched from the network: the key comes from the signature itself (X509Certificate, KeyValue or
DEREncodedKeyValue) or, when it carries none, from the sender's trust anchors.

`verified` means all of it held: the content is what was signed, the SignatureValue verifies,
and the signing certificate chains (RFC 5280 path validation at <sent>, `cryptography`'s
X.509 verifier) to an anchor configured for that sender (`cap.trust.TrustAnchors`), or is one.
A signature that verifies with a self-signed or unknown certificate, or with a certificate
that chains only to another sender's anchor, is `untrusted-or-expired-cert`: anyone can make
a certificate named like a real issuer. Trust is checked last, so a tampered message is
`bad-digest` or `bad-signature` whatever its certificate.

Decisions a reader of the status should know:
- A malformed signature block (missing SignedInfo/SignatureValue, values that are not
  base64Binary, a certificate that cannot be read) is `bad-signature`: the signature is broken,
  not merely uncheckable. A DigestValue that is not base64Binary is `bad-digest`. Values whose
  unused base64 padding bits are set are not base64Binary (XML Schema Part 2 §3.2.16); this is
  how altered signatures often look, since lenient decoders read them as the original bytes.
- `unverifiable` means we could not check at all: no key material (neither in the signature
  nor among the sender's anchors), an algorithm or transform we do not support (HMAC needs a
  shared secret), a reference that does not cover the whole alert.
- A ds:Reference without URI covers the whole alert. XML-DSig §4.4.3.1: when URI is omitted
  "the receiving application is expected to know the identity of the object"; for an
  enveloped CAP signature that object is the enveloping <alert> (CAP 1.2 §3.3.2.1), read as
  for URI="" (the WMO Alert Hub re-signs alerts this way).
- SHA-1 (rsa-sha1, dsa-sha1, sha1 digests) is deprecated but still used by CAP signers
  (NAADS 2013, NWS, USGS); it is accepted and named in `detail`.
- Two tolerances for real signers, both named in `detail` when used: (1) several parallel
  signatures each computed over the alert without any ds:Signature (NAADS signs this way,
  although the enveloped transform strictly removes only its own signature); (2) digests that
  match only when whitespace-only text between elements is ignored (WMO tools sign the alert
  before pretty-printing it). Whitespace between CAP elements carries no meaning.
- Canonical XML 1.1 is computed as Canonical XML 1.0: they differ only in xml:id/xml:base
  inheritance, which CAP documents do not use.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import itertools
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureMethod,
    digest_algorithm_implementations,
)

from cap.report import (
    BAD_DIGEST,
    BAD_SIGNATURE,
    UNSIGNED,
    UNTRUSTED_OR_EXPIRED_CERT,
    UNVERIFIABLE,
    VERIFIED,
)
from cap.trust import Anchor, TrustAnchors

DS = "http://www.w3.org/2000/09/xmldsig#"
DSIG11 = "http://www.w3.org/2009/xmldsig11#"
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

# Bounds against hostile input: every reference digest canonicalises the whole alert.
MAX_SIGNATURES = 4
MAX_REFERENCES = 4
MAX_CERTIFICATES = 8
MAX_CHAIN_DEPTH = 8
MAX_BASE64_CHARS = 64 * 1024

# Worst first: tampered content, then a broken signature, then a key we must not accept.
_SEVERITY = (BAD_DIGEST, BAD_SIGNATURE, UNTRUSTED_OR_EXPIRED_CERT, UNVERIFIABLE, VERIFIED)


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """The signature status of one alert: the worst over its ds:Signature children."""

    status: str  # one of the constants in cap.report (unsigned, verified, bad-digest, ...)
    detail: str  # for people: what failed and where, which tolerances or legacy algorithms
    signer: str | None = None  # certificate subject(s), as claimed when a check failed
    count: int = 0  # ds:Signature children of <alert>


class _Verdict(Exception):
    """Stops checking one signature with a final status."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: str
    detail: str
    signer: str | None = None


_Algorithm = TypeVar("_Algorithm", SignatureMethod, DigestAlgorithm, CanonicalizationMethod)
PublicKey = rsa.RSAPublicKey | dsa.DSAPublicKey | ec.EllipticCurvePublicKey


def verify_signature(
    root: etree._Element,
    *,
    at: datetime | None = None,
    trusted_certs: Sequence[Anchor] | TrustAnchors = (),
    sender: str | None = None,
) -> SignatureResult:
    """Verify every enveloped ds:Signature of a CAP <alert> element; never raises on bad input.

    `at` is when the signing certificate must have been valid (default: the alert's <sent>).
    `trusted_certs` are the trust anchors (PEM or DER, CA or leaf): a sequence applies to this
    alert whoever sent it; a `TrustAnchors` gives those of the alert's `sender` (default: the
    alert's own <sender>). Without an anchor a signature is at best `untrusted-or-expired-cert`.
    Raises ValueError only when a trusted certificate itself cannot be read.
    """
    if isinstance(trusted_certs, TrustAnchors):
        sender = sender if sender is not None else _child_text(root, "sender")
        trusted_certs = trusted_certs.for_sender(sender)
    anchors = _load_anchors(trusted_certs)
    signatures = [el for el in root if el.tag == f"{{{DS}}}Signature"]
    if not signatures:
        return SignatureResult(UNSIGNED, "the alert carries no ds:Signature", None, 0)
    count = len(signatures)
    if count > MAX_SIGNATURES:
        return SignatureResult(
            UNVERIFIABLE, f"{count} signatures; at most {MAX_SIGNATURES} are checked", None, count
        )
    when = _utc(at) if at is not None else _sent_time(root)
    if sender is None:
        sender = _child_text(root, "sender")
    policy = _TrustPolicy(anchors=anchors, at=when, sender=sender)
    try:
        tree, reread = _private_copy(root)
        alert = _SignedAlert(tree, count, reread=reread)
    except (ValueError, etree.LxmlError) as exc:
        return SignatureResult(UNVERIFIABLE, f"could not copy the alert: {exc}", None, count)
    outcomes = [_verify_one(alert, index, policy) for index in range(count)]
    worst = min(outcomes, key=lambda o: _SEVERITY.index(o.status))
    if count == 1:
        detail = outcomes[0].detail
    else:
        detail = "; ".join(
            f"signature {i + 1}{_label(sig)}: {o.detail}"
            for i, (sig, o) in enumerate(zip(signatures, outcomes, strict=True))
        )
    signers = list(dict.fromkeys(o.signer for o in outcomes if o.signer))
    return SignatureResult(worst.status, detail, "; ".join(signers) or None, count)


@dataclass(frozen=True, slots=True)
class _TrustPolicy:
    anchors: tuple[x509.Certificate, ...]  # those of this alert's sender
    at: datetime | None
    sender: str | None

    def whose(self) -> str:
        return f"sender {self.sender!r}" if self.sender else "the alert's sender"


def _label(signature: etree._Element) -> str:
    ident = signature.get("Id")
    return f" ({ident})" if ident else ""


def _verify_one(alert: _SignedAlert, index: int, policy: _TrustPolicy) -> _Outcome:
    notes: list[str] = []
    signature = alert.signature(index)
    try:
        signed_info = _require(signature, "SignedInfo")
        c14n_uri = _algorithm(_require(signed_info, "CanonicalizationMethod"))
        method_uri = _algorithm(_require(signed_info, "SignatureMethod"))
        _require(signature, "SignatureValue")
        references = signed_info.findall(f"{{{DS}}}Reference")
        if not references:
            raise _Verdict(BAD_SIGNATURE, "SignedInfo has no Reference: it signs nothing")
        if len(references) > MAX_REFERENCES:
            raise _Verdict(UNVERIFIABLE, f"{len(references)} references; at most 4 are checked")
        if any("SHA1" in _digest_method(r).name for r in references):
            notes.append("reference digest uses SHA-1 (deprecated; accepted for legacy CAP)")
        # XML-DSig §3.2: reference validation first, then the SignatureValue, then the key.
        # The whitespace-ignoring reading is only computed when the exact one does not verify.
        readings = _matching_layouts(alert, index, references)
        first = next(readings, None)
        if first is None:
            # Content that matches no reading of the digests is not what was signed.
            raise _digest_failure(alert, index, references, _Layout(False, False))
        method = _enum(SignatureMethod, method_uri)
        if method.name.startswith("HMAC_"):
            raise _Verdict(UNVERIFIABLE, f"{method.name} needs a shared secret; none is known")
        if "SHA1" in method.name:
            notes.append(f"uses {method.name} (SHA-1, deprecated; accepted for legacy CAP)")
        try:
            key, certs = _key_material(signature)
        except _Verdict as missing:
            if missing.status != UNVERIFIABLE or not policy.anchors:
                raise
            # XML-DSig §4.5: KeyInfo is optional, the recipient may know the key. The sender's
            # anchors are the keys we know for it: the value is computed, not left unchecked.
            layout, key, certs = _check_with_anchor_keys(
                alert, index, itertools.chain((first,), readings), method, c14n_uri, policy, missing
            )
            notes.insert(0, layout.note())
            notes.append(f"key taken from a trust anchor of {policy.whose()} (the signature names none)")
            _check_validity(certs[0], policy.at, "trusted certificate")
            return _Outcome(VERIFIED, "; ".join(n for n in notes if n), _subject(certs[0]))
        layout = _check_signature_value(
            alert, index, itertools.chain((first,), readings), method, c14n_uri, key
        )
        notes.insert(0, layout.note())
        notes.append(_check_trust(key, certs, policy))
        signer = _subject(certs[0]) if certs else None
        return _Outcome(VERIFIED, "; ".join(n for n in notes if n), signer)
    except _Verdict as verdict:
        detail = "; ".join(n for n in (verdict.detail, *notes) if n)
        return _Outcome(verdict.status, detail, _claimed_signer(signature))
    except (ValueError, TypeError, OverflowError, UnsupportedAlgorithm, etree.LxmlError) as exc:
        # Whatever the libraries refuse in hostile input becomes a status, never an exception.
        detail = f"could not process the signature: {exc}"
        return _Outcome(UNVERIFIABLE, detail, _claimed_signer(signature))


def _claimed_signer(signature: etree._Element) -> str | None:
    """Who the embedded certificate names, read leniently: shown even when checks fail."""
    certs = []
    for el in signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
        try:
            certs.append(x509.load_der_x509_certificate(_lenient_der(el.text or "")))
        except ValueError:
            continue
        if len(certs) >= MAX_CERTIFICATES:
            break
    try:
        return _subject(_leaf(certs)) if certs else None
    except ValueError:
        return None


def _lenient_der(text: str) -> bytes:
    # Strict decoding (cached) gives the same bytes whenever it succeeds.
    try:
        return _certificate_der(text)
    except _Verdict:
        return base64.b64decode(text)


@functools.lru_cache(maxsize=256)
def _subject(cert: x509.Certificate) -> str:
    # Formatting a name costs more than parsing the certificate; the same few signers recur.
    return cert.subject.rfc4514_string()


def _require(parent: etree._Element, name: str, ns: str = DS) -> etree._Element:
    # The first child with that name, as find() gives it; iterchildren skips ElementPath.
    found = next(parent.iterchildren(f"{{{ns}}}{name}"), None)
    if found is None:
        raise _Verdict(BAD_SIGNATURE, f"malformed signature: no ds:{name} in {_local(parent)}")
    return found


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else "?"


def _algorithm(el: etree._Element) -> str:
    value = el.get("Algorithm")
    if not value:
        raise _Verdict(BAD_SIGNATURE, f"malformed signature: ds:{_local(el)} has no Algorithm")
    return value


def _enum(kind: type[_Algorithm], uri: str) -> _Algorithm:
    try:
        return kind(uri)
    except ValueError:
        raise _Verdict(UNVERIFIABLE, f"unsupported algorithm {uri}") from None


def _base64(el: etree._Element, what: str, status: str = BAD_SIGNATURE) -> bytes:
    """Decode a base64Binary value strictly: bad alphabet, padding or padding bits are errors."""
    return _base64_text(el.text or "", what, status)


@functools.lru_cache(maxsize=32)
def _certificate_der(text: str) -> bytes:
    # The same few signing and CA certificates recur in every message; decoding is pure.
    return _base64_text(text, "X509Certificate", BAD_SIGNATURE)


def _base64_text(encoded: str, what: str, status: str) -> bytes:
    # XML whitespace may separate base64Binary characters; str.replace beats a regex tenfold.
    text = encoded.replace("\n", "").replace("\r", "").replace(" ", "").replace("\t", "")
    if not text:
        raise _Verdict(status, f"malformed signature: {what} is empty")
    if len(text) > MAX_BASE64_CHARS:
        raise _Verdict(UNVERIFIABLE, f"{what} is longer than {MAX_BASE64_CHARS} characters")
    try:
        # Fast path: what strict mode accepts, b64decode(validate=True) reads the same way.
        value = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        try:
            value = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise _Verdict(status, f"{what} is not valid base64") from None
    # XML Schema Part 2 §3.2.16: the unused bits before '=' padding must be zero. Lenient
    # decoders ignore them, so an altered last character would otherwise go unnoticed.
    if base64.b64encode(value).decode("ascii") != text:
        raise _Verdict(status, f"{what} is not canonical base64Binary (padding bits altered)")
    return value


# --- key material -------------------------------------------------------------------------


def _key_material(signature: etree._Element) -> tuple[PublicKey, list[x509.Certificate]]:
    """The verification key and the embedded certificates, signing certificate first."""
    key_info = signature.find(f"{{{DS}}}KeyInfo")
    if key_info is None:
        raise _Verdict(UNVERIFIABLE, "no key material: the signature has no ds:KeyInfo")
    cert_elements = [
        cert
        for data in key_info.iterchildren(f"{{{DS}}}X509Data")
        for cert in data.iterchildren(f"{{{DS}}}X509Certificate")
    ]
    if len(cert_elements) > MAX_CERTIFICATES:
        raise _Verdict(UNVERIFIABLE, f"{len(cert_elements)} certificates; at most 8 are read")
    certs = [_certificate(el) for el in cert_elements]
    if certs:
        # With a certificate present any KeyValue is only a hint; the certificate's key decides.
        leaf = _leaf(certs)
        certs.remove(leaf)
        return _public_key(leaf.public_key()), [leaf, *certs]
    der = key_info.find(f"{{{DSIG11}}}DEREncodedKeyValue")
    if der is not None:
        try:
            return _public_key(load_der_public_key(_base64(der, "DEREncodedKeyValue"))), []
        except ValueError:
            raise _Verdict(BAD_SIGNATURE, "DEREncodedKeyValue cannot be read") from None
    key_value = key_info.find(f"{{{DS}}}KeyValue")
    if key_value is not None:
        return _key_value(key_value), []
    named = [_local(el) for el in key_info.iter() if isinstance(el.tag, str)][1:]
    hint = f" (KeyInfo holds only {', '.join(sorted(set(named)))})" if named else ""
    raise _Verdict(UNVERIFIABLE, f"no key material: no X509Certificate or KeyValue{hint}")


def _certificate(el: etree._Element) -> x509.Certificate:
    der = _certificate_der(el.text or "")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _Verdict(BAD_SIGNATURE, f"X509Certificate cannot be read: {exc}") from None


def _leaf(certs: list[x509.Certificate]) -> x509.Certificate:
    # XML-DSig §4.5.4 implies no order: the signing certificate is the one issuing no other.
    for cert in certs:
        if not any(other is not cert and other.issuer == cert.subject for other in certs):
            return cert
    return certs[0]


def _public_key(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey | ec.EllipticCurvePublicKey):
        return key
    raise _Verdict(UNVERIFIABLE, f"unsupported key type {type(key).__name__}")


def _key_value(key_value: etree._Element) -> PublicKey:
    try:
        return _key_from_value(key_value)
    except ValueError as exc:
        # cryptography refuses both broken numbers and sizes it no longer supports.
        raise _Verdict(UNVERIFIABLE, f"KeyValue cannot be used as a key: {exc}") from None


def _number(parent: etree._Element, name: str) -> int:
    """An XML-DSig CryptoBinary: a big-endian unsigned integer in base64."""
    return int.from_bytes(_base64(_require(parent, name), name), "big")


def _key_from_value(key_value: etree._Element) -> PublicKey:
    rsa_value = key_value.find(f"{{{DS}}}RSAKeyValue")
    if rsa_value is not None:
        numbers = rsa.RSAPublicNumbers(_number(rsa_value, "Exponent"), _number(rsa_value, "Modulus"))
        return numbers.public_key()
    dsa_value = key_value.find(f"{{{DS}}}DSAKeyValue")
    if dsa_value is not None:
        params = dsa.DSAParameterNumbers(
            _number(dsa_value, "P"), _number(dsa_value, "Q"), _number(dsa_value, "G")
        )
        return dsa.DSAPublicNumbers(_number(dsa_value, "Y"), params).public_key()
    ec_value = key_value.find(f"{{{DSIG11}}}ECKeyValue")
    if ec_value is not None:
        uri = _require(ec_value, "NamedCurve", DSIG11).get("URI", "")
        try:
            curve = ec.get_curve_for_oid(x509.ObjectIdentifier(uri.removeprefix("urn:oid:")))
        except (ValueError, LookupError):
            raise _Verdict(UNVERIFIABLE, f"unsupported elliptic curve {uri!r}") from None
        point = _base64(_require(ec_value, "PublicKey", DSIG11), "PublicKey")
        return ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)
    raise _Verdict(UNVERIFIABLE, "no key material: KeyValue holds no RSA, DSA or EC key")


# --- references and SignatureValue ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """One reading of the signed alert: how whitespace and other signatures are treated."""

    drop_blank_text: bool
    drop_other_signatures: bool

    def note(self) -> str:
        notes = []
        if self.drop_other_signatures:
            notes.append("digest covers the alert without its other signatures (co-signed)")
        if self.drop_blank_text:
            notes.append(
                "matches only with whitespace between elements ignored (signed before the "
                "alert was pretty-printed)"
            )
        return "; ".join(notes)


def _matching_layouts(alert: _SignedAlert, index: int, references: list[etree._Element]) -> Iterator[_Layout]:
    """The readings of the alert whose digests match, at most one per whitespace treatment.

    Lazy: the whitespace-ignoring reading is only computed when it is asked for, i.e. when the
    exact reading's digests do not match or its SignatureValue does not verify.
    """
    cosigned = alert.count > 1
    for blank in (False, True):
        candidates = [_Layout(blank, drop) for drop in ((False, True) if cosigned else (False,))]
        matched = next((c for c in candidates if _digests_match(alert, index, references, c)), None)
        if matched is not None:
            yield matched


def _digest_method(reference: etree._Element) -> DigestAlgorithm:
    return _enum(DigestAlgorithm, _algorithm(_require(reference, "DigestMethod")))


def _digests_match(
    alert: _SignedAlert, index: int, references: list[etree._Element], layout: _Layout
) -> bool:
    return all(_reference_digest(alert, index, r, layout) == _digest_value(r) for r in references)


def _digest_value(reference: etree._Element) -> bytes:
    return _base64(_require(reference, "DigestValue"), "DigestValue", BAD_DIGEST)


def _digest_failure(
    alert: _SignedAlert, index: int, references: list[etree._Element], layout: _Layout
) -> _Verdict:
    for position, reference in enumerate(references):
        if _reference_digest(alert, index, reference, layout) != _digest_value(reference):
            name = _digest_method(reference).name
            uri = reference.get("URI")
            where = "no URI" if uri is None else f"URI={uri!r}"
            return _Verdict(
                BAD_DIGEST,
                f"digest mismatch for Reference {position} ({where}, {name}): the alert content "
                "is not what was signed",
            )
    return _Verdict(BAD_DIGEST, "digest mismatch")


def _reference_digest(alert: _SignedAlert, index: int, reference: etree._Element, layout: _Layout) -> bytes:
    uri = reference.get("URI")
    # CAP 1.2 §3.3.2.1: the signature is enveloped and covers the whole <alert>. An omitted URI
    # is the object the application knows (XML-DSig §4.4.3.1): for CAP, that same <alert>.
    if uri is not None and uri != "":
        raise _Verdict(UNVERIFIABLE, f"Reference URI={uri!r} does not cover the whole alert")
    # Without a URI the object is the alert its signature is enveloped in, so this signature
    # is never part of it: the enveloped transform applies whether or not it is listed.
    enveloped = uri is None
    exclusive, prefixes = False, None
    transforms = reference.find(f"{{{DS}}}Transforms")
    for transform in [] if transforms is None else transforms.findall(f"{{{DS}}}Transform"):
        algorithm = _algorithm(transform)
        if algorithm == _ENVELOPED:
            enveloped = True
            continue
        # Only canonicalisation besides the enveloped transform: XPath/XSLT transforms are an
        # attack surface and no CAP signer uses them.
        try:
            method = CanonicalizationMethod(algorithm)
        except ValueError:
            raise _Verdict(UNVERIFIABLE, f"unsupported Transform {algorithm}") from None
        exclusive = method.value.startswith(_EXC_C14N)
        prefixes = _inclusive_prefixes(transform)
    digest = _digest_method(reference)
    # The enveloped transform removes this signature; a co-signed reading also the others.
    removed = frozenset(
        position
        for position in range(alert.count)
        if (position == index and enveloped) or (position != index and layout.drop_other_signatures)
    )
    return alert.digest(_FormKey(layout.drop_blank_text, exclusive, prefixes), removed, digest)


def _signatures(alert: etree._Element) -> list[etree._Element]:
    return [el for el in alert if el.tag == f"{{{DS}}}Signature"]


def _inclusive_prefixes(el: etree._Element) -> tuple[str, ...] | None:
    found = el.find(f"{{{_EXC_C14N}}}InclusiveNamespaces")
    if found is None or not found.get("PrefixList"):
        return None
    return tuple(p if p != "#default" else "" for p in found.get("PrefixList", "").split())


@dataclass(frozen=True, slots=True)
class _FormKey:
    """What one canonical form of the alert depends on."""

    drop_blank_text: bool
    exclusive: bool
    prefixes: tuple[str, ...] | None


class _SignedAlert:
    """The alert as its signatures were computed over, canonicalised once per form.

    Holds private trees only, so the caller's tree is never touched: the alert standing alone
    and, when first needed, a copy without whitespace-only text. Every reference digest of every
    signature and co-signed reading is taken over one canonical form with the ds:Signature
    children it excludes cut out (see `_canonical_alert`).
    """

    def __init__(self, alert: etree._Element, count: int, *, reread: bool) -> None:
        self.count = count  # ds:Signature children of the alert
        # (drop_blank_text, reread by this thread's parser) -> private tree
        self._trees: dict[tuple[bool, bool], etree._Element] = {(False, reread): alert}
        self._reread = reread
        self._signatures: dict[bool, list[etree._Element]] = {}
        self._forms: dict[_FormKey, _CanonicalAlert] = {}
        self._digests: dict[tuple[_FormKey, frozenset[int], DigestAlgorithm], bytes] = {}

    def tree(self, drop_blank_text: bool, reread: bool = False) -> etree._Element:
        """A private tree of the alert; `reread`: one read back by this thread's parser."""
        key = (drop_blank_text, reread or self._reread)
        tree = self._trees.get(key)
        if tree is None:
            if drop_blank_text:
                tree = _without_blank_text(copy.deepcopy(self.tree(False, reread)))
            else:
                tree = _standalone(self._trees[(False, self._reread)])
            self._trees[key] = tree
        return tree

    def signature(self, index: int, drop_blank_text: bool = False) -> etree._Element:
        """The index-th ds:Signature child, as read with or without whitespace-only text."""
        found = self._signatures.get(drop_blank_text)
        if found is None:
            found = self._signatures[drop_blank_text] = _signatures(self.tree(drop_blank_text))
        return found[index]

    def digest(self, form: _FormKey, removed: frozenset[int], algorithm: DigestAlgorithm) -> bytes:
        """The digest of the canonical alert without the signatures at positions `removed`."""
        key = (form, removed, algorithm)
        found = self._digests.get(key)
        if found is None:
            canonical = self._forms.get(form)
            if canonical is None:
                # lxml keeps only InclusiveNamespaces prefixes known to the document's name
                # dictionary; a deep copy of a tree read by another thread may not know one
                # that is declared but unused, so such forms use a tree read back here.
                tree = self.tree(form.drop_blank_text, reread=form.prefixes is not None)
                canonical = _canonical_alert(tree, form.exclusive, form.prefixes)
                self._forms[form] = canonical
            hasher = hashes.Hash(digest_algorithm_implementations[algorithm]())
            for piece in canonical.without(removed):
                hasher.update(piece)
            found = self._digests[key] = hasher.finalize()
        return found


@dataclass(frozen=True, slots=True)
class _CanonicalAlert:
    """A canonical alert and where each ds:Signature child lies in it, between two markers."""

    data: bytes
    # Per signature: start of its start marker, start of the element, start of its end marker,
    # end of the end marker (where the element's end tag begins), end of the element.
    spans: tuple[tuple[int, int, int, int, int], ...]

    def without(self, removed: frozenset[int]) -> list[memoryview]:
        """The canonical bytes, in pieces, without the markers and the signatures `removed`."""
        view = memoryview(self.data)
        pieces = []
        position = 0
        for index, (mark, start, end_mark, end_tag, end) in enumerate(self.spans):
            pieces.append(view[position:mark])
            if index not in removed:
                pieces += (view[start:end_mark], view[end_tag:end])
            position = end
        pieces.append(view[position:])
        return pieces


_MARK = "tampere-signature-"


def _canonical_alert(
    tree: etree._Element, exclusive: bool, prefixes: tuple[str, ...] | None
) -> _CanonicalAlert:
    """Canonicalise a private alert tree once, marking where each ds:Signature child lies.

    The enveloped-signature transform removes the signature element but keeps the text around
    it (XML-DSig §6.6.4). Canonical XML renders every other node the same whether or not a
    sibling element is there (namespace context is restored after each element), so the alert
    without some signatures is the canonical alert with their bytes cut out. Those bytes are
    found by processing instructions put just before each signature and as its last child,
    removed again afterwards: canonical XML writes one without data as "<?target?>", and the
    target carries a random token drawn after the alert was read, so no content can imitate it.
    """
    token = secrets.token_hex(16)
    signatures = _signatures(tree)
    marks: list[etree._Element] = []
    try:
        for index, signature in enumerate(signatures):
            before = etree.ProcessingInstruction(f"{_MARK}{token}-{index}-start")
            last = etree.ProcessingInstruction(f"{_MARK}{token}-{index}-end")
            signature.addprevious(before)
            signature.append(last)
            marks += (before, last)
        # XML-DSig §4.4.3.3: URI="" is the document without comments, whatever the c14n method.
        data = etree.tostring(
            tree,
            method="c14n",
            exclusive=exclusive,
            with_comments=False,
            inclusive_ns_prefixes=prefixes,
        )
    finally:
        for mark in marks:
            parent = mark.getparent()
            if parent is not None:
                parent.remove(mark)
    spans = []
    position = 0
    for index, signature in enumerate(signatures):
        name = f"{signature.prefix}:Signature" if signature.prefix else "Signature"
        start_mark = f"<?{_MARK}{token}-{index}-start?><{name}".encode()
        end_mark = f"<?{_MARK}{token}-{index}-end?>".encode()
        end_tag = f"</{name}>".encode()
        mark = data.find(start_mark, position)
        start = mark + len(start_mark) - len(name) - 1
        end = data.find(end_mark + end_tag, start)
        after_name = data[start + len(name) + 1 : start + len(name) + 2]
        if mark < 0 or end < 0 or after_name not in (b" ", b">"):
            raise ValueError(f"signature {index + 1} not found in the canonical alert")
        position = end + len(end_mark) + len(end_tag)
        spans.append((mark, start, end, end + len(end_mark), position))
    return _CanonicalAlert(data, tuple(spans))


def _without_blank_text(document: etree._Element) -> etree._Element:
    for node in document.iter():
        if isinstance(node.tag, str) and len(node) and node.text and not node.text.strip():
            node.text = None
        if node.tail and not node.tail.strip():
            node.tail = None
    return document


def _private_copy(root: etree._Element) -> tuple[etree._Element, bool]:
    """The alert as its own document, and whether it was read back by this thread's parser.

    lxml canonicalises an element that is not alone in its document (an alert inside a feed, a
    root beside the xml-stylesheet instruction WMO alerts carry) through a temporary document
    rooted at a shallow copy, and libxml2 then writes spurious xmlns="" below it. A deep copy
    of a root element is alone in its document once the text copied after it is dropped, and
    costs a fraction of writing the alert out and reading it back (see `_standalone`).
    """
    # Text after a root only comes from copying an embedded alert (cap.feeds does). Anything
    # but spaces, tabs and newlines there (even a carriage return, written as &#13;) fails to
    # read back, and still does.
    if root.getparent() is None and not (root.tail or "").strip(" \t\n"):
        alert = copy.deepcopy(root)
        alert.tail = None
        return alert, False
    return _standalone(copy.deepcopy(root)), True


def _standalone(el: etree._Element) -> etree._Element:
    """A copy of a subtree as its own document, keeping every namespace in scope.

    libxml2's c14n emits spurious xmlns="" on descendants of a subtree (or of a deep copy)
    whose ancestor redeclares the default namespace (ds:Signature inside a CAP <alert>, an
    alert inside an Atom feed); serialising and reading back gives a clean tree with the same
    in-scope namespaces. The alert itself is deep-copied first so that namespaces declared by
    a containing feed but unused by the alert do not leak into its canonical form: it is
    checked as it was signed, standing alone.
    """
    return etree.fromstring(etree.tostring(el), _reparser())


_thread = threading.local()


def _reparser() -> etree.XMLParser:
    # Re-reads only what lxml itself just wrote; still no entities, DTD or network. A parser
    # costs more to build than a SignedInfo to read, and lxml parsers are not thread-safe.
    parser = getattr(_thread, "parser", None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        _thread.parser = parser
    return parser


def _check_signature_value(
    alert: _SignedAlert,
    index: int,
    readings: Iterable[_Layout],
    method: SignatureMethod,
    c14n_uri: str,
    key: PublicKey,
) -> _Layout:
    """Verify SignatureValue over the canonical SignedInfo; returns the reading that verified."""
    c14n = _enum(CanonicalizationMethod, c14n_uri)
    verify = _verifier(method, key)
    failure: _Verdict | None = None
    for layout in readings:
        signature = alert.signature(index, layout.drop_blank_text)
        signed_info = _standalone(_require(signature, "SignedInfo"))
        data = etree.tostring(
            signed_info,
            method="c14n",
            exclusive=c14n.value.startswith(_EXC_C14N),
            with_comments=c14n.value.endswith("#WithComments"),
            inclusive_ns_prefixes=_inclusive_prefixes(_require(signed_info, "CanonicalizationMethod")),
        )
        raw = _base64(_require(signature, "SignatureValue"), "SignatureValue")
        try:
            verify(raw, data)
        except InvalidSignature:
            failure = _Verdict(
                BAD_SIGNATURE,
                f"SignatureValue does not verify with the signer's key ({method.name})",
            )
            continue
        return layout
    assert failure is not None
    raise failure


def _verifier(method: SignatureMethod, key: PublicKey) -> Callable[[bytes, bytes], None]:
    """A function checking a raw XML-DSig SignatureValue over data with `key`."""
    name = method.name
    hash_algorithm = digest_algorithm_implementations[method]()
    if name.startswith("RSA_") and isinstance(key, rsa.RSAPublicKey):
        return lambda raw, data: key.verify(raw, data, padding.PKCS1v15(), hash_algorithm)
    if name.endswith("_RSA_MGF1") and isinstance(key, rsa.RSAPublicKey):
        pss = padding.PSS(padding.MGF1(hash_algorithm), hash_algorithm.digest_size)
        return lambda raw, data: key.verify(raw, data, pss, hash_algorithm)
    if name.startswith("ECDSA_") and isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        return lambda raw, data: key.verify(_dss(raw, size), data, ec.ECDSA(hash_algorithm))
    if name.startswith("DSA_") and isinstance(key, dsa.DSAPublicKey):
        size = (key.parameters().parameter_numbers().q.bit_length() + 7) // 8
        return lambda raw, data: key.verify(_dss(raw, size), data, hash_algorithm)
    raise _Verdict(BAD_SIGNATURE, f"SignatureMethod {name} does not match the signer's {_key_kind(key)} key")


def _dss(raw: bytes, size: int) -> bytes:
    # XML-DSig 1.1 §6.4.2-3: (EC)DSA SignatureValue is r || s, each exactly `size` bytes.
    if len(raw) != 2 * size:
        raise InvalidSignature
    return encode_dss_signature(int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big"))


def _key_kind(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    return "DSA" if isinstance(key, dsa.DSAPublicKey) else "EC"


# --- certificate time and trust -------------------------------------------------------------


def _check_trust(key: PublicKey, certs: list[x509.Certificate], policy: _TrustPolicy) -> str:
    """Check validity at `policy.at` and the chain to the sender's anchors; returns a note."""
    if certs:
        _check_validity(certs[0], policy.at, "signing certificate")
    if not policy.anchors:
        signed_by = (
            f"the embedded certificate {_subject(certs[0])}"
            if certs
            else "a bare KeyValue (the signer is not identified)"
        )
        raise _Verdict(
            UNTRUSTED_OR_EXPIRED_CERT,
            f"the signature value verifies with {signed_by}, but no trust anchor is configured "
            f"for {policy.whose()}: nothing says that key is the sender's",
        )
    if certs:
        return _check_chain(certs[0], certs[1:], policy)
    pinned = _key_bytes(key)
    if any(_key_bytes(anchor.public_key()) == pinned for anchor in policy.anchors):
        return f"key is that of a trust anchor of {policy.whose()}"
    raise _Verdict(UNTRUSTED_OR_EXPIRED_CERT, f"bare KeyValue matches no trust anchor of {policy.whose()}")


def _check_validity(cert: x509.Certificate, at: datetime | None, role: str) -> None:
    if at is None:
        return
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise _Verdict(
            UNTRUSTED_OR_EXPIRED_CERT,
            f"{role} {_subject(cert)} is not valid at {at.isoformat()} "
            f"(valid {cert.not_valid_before_utc.isoformat()} to "
            f"{cert.not_valid_after_utc.isoformat()}): expired or not yet valid",
        )


def _check_chain(leaf: x509.Certificate, pool: list[x509.Certificate], policy: _TrustPolicy) -> str:
    """RFC 5280 path validation from the signing certificate to one of the sender's anchors."""
    if _fingerprint(leaf) in {_fingerprint(a) for a in policy.anchors}:
        # The signing certificate itself is configured (pinned): nothing to build.
        return f"signing certificate is a trust anchor of {policy.whose()}"
    # Issuers must be CAs (basicConstraints, keyCertSign) and sign with current algorithms, as
    # in the Web PKI; the signing certificate itself is a document signer's, not a TLS
    # client's, so its extensions (EKU, AKI, SAN) are not held to the Web PKI's profile.
    when = policy.at if policy.at is not None else datetime.now(UTC)
    verifier = (
        PolicyBuilder()
        .store(Store(list(policy.anchors)))
        .time(when)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, pool)
    except VerificationError as exc:
        at = "" if policy.at is not None else " (no <sent> time: checked at the present time)"
        raise _Verdict(
            UNTRUSTED_OR_EXPIRED_CERT,
            f"certificate {_subject(leaf)} does not chain to a trust anchor of {policy.whose()}{at}: {exc}",
        ) from None
    anchor = verified.chain[-1]
    return f"certificate chains to {_subject(anchor)}, a trust anchor of {policy.whose()}"


def _check_with_anchor_keys(
    alert: _SignedAlert,
    index: int,
    readings: Iterable[_Layout],
    method: SignatureMethod,
    c14n_uri: str,
    policy: _TrustPolicy,
    missing: _Verdict,
) -> tuple[_Layout, PublicKey, list[x509.Certificate]]:
    """Verify a signature that carries no key with each key of the sender's anchors."""
    readings = list(readings)
    for anchor in policy.anchors:
        try:
            key = _public_key(anchor.public_key())
            return _check_signature_value(alert, index, readings, method, c14n_uri, key), key, [anchor]
        except _Verdict:
            continue
    raise _Verdict(
        UNVERIFIABLE,
        f"{missing.detail}; no trust anchor of {policy.whose()} has the key it was signed with",
    )


@functools.lru_cache(maxsize=256)
def _fingerprint(cert: x509.Certificate) -> bytes:
    # Trust anchors are the same on every call; hashing them again each time is waste.
    return cert.fingerprint(hashes.SHA256())


def _key_bytes(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _load_anchors(trusted: Sequence[Anchor]) -> tuple[x509.Certificate, ...]:
    anchors: list[x509.Certificate] = []
    for position, blob in enumerate(trusted):
        if isinstance(blob, x509.Certificate):
            anchors.append(blob)
            continue
        data = blob.encode("ascii") if isinstance(blob, str) else bytes(blob)
        try:
            anchors.extend(_anchor_certificates(data))
        except ValueError as exc:
            raise ValueError(f"trusted_certs[{position}] is not a PEM or DER certificate") from exc
    return tuple(anchors)


@functools.lru_cache(maxsize=64)
def _anchor_certificates(data: bytes) -> tuple[x509.Certificate, ...]:
    # Trust anchors come from configuration, the same bytes on every call: parse them once.
    if b"-----BEGIN" in data:
        return tuple(x509.load_pem_x509_certificates(data))
    return (x509.load_der_x509_certificate(data),)


def _child_text(alert: etree._Element, name: str) -> str | None:
    # A CAP child of <alert> in whatever CAP namespace, as the parser would read it.
    for child in alert:
        if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == name:
            return (child.text or "").strip() or None
    return None


def _sent_time(alert: etree._Element) -> datetime | None:
    # CAP 1.2 §3.2.1 <sent>: the signer vouches for the alert as of this time.
    for child in alert:
        if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == "sent":
            try:
                return _utc(datetime.fromisoformat((child.text or "").strip()))
            except ValueError:
                return None
    return None


def _utc(moment: datetime) -> datetime:
    # A time without an offset is taken as UTC (CAP requires offsets; callers may not).
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
