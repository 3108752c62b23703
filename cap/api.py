"""The public entry points of the CAP library, taking what a Python caller may hand over.

`validate` tells a feed from a single message and hands each to its reader (`cap.feeds`,
`cap.parsing`).

`cap.parsing` is compiled with mypyc (see setup.py), which holds its functions to their
annotations at run time: bytes, bool. These take a bytearray or memoryview as bytes, text by
mistake as the `cap.xml.not-bytes` finding, and any truthy flag as true, and answer as the
library always has: a Report, or for `parse` a CapError, never a TypeError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cap import parsing
from cap.errors import CapError
from cap.feeds import is_feed_root, looks_like_json, validate_feed
from cap.limits import DEFAULT_LIMITS, Limits
from cap.model import Alert
from cap.report import Report
from cap.trust import Anchor, TrustAnchors
from cap.xmlsafe import as_bytes


def validate(
    data: bytes,
    *,
    profiles: Sequence[str] = (),
    verify_signature: bool = True,
    trusted_certs: Sequence[Anchor] = (),
    trust_anchors: TrustAnchors | Mapping[str, Sequence[Anchor]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Validate a CAP message (or a feed of them); never raises on bad input.

    A signature is `verified` only when its certificate chains to a trust anchor of the
    alert's sender: `trust_anchors` maps senders to their anchors (PEM or DER bytes, or
    certificates), `trusted_certs` are anchors for any sender. Raises ValueError only when an
    anchor itself is not a certificate (configuration, not input). `limits` bounds the work
    one <alert> may ask for (`cap.limits`; the messages of a feed keep the defaults).
    """
    try:
        raw = as_bytes(data)
    except CapError as exc:
        return Report(valid=False, ingestible=False, errors=[exc.finding])
    profiles, verify = profiles or (), bool(verify_signature)
    trusted = TrustAnchors.of(trust_anchors, trusted_certs or ())
    # Which kind of document it is decides who reads it: a feed goes to `cap.feeds`, which
    # hands each CAP message it carries back to `cap.parsing` (so the parser knows no feed).
    if looks_like_json(raw):
        return validate_feed(raw, profiles=profiles, verify_signature=verify, trusted_certs=trusted)
    try:
        root, lean = parsing.read_xml(raw, verify)
    except CapError as exc:
        return Report(valid=False, ingestible=False, errors=[exc.finding])
    tag = root.tag
    # An <alert> (in any namespace: the parser names a wrong one) skips the feed readers' tests.
    if isinstance(tag, str) and not (tag.endswith("}alert") or tag == "alert") and is_feed_root(root):
        return validate_feed(raw, profiles=profiles, verify_signature=verify, trusted_certs=trusted)
    return parsing.check_read(root, raw, lean, verify, profiles, trusted, limits)


def check_alert_element(
    root: Any,
    *,
    verify_signature: bool = True,
    profiles: Sequence[str] = (),
    trusted_certs: Sequence[Anchor] = (),
    trust_anchors: TrustAnchors | Mapping[str, Sequence[Anchor]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Validate an already securely parsed CAP <alert> element (also one embedded in a feed)."""
    return parsing.check_alert_element(
        root,
        verify_signature=bool(verify_signature),
        profiles=profiles or (),
        trusted_certs=TrustAnchors.of(trust_anchors, trusted_certs or ()),
        limits=limits,
    )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Alert:
    """Read one CAP message tolerantly; raise CapError (rule id, path) if it cannot be ingested."""
    return parsing.parse(as_bytes(data), limits)
