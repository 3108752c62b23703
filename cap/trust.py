"""Trust anchors per CAP sender: whose certificates a signed alert must chain to.

A signature proves only that someone holding a key signed the alert; that the someone is the
authority named in <sender> is a fact the receiver configures (as the WMO Register of Alerting
Authorities or an IPAWS COG list does): for each sender, the certificates its signing
certificate must chain to. `cap.validate(..., trust_anchors=...)` takes them as values and
`cap.signature` checks the chain; a signature that verifies but chains to no anchor configured
for the alert's own sender is `untrusted-or-expired-cert`, never `verified`.

This module holds values only: it imports no cryptography, so the parser can name the type
without loading the X.509 stack (cap.signature reads the anchors when a signature is met).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from cryptography import x509

# One trust anchor: a certificate as PEM text or bytes (several in one PEM are several
# anchors), DER bytes, or a certificate already read.
Anchor = Union[bytes, str, "x509.Certificate"]


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    """The certificates each sender's signatures must chain to.

    `by_sender` maps a CAP <sender> (exactly as the alert writes it, surrounding blanks aside)
    to its anchors; `any_sender` are anchors for every sender (e.g. `tampere validate
    --trust-anchor FILE`, or a national CA that issues every alerting authority's certificate).
    """

    by_sender: Mapping[str, tuple[Anchor, ...]] = field(default_factory=dict)
    any_sender: tuple[Anchor, ...] = ()

    def for_sender(self, sender: str | None) -> tuple[Anchor, ...]:
        """The anchors a signature on an alert from `sender` must chain to."""
        own = self.by_sender.get(sender.strip(), ()) if sender else ()
        return (*own, *self.any_sender)

    @classmethod
    def of(
        cls,
        trust_anchors: TrustAnchors | Mapping[str, Sequence[Anchor]] | None = None,
        any_sender: Sequence[Anchor] = (),
    ) -> TrustAnchors:
        """Anchors from what a caller may hand over: a TrustAnchors, a mapping of sender to
        anchors, and anchors for any sender."""
        if isinstance(trust_anchors, TrustAnchors):
            base = trust_anchors
        else:
            base = cls({s.strip(): _anchors(a) for s, a in (trust_anchors or {}).items()})
        if not any_sender:
            return base
        return cls(base.by_sender, (*base.any_sender, *any_sender))

    def __bool__(self) -> bool:
        return bool(self.any_sender) or any(self.by_sender.values())


def _anchors(value: Anchor | Sequence[Anchor]) -> tuple[Anchor, ...]:
    # One PEM or certificate given where a list was meant is one anchor, not its characters.
    if isinstance(value, bytes | str) or not isinstance(value, Sequence):
        return (value,)
    return tuple(value)


# What `cap.validate` and the readers below it take as trust anchors: anchors for whoever sent
# the alert, or anchors per sender.
Trust = Sequence[Anchor] | TrustAnchors
