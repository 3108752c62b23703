"""Hardened XML reading: no DTD, no entities, no network, bounded size and depth.

Every CAP document and feed goes through `secure_parse`; anything it cannot read safely becomes
a `CapError` with a rule id, never an lxml exception.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from cap.errors import CapError
from cap.limits import MAX_BYTES, MAX_DEPTH  # past MAX_BYTES we refuse before parsing

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


def _parser(keep_blanks: bool = True) -> etree.XMLParser:
    # lxml parsers are not thread-safe; one per thread and kind, reused (creating one costs more
    # than parsing a small alert).
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(keep_blanks)
    if parser is None:
        parser = parsers[keep_blanks] = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=False,
            remove_pis=False,
            collect_ids=False,
            remove_blank_text=not keep_blanks,
        )
    return parser


def declared_encoding(data: bytes) -> str | None:
    """The encoding named in the XML declaration, if any."""
    m = _DECL_ENCODING.match(data[:200])
    return m.group(1).decode("ascii").lower() if m else None


def as_bytes(data: object) -> bytes:
    """The document's bytes (a bytearray or memoryview copied), or CapError for anything else."""
    if data.__class__ is bytes:
        return data  # type: ignore[return-value]
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise CapError("cap.xml.not-bytes", "input must be bytes as received, not text", "/")


