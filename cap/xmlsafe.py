"""Hardened XML reading: no DTD, no entities, no network, bounded size and depth.

Every CAP document and feed goes through `secure_parse`; anything it cannot read safely becomes
a `CapError` with a rule id, never an lxml exception.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from cap.errors import CapError

# A legitimate CAP message with an embedded audio resource runs to a few MB (IPAWS); a feed of
# hundreds of alerts to a few more. Past this we refuse before parsing.
MAX_BYTES = 8 * 1024 * 1024
# libxml2 without XML_PARSE_HUGE stops at depth 256; CAP itself nests five levels deep.
MAX_DEPTH = 256

_local = threading.local()

_DOCTYPE_MARKERS = (
    b"<!DOCTYPE",
    b"<!ENTITY",
    "<!DOCTYPE".encode("utf-16-le"),
    "<!DOCTYPE".encode("utf-16-be"),
    "<!ENTITY".encode("utf-16-le"),
    "<!ENTITY".encode("utf-16-be"),
)
_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


def _parser() -> etree.XMLParser:
    # lxml parsers are not thread-safe; one per thread, reused (creating one costs more than
    # parsing a small alert).
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=False,
            remove_pis=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def declared_encoding(data: bytes) -> str | None:
    """The encoding named in the XML declaration, if any."""
    m = _DECL_ENCODING.match(data[:200])
    return m.group(1).decode("ascii").lower() if m else None


def secure_parse(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes safely and return the root element, or raise CapError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CapError("cap.xml.not-bytes", "input must be bytes as received, not text", "/")
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > MAX_BYTES:
        raise CapError(
            "cap.xml.too-large",
            f"document is {len(data)} bytes; the limit is {MAX_BYTES}",
            "/",
        )
    if data.isspace():
        raise CapError("cap.xml.empty", "document is empty", "/")
    # Refuse DTDs outright: they carry external entities (XXE), entity expansion bombs
    # (billion laughs, quadratic blow-up) and network fetches. CAP never needs one.
    if _has_declarations(data):
        raise CapError(
            "cap.xml.doctype",
            "a DOCTYPE or ENTITY declaration is not allowed (external entities and entity "
            "expansion are refused)",
            "/",
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, data) from None
    except (ValueError, LookupError) as exc:
        raise CapError("cap.xml.encoding", f"cannot decode the document: {exc}", "/") from None
    if root is None:
        raise CapError("cap.xml.malformed", "no root element", "/")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise CapError("cap.xml.doctype", "a DOCTYPE is not allowed", "/")
    return root


def _has_declarations(data: bytes) -> bool:
    # Most documents have no "<!" at all (no comment, CDATA or declaration): one scan decides.
    if b"\x00" in data[:4]:  # UTF-16 (with or without a byte-order mark)
        return any(marker in data for marker in _DOCTYPE_MARKERS[2:])
    if b"<!" not in data:
        return False
    return b"<!DOCTYPE" in data or b"<!ENTITY" in data


def _syntax_error(exc: etree.XMLSyntaxError, data: bytes) -> CapError:
    msg = str(exc.msg or exc)
    line = exc.position[0] if exc.position else 0
    col = exc.position[1] if exc.position else 0
    where = f"line {line}, column {col}"
    low = msg.lower()
    if "encoding" in low or "utf-8" in low or "bytes:" in low or "char out of range" in low:
        declared = declared_encoding(data) or "utf-8 (default)"
        return CapError(
            "cap.xml.encoding",
            f"bytes do not match the declared encoding {declared}: {msg}",
            where,
        )
    if "depth" in low:
        return CapError("cap.xml.too-deep", f"nesting deeper than {MAX_DEPTH}: {msg}", where)
    if "namespace prefix" in low or "namespace error" in low:
        return CapError("cap.xml.undeclared-prefix", msg, where)
    if "entity" in low:
        return CapError("cap.xml.doctype", f"entities are not allowed: {msg}", where)
    return CapError("cap.xml.malformed", f"not well-formed XML: {msg}", where)
