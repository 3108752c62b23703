"""XML-DSig verification of CAP alerts, reported apart from the content verdict.

CAP 1.2 §3.3.2.1 (and CAP 1.1 §3.3.2.1) let an <alert> carry enveloped XML Signatures
(`ds:Signature`, http://www.w3.org/2000/09/xmldsig#) as its last children. This module checks
each one offline: reference digests first, then the SignatureValue over SignedInfo, then the
signing certificate's validity at the alert's <sent> time and, when trust anchors are given,
its chain (XML-DSig 1.1 §3.2 core validation order). Nothing is fetched from the network:
the key comes from the signature itself (X509Certificate, KeyValue or DEREncodedKeyValue).

Decisions a reader of the status should know:
- A malformed signature block (missing SignedInfo/SignatureValue, values that are not
  base64Binary, a certificate that cannot be read) is `bad-signature`: the signature is broken,
  not merely uncheckable. A DigestValue that is not base64Binary is `bad-digest`. Values whose
  unused base64 padding bits are set are not base64Binary (XML Schema Part 2 §3.2.16); this is
  how altered signatures often look, since lenient decoders read them as the original bytes.
- `unverifiable` means we could not check at all: no key material, an algorithm or transform we
  do not support (HMAC needs a shared secret), a reference that does not cover the whole alert.
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
import re
from collections.abc import Callable, Sequence
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

_WHITESPACE = re.compile(r"[ \t\r\n]+")


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
    trusted_certs: Sequence[bytes | str] = (),
    require_trust: bool = False,
) -> SignatureResult:
    """Verify every enveloped ds:Signature of a CAP <alert> element; never raises on bad input.

    `at` is when the signing certificate must have been valid (default: the alert's <sent>).
    `trusted_certs` (PEM or DER, CA or leaf) make a chain to one of them required;
    `require_trust` makes it required even when none are given (then nothing is trusted).
    Raises ValueError only when a trusted certificate itself cannot be read.
    """
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
    policy = _TrustPolicy(anchors=anchors, require_trust=require_trust, at=when)
    try:
        alert = _standalone(copy.deepcopy(root))
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
    anchors: tuple[x509.Certificate, ...]
    require_trust: bool
    at: datetime | None


def _label(signature: etree._Element) -> str:
    ident = signature.get("Id")
    return f" ({ident})" if ident else ""


def _verify_one(alert: etree._Element, index: int, policy: _TrustPolicy) -> _Outcome:
    notes: list[str] = []
    signature = _signature_at(alert, index)
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
        readings = _matching_layouts(alert, index, references)
        method = _enum(SignatureMethod, method_uri)
        if method.name.startswith("HMAC_"):
            raise _Verdict(UNVERIFIABLE, f"{method.name} needs a shared secret; none is known")
        if "SHA1" in method.name:
            notes.append(f"uses {method.name} (SHA-1, deprecated; accepted for legacy CAP)")
        key, certs = _key_material(signature)
        layout = _check_signature_value(alert, index, readings, method, c14n_uri, key)
        notes.insert(0, layout.note())
        notes.append(_check_trust(key, certs, policy))
        signer = certs[0].subject.rfc4514_string() if certs else None
        return _Outcome(VERIFIED, "; ".join(n for n in notes if n), signer)
    except _Verdict as verdict:
        detail = "; ".join([verdict.detail, *notes])
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
            certs.append(x509.load_der_x509_certificate(base64.b64decode(el.text or "")))
        except ValueError:
            continue
        if len(certs) >= MAX_CERTIFICATES:
            break
    try:
        return _leaf(certs).subject.rfc4514_string() if certs else None
    except ValueError:
        return None


def _signature_at(alert: etree._Element, index: int) -> etree._Element:
    return [el for el in alert if el.tag == f"{{{DS}}}Signature"][index]


def _require(parent: etree._Element, name: str, ns: str = DS) -> etree._Element:
    found = parent.find(f"{{{ns}}}{name}")
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
    text = _WHITESPACE.sub("", el.text or "")
    if not text:
        raise _Verdict(status, f"malformed signature: {what} is empty")
    if len(text) > MAX_BASE64_CHARS:
        raise _Verdict(UNVERIFIABLE, f"{what} is longer than {MAX_BASE64_CHARS} characters")
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
    cert_elements = key_info.findall(f"{{{DS}}}X509Data/{{{DS}}}X509Certificate")
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
    der = _base64(el, "X509Certificate")
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
        numbers = rsa.RSAPublicNumbers(
            _number(rsa_value, "Exponent"), _number(rsa_value, "Modulus")
        )
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


def _matching_layouts(
    alert: etree._Element, index: int, references: list[etree._Element]
) -> list[_Layout]:
    """The readings of the alert whose digests match, at most one per whitespace treatment."""
    cosigned = len(_signatures(alert)) > 1
    found: list[_Layout] = []
    for blank in (False, True):
        candidates = [_Layout(blank, drop) for drop in ((False, True) if cosigned else (False,))]
        matched = next((c for c in candidates if _digests_match(alert, index, references, c)), None)
        if matched is not None:
            found.append(matched)
    if not found:
        # Content that matches no reading of the digests is not what was signed.
        raise _digest_failure(alert, index, references, _Layout(False, False))
    return found


def _digest_method(reference: etree._Element) -> DigestAlgorithm:
    return _enum(DigestAlgorithm, _algorithm(_require(reference, "DigestMethod")))


def _digests_match(
    alert: etree._Element, index: int, references: list[etree._Element], layout: _Layout
) -> bool:
    return all(_reference_digest(alert, index, r, layout) == _digest_value(r) for r in references)


def _digest_value(reference: etree._Element) -> bytes:
    return _base64(_require(reference, "DigestValue"), "DigestValue", BAD_DIGEST)


def _digest_failure(
    alert: etree._Element, index: int, references: list[etree._Element], layout: _Layout
) -> _Verdict:
    for position, reference in enumerate(references):
        if _reference_digest(alert, index, reference, layout) != _digest_value(reference):
            name = _digest_method(reference).name
            return _Verdict(
                BAD_DIGEST,
                f'digest mismatch for Reference {position} (URI="", {name}): the alert content '
                "is not what was signed",
            )
    return _Verdict(BAD_DIGEST, "digest mismatch")


def _reference_digest(
    alert: etree._Element, index: int, reference: etree._Element, layout: _Layout
) -> bytes:
    uri = reference.get("URI")
    if uri != "":
        # CAP 1.2 §3.3.2.1: the signature is enveloped and covers the whole <alert>.
        raise _Verdict(UNVERIFIABLE, f"Reference URI={uri!r} does not cover the whole alert")
    enveloped = False
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
    document = _layout_copy(alert, layout.drop_blank_text)
    for position, signature in reversed(list(enumerate(_signatures(document)))):
        own = position == index
        if (own and enveloped) or (not own and layout.drop_other_signatures):
            _detach(signature)
    # XML-DSig §4.4.3.3: URI="" is the document without comments, whatever the c14n method.
    data = etree.tostring(
        document,
        method="c14n",
        exclusive=exclusive,
        with_comments=False,
        inclusive_ns_prefixes=prefixes,
    )
    hasher = hashes.Hash(digest_algorithm_implementations[digest]())
    hasher.update(data)
    return hasher.finalize()


def _signatures(alert: etree._Element) -> list[etree._Element]:
    return [el for el in alert if el.tag == f"{{{DS}}}Signature"]


def _inclusive_prefixes(el: etree._Element) -> list[str] | None:
    found = el.find(f"{{{_EXC_C14N}}}InclusiveNamespaces")
    if found is None or not found.get("PrefixList"):
        return None
    return [p if p != "#default" else "" for p in found.get("PrefixList", "").split()]


def _layout_copy(alert: etree._Element, drop_blank_text: bool) -> etree._Element:
    document = copy.deepcopy(alert)
    if drop_blank_text:
        for node in document.iter():
            if isinstance(node.tag, str) and len(node) and node.text and not node.text.strip():
                node.text = None
            if node.tail and not node.tail.strip():
                node.tail = None
    return document


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


def _reparser() -> etree.XMLParser:
    # Re-reads only what lxml itself just wrote; still no entities, DTD or network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _detach(el: etree._Element) -> None:
    """Remove an element but keep the text after it (the enveloped-signature transform)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _check_signature_value(
    alert: etree._Element,
    index: int,
    readings: list[_Layout],
    method: SignatureMethod,
    c14n_uri: str,
    key: PublicKey,
) -> _Layout:
    """Verify SignatureValue over the canonical SignedInfo; returns the reading that verified."""
    c14n = _enum(CanonicalizationMethod, c14n_uri)
    verify = _verifier(method, key)
    failure: _Verdict | None = None
    for layout in readings:
        signature = _signature_at(_layout_copy(alert, layout.drop_blank_text), index)
        signed_info = _standalone(_require(signature, "SignedInfo"))
        data = etree.tostring(
            signed_info,
            method="c14n",
            exclusive=c14n.value.startswith(_EXC_C14N),
            with_comments=c14n.value.endswith("#WithComments"),
            inclusive_ns_prefixes=_inclusive_prefixes(
                _require(signed_info, "CanonicalizationMethod")
            ),
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
    raise _Verdict(
        BAD_SIGNATURE, f"SignatureMethod {name} does not match the signer's {_key_kind(key)} key"
    )


def _dss(raw: bytes, size: int) -> bytes:
    # XML-DSig 1.1 §6.4.2-3: (EC)DSA SignatureValue is r || s, each exactly `size` bytes.
    if len(raw) != 2 * size:
        raise InvalidSignature
    return encode_dss_signature(
        int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    )


def _key_kind(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    return "DSA" if isinstance(key, dsa.DSAPublicKey) else "EC"


# --- certificate time and trust -------------------------------------------------------------


def _check_trust(key: PublicKey, certs: list[x509.Certificate], policy: _TrustPolicy) -> str:
    """Check validity at `policy.at` and the chain to trust anchors; returns a note."""
    if certs:
        _check_validity(certs[0], policy.at, "signing certificate")
    if policy.anchors:
        if certs:
            _check_chain(certs[0], certs[1:], policy)
            return "certificate chains to a trusted certificate"
        pinned = _key_bytes(key)
        if any(_key_bytes(anchor.public_key()) == pinned for anchor in policy.anchors):
            return "key is that of a trusted certificate"
        raise _Verdict(UNTRUSTED_OR_EXPIRED_CERT, "bare KeyValue matches no trusted certificate")
    if policy.require_trust:
        raise _Verdict(
            UNTRUSTED_OR_EXPIRED_CERT, "trust is required but no trusted certificates are set"
        )
    if not certs:
        return "key taken from KeyValue: integrity only, the signer is not identified"
    when = "" if policy.at is not None else " (validity not checked: no <sent> time)"
    return f"signed by the embedded certificate; no trust anchors configured{when}"


def _check_validity(cert: x509.Certificate, at: datetime | None, role: str) -> None:
    if at is None:
        return
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise _Verdict(
            UNTRUSTED_OR_EXPIRED_CERT,
            f"{role} {cert.subject.rfc4514_string()} is not valid at {at.isoformat()} "
            f"(valid {cert.not_valid_before_utc.isoformat()} to "
            f"{cert.not_valid_after_utc.isoformat()})",
        )


def _check_chain(
    leaf: x509.Certificate, pool: list[x509.Certificate], policy: _TrustPolicy
) -> None:
    anchors = {a.fingerprint(hashes.SHA256()): a for a in policy.anchors}
    current = leaf
    for _ in range(MAX_CHAIN_DEPTH):
        if current.fingerprint(hashes.SHA256()) in anchors:
            return
        anchor = next((a for a in policy.anchors if _issued_by(current, a)), None)
        if anchor is not None:
            _check_validity(anchor, policy.at, "trusted certificate")
            return
        issuer = next((c for c in pool if c is not current and _issued_by(current, c)), None)
        if issuer is None:
            break
        _check_validity(issuer, policy.at, "intermediate certificate")
        current = issuer
    raise _Verdict(
        UNTRUSTED_OR_EXPIRED_CERT,
        f"certificate {leaf.subject.rfc4514_string()} does not chain to a trusted certificate",
    )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _key_bytes(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _load_anchors(trusted: Sequence[bytes | str]) -> tuple[x509.Certificate, ...]:
    anchors: list[x509.Certificate] = []
    for position, blob in enumerate(trusted):
        data = blob.encode("ascii") if isinstance(blob, str) else bytes(blob)
        try:
            if b"-----BEGIN" in data:
                anchors.extend(x509.load_pem_x509_certificates(data))
            else:
                anchors.append(x509.load_der_x509_certificate(data))
        except ValueError as exc:
            raise ValueError(f"trusted_certs[{position}] is not a PEM or DER certificate") from exc
    return tuple(anchors)


def _sent_time(alert: etree._Element) -> datetime | None:
    # CAP 1.2 §3.2.1 <sent>: the signer vouches for the alert as of this time.
    for child in alert:
        if isinstance(child.tag, str) and etree.QName(child).localname == "sent":
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
