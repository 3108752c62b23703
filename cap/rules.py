"""Every rule the validator applies, by stable id.

`fatal` marks the rules a tolerant pipeline cannot get past: without them the message cannot be
read (not XML, not CAP) or cannot be acted on (no identifier, no sent time, an unknown urgency).
Everything else makes a message non-conformant but still ingestible, with the finding kept.
"""

from __future__ import annotations

from cap.errors import Rule
from cap.profiles import PROFILE_RULES

_RULES = [
    # XML layer (W3C XML 1.0, Namespaces in XML)
    Rule("cap.xml.not-bytes", "error", True, "input must be the bytes as received"),
    Rule("cap.xml.empty", "error", True, "document is empty"),
    Rule("cap.xml.too-large", "error", True, "document exceeds the size limit"),
    Rule("cap.xml.too-deep", "error", True, "nesting exceeds the depth limit"),
    Rule("cap.xml.doctype", "error", True, "DOCTYPE/ENTITY declarations are refused (XXE, bombs)"),
    Rule("cap.xml.malformed", "error", True, "not well-formed XML"),
    Rule("cap.xml.encoding", "error", True, "bytes do not match the declared encoding"),
    Rule("cap.xml.encoding-suspect", "warning", False, "declared encoding looks wrong"),
    Rule("cap.xml.declaration-not-first", "error", False,
         "blanks before the XML declaration (skipped: they change nothing)", "XML 1.0 §2.8"),
    Rule("cap.xml.undeclared-prefix", "error", True, "namespace prefix used but not declared"),
    Rule("cap.xml.namespace", "error", True, "<alert> is not in a CAP 1.0/1.1/1.2 namespace"),
    Rule("cap.xml.not-cap", "error", True, "root element is not a CAP <alert> or a known feed"),
    Rule("cap.xml.too-many-vertices", "error", True,
         "polygon pairs, or the message's vertices (128 per circle), over the limit"),
    # Work one message may ask for (cap.limits): past a bound the reading stops.
    Rule("cap.limits.length", "error", True, "an element's text is longer than the limit"),
    Rule("cap.limits.infos", "error", True, "more <info> blocks than the limit"),
    Rule("cap.limits.areas", "error", True, "more <area> blocks than the limit"),
    Rule("cap.limits.polygons", "error", True, "more <polygon> elements than the limit"),
    Rule("cap.limits.circles", "error", True, "more <circle> elements than the limit"),
    Rule("cap.limits.geocodes", "error", True, "more <geocode> entries than the limit"),
    Rule("cap.limits.resources", "error", True, "more <resource> entries than the limit"),
    Rule("cap.limits.parameters", "error", True, "more <eventCode> and <parameter> entries than the limit"),
    Rule("cap.limits.references", "error", True, "more <references> entries than the limit"),
    Rule("cap.limits.addresses", "error", True, "more <addresses> entries than the limit"),
    Rule("cap.limits.codes", "error", True, "more <code> entries than the limit"),
    Rule("cap.limits.children", "error", True,
         "more child nodes than the element's content model can hold within the limits"),
    Rule("cap.limits.findings", "error", True, "more findings than the limit; the rest are not reported"),
    Rule("cap.json.format", "error", True, "not a Tampere CAP-JSON document"),
    # Structure: the official OASIS XSDs
    Rule("cap.schema.missing", "error", True, "a required element is missing", "XSD"),
    Rule("cap.schema.order", "error", False, "elements out of the schema's sequence", "XSD"),
    Rule("cap.schema.too-many", "error", False, "element occurs more often than allowed", "XSD"),
    Rule("cap.schema.unknown-element", "error", False, "element not allowed here", "XSD"),
    Rule("cap.schema.attribute", "error", False, "attribute not allowed on a CAP element", "XSD"),
    Rule("cap.schema.mixed-content", "error", False, "child elements inside a text element", "XSD"),
    Rule("cap.schema.enum", "error", True, "value not in the enumeration", "XSD"),
    Rule("cap.schema.enum-optional", "error", False, "value not in the enumeration", "XSD"),
    Rule("cap.schema.datetime", "error", False, "not a CAP date-time", "XSD, CAP 1.2 §3.3.2"),
    Rule("cap.schema.sent", "error", True, "<sent> is not a date-time", "CAP 1.2 §3.2.1"),
    Rule("cap.schema.integer", "error", False, "not an integer", "XSD"),
    Rule("cap.schema.decimal", "error", False, "not a decimal number", "XSD"),
    Rule("cap.schema.language", "error", False, "not an RFC 3066 language tag", "CAP 1.2 §3.2.2"),
    Rule("cap.schema.empty", "error", True, "a required value is empty", "XSD"),
    # Prose MUSTs of the specification
    Rule("cap.datetime.timezone", "error", False, "date-time without a numeric time zone",
         "CAP 1.2 §3.3.2"),
    Rule("cap.datetime.alphabetic-zone", "error", False, "\"Z\" must not be used", "CAP 1.2 §3.3.2"),
    Rule("cap.identifier.chars", "error", True, "identifier has spaces, commas, < or &",
         "CAP 1.2 §3.2.1"),
    Rule("cap.sender.chars", "error", True, "sender has spaces, commas, < or &", "CAP 1.2 §3.2.1"),
    Rule("cap.references.format", "error", False, "references are not sender,identifier,sent",
         "CAP 1.2 §3.2.1"),
    Rule("cap.references.empty", "error", False, "<references> present but empty",
         "CAP 1.2 §3.2.1"),
    Rule("cap.references.missing", "warning", False, "Update/Cancel/Ack/Error without references",
         "CAP 1.2 §3.2.1"),
    Rule("cap.restriction.required", "error", False, "Restricted scope needs <restriction>",
         "CAP 1.2 §3.2.1"),
    Rule("cap.restriction.unexpected", "warning", False, "<restriction> without Restricted scope",
         "CAP 1.2 §3.2.1"),
    Rule("cap.addresses.required", "error", True, "Private scope needs <addresses>: nobody could read it",
         "CAP 1.2 §3.2.1"),
    Rule("cap.addresses.format", "error", False, "addresses: unbalanced double quotes",
         "CAP 1.2 §3.2.1"),
    Rule("cap.polygon.format", "error", False, "polygon is not whitespace-separated lat,lon pairs",
         "CAP 1.2 §3.2.4"),
    Rule("cap.polygon.min-pairs", "error", False, "polygon has fewer than four pairs",
         "CAP 1.2 §3.2.4"),
    Rule("cap.polygon.closed", "error", False, "polygon's first and last pairs differ",
         "CAP 1.2 §3.2.4"),
    Rule("cap.coordinate.range", "error", False, "latitude/longitude outside WGS 84 ranges",
         "CAP 1.2 §3.2.4"),
    Rule("cap.circle.format", "error", False, "circle is not \"lat,lon radius\"", "CAP 1.2 §3.2.4"),
    Rule("cap.circle.radius", "error", False, "circle radius is negative", "CAP 1.2 §3.2.4"),
    Rule("cap.area.unusable", "error", True,
         "every area's polygons and circles are out of WGS 84 ranges or have a negative radius",
         "CAP 1.2 §3.2.4, §3.3.1"),
    Rule("cap.area.ceiling-without-altitude", "error", False, "<ceiling> needs <altitude>",
         "CAP 1.2 §3.2.4"),
    Rule("cap.area.ceiling-below-altitude", "warning", False, "ceiling is below altitude"),
    Rule("cap.resource.mime-type", "error", False, "mimeType is not an RFC 2046 type/subtype",
         "CAP 1.2 §3.2.3"),
    Rule("cap.resource.size", "warning", False, "size should be a non-negative byte count"),
    Rule("cap.resource.deref-base64", "error", False, "derefUri must be base-64",
         "CAP 1.2 §3.2.3"),
    Rule("cap.resource.digest", "warning", False, "digest should be a SHA-1 hex digest",
         "CAP 1.2 §3.2.3"),
    Rule("cap.named-value.format", "warning", False, "CAP 1.0 value should be valueName=value"),
    Rule("cap.info.expires-before-effective", "warning", False, "expires precedes effective/onset"),
    Rule("cap.uri.whitespace", "warning", False, "URI contains whitespace"),
    # XML Digital Signature (CAP 1.2 §3.3.4)
    Rule("cap.signature.bad-digest", "error", False, "a signed reference's digest does not match"),
    Rule("cap.signature.bad-signature", "error", False, "the signature value does not verify"),
    # Trust is policy, not conformance: the signature itself verified. Reported as a warning
    # and in Report.signature; a sender can be configured to require a trusted certificate.
    Rule("cap.signature.untrusted-or-expired-cert", "warning", False,
         "signing certificate untrusted or not valid at the sent time"),
    Rule("cap.signature.unverifiable", "warning", False, "signature cannot be verified here"),
]  # fmt: skip

# Profile rules (Google, IPAWS, CAP-AU, CAP-CP and the specification's SHOULDs) are warnings
# defined beside their checks; one registry serves every finding.
RULES: dict[str, Rule] = {r.id: r for r in (*_RULES, *PROFILE_RULES)}
FATAL: frozenset[str] = frozenset(r.id for r in _RULES if r.fatal)

__all__ = ["FATAL", "RULES", "Rule"]