def secure_parse(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes safely and return the root element, or raise CapError."""
    return _parse(data, lean=False)[0]


def lean_parse(data: bytes) -> tuple[etree._Element, bool]:
    """`secure_parse`, leaving out the blanks between elements where the text reads the same.

    Returns the root and whether the blanks were left out. A lean tree lacks the whitespace-only
    text between elements (indentation), which makes parsing about a tenth cheaper, and holds
    the text of every text-only element exactly as `secure_parse` would: what cannot be sure of
    that is parsed whole (see `_blanks_may_matter`). What reads the whitespace between elements
    (mixed content, XML signatures) must parse a lean document again with `secure_parse`.
    """
    return _parse(data, lean=data.__class__ is bytes and not _blanks_may_matter(data))


# Encodings in which every byte below 0x80 is the ASCII character (libxml2's names, lower case).
_ASCII_BYTES_ENCODINGS = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "latin1", "latin-1"}
    | {f"iso-8859-{n}" for n in range(1, 17)}
    | {f"iso8859-{n}" for n in range(1, 17)}
    | {f"{prefix}{n}" for prefix in ("windows-", "cp") for n in range(1250, 1259)}
)
_EBCDIC_DECLARATION = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC


def _blanks_may_matter(data: bytes) -> bool:
    """Whether libxml2 might drop blanks from an element's text when told to drop the blanks
    between elements.

    Its test (areBlanks) also takes a run of blanks that starts an element's text and is followed
    by a CDATA section or by a carriage return. Both show in the bytes (a CDATA opening, a CR) when
    the encoding is ASCII-compatible: not so after a UTF-16 or UTF-32 byte-order mark or zero
    bytes, or in EBCDIC (here), or in another declared encoding (`lean_parse` reads the document
    again, whole, when libxml2 reports one). Blanks before a child element, comment or PI are
    dropped too, but those make the element irregular, and the detailed reading parses the
    document whole.
    """
    head = data[:4]
    if b"\x00" in head or head.startswith((b"\xfe\xff", b"\xff\xfe", _EBCDIC_DECLARATION)):
        return True
    # (One-byte searches run at memory speed; the nine-byte one only where a "[" is.)
    return b"\r" in data or (b"[" in data and b"<![CDATA[" in data)


_UTF8_BOM = b"\xef\xbb\xbf"
_XML_BLANKS = b" \t\r\n"


def blanks_before_declaration(data: bytes) -> int:
    """How many blanks (XML whitespace) stand before the XML declaration, after any UTF-8
    byte-order mark; 0 when the declaration opens the document or there is none.

    XML 1.0 §2.8 puts the declaration at the very start, and libxml2 refuses anything before
    it; but blank lines there (a template's, a concatenating script's) change nothing the
    document says, so they are skipped and reported (cap.xml.declaration-not-first).
    """
    start = 3 if data.startswith(_UTF8_BOM) else 0
    if data[start : start + 1] not in (b" ", b"\t", b"\r", b"\n"):
        return 0
    body = data[start : start + 4096].lstrip(_XML_BLANKS)
    return min(4096, len(data) - start) - len(body) if body.startswith(b"<?xml") else 0


def _parse(data: bytes, *, lean: bool) -> tuple[etree._Element, bool]:
    """The root, and whether it was parsed lean (see `lean_parse`)."""
    data = as_bytes(data)
    if len(data) > MAX_BYTES:
        raise CapError(
            "cap.xml.too-large",
            f"document is {len(data)} bytes; the limit is {MAX_BYTES}",
            "/",
        )
    if data.isspace():
        raise CapError("cap.xml.empty", "document is empty", "/")
    blanks = blanks_before_declaration(data)
    if blanks:
        start = 3 if data.startswith(_UTF8_BOM) else 0
        data = data[:start] + data[start + blanks :]
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
        root = etree.fromstring(data, _parser(keep_blanks=not lean))
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, data) from None
    except (ValueError, LookupError) as exc:
        raise CapError("cap.xml.encoding", f"cannot decode the document: {exc}", "/") from None
    if root is None:
        raise CapError("cap.xml.malformed", "no root element", "/")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise CapError("cap.xml.doctype", "a DOCTYPE is not allowed", "/")
    # The declared encoding, as libxml2 read it (it says UTF-8 for a byte-order mark without a
    # declaration: `_blanks_may_matter` looked at those).
    if lean and (docinfo.encoding or "").lower() not in _ASCII_BYTES_ENCODINGS:
        return _parse(data, lean=False)
    return root, lean


def _has_declarations(data: bytes) -> bool:
    if data.find(b"\x00", 0, 4) >= 0:  # UTF-16 (with or without a byte-order mark): scan it all (rare)
        return any(marker in data for marker in _DOCTYPE_MARKERS[2:])
    # XML 1.0 §2.8: a DOCTYPE (and the entity declarations it carries) can only stand in the
    # prolog, before the root element; one later is not well-formed and libxml2 refuses it
    # without reading it (and the docinfo check after parsing stays). So for UTF-8 and the
    # 8-bit encodings only the prolog is read, not a message of megabytes.
    # The usual case: declaration, stylesheet..., then the root, within the first few KB (a
    # bound on the regex's work; a longer prolog is read below).
    if _PLAIN_PROLOG.match(data, 0, _PLAIN_PROLOG_WINDOW):
        return False
    declared = _declaration_in_prolog(data)
    if declared is None:  # no root element in sight: scan it all
        return b"<!DOCTYPE" in data or b"<!ENTITY" in data
    return declared


# A byte-order mark, then up to 8 prolog items (the XML declaration, processing instructions
# such as xml-stylesheet, comments) between whitespace, then the start of the root element's
# name. A PI holding no ">" ends at its first "?>", a comment at its first "-->", as in XML and
# in `_declaration_in_prolog`, which reads any other prolog. Whitespace runs end at a "<" and
# comment text is unrolled ([^-]* then -[^-]+ ...): a failing match backtracks linearly.
_PLAIN_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:[ \t\r\n]*(?:<\?[^>]*\?>|<!--[^-]*(?:-[^-]+)*-->)){0,8}"
    rb"[ \t\r\n]*<[A-Za-z_:]"
)
_PLAIN_PROLOG_WINDOW = 4096  # bytes the regex may read; a longer prolog goes the slow way
# Prolog items (PIs, comments) stepped over before falling back to scanning the whole document.
_MAX_PROLOG_ITEMS = 64


def _declaration_in_prolog(data: bytes) -> bool | None:
    """Whether the first markup after the prolog's PIs and comments is a declaration.

    False means the root element starts first; None that the prolog could not be read.
    """
    i = 0
    for _ in range(_MAX_PROLOG_ITEMS):
        i = data.find(b"<", i)
        if i < 0:
            return None
        if data.startswith(b"<?", i):  # XML declaration or processing instruction
            end, skip = data.find(b"?>", i + 2), 2
        elif data.startswith(b"<!--", i):
            end, skip = data.find(b"-->", i + 4), 3
        else:
            return data.startswith((b"<!DOCTYPE", b"<!ENTITY"), i)
        if end < 0:
            return None
        i = end + skip
    return None


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
