"""A CAP message as it may be shown: the CAP 1.0 <password> emptied, everything else as received.

CAP 1.0 §3.2.1 <password> "would allow the recipient to authenticate the sender"; CAP 1.1
removed it, since a clear-text secret has no place in a message meant to be redistributed. A
service that keeps a CAP 1.0 message as received (for its signature and audit digest) hands
out this reading of it instead: the element stays, its content (text, CDATA, comments, anything
nested) goes, and every other byte of the document is serialised as lxml read it.
"""

from __future__ import annotations

import re

from lxml import etree

from cap.schema import VERSION_OF_NS
from cap.xmlsafe import secure_parse

# CAP 1.0 is where <password> is defined; in a CAP 1.1/1.2 message it is an unknown element
# (cap.schema.unknown-element, still ingestible), and whatever a sender put there is emptied too.
_PASSWORDS = tuple("{" + ns + "}password" for ns in VERSION_OF_NS)
# What may come before the root element of a document the hardened parser read: a byte order
# mark, the XML declaration, comments, processing instructions and blanks (no DOCTYPE).
_PROLOG = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)


def redact_password(data: bytes) -> bytes:
    """`data` with the content of every <password> in a CAP namespace removed; `data` itself
    when there is none to remove. Raises CapError on what is not safe XML.

    The element is kept, emptied (`<password></password>`). Read with the hardened parser,
    blanks kept: the root element is written back by lxml from that reading, so whitespace and
    everything else inside it stay as they were; the prolog (declaration, comments) and the
    trailing blanks are the received bytes. A document in an encoding that is not a superset of
    ASCII (UTF-16, EBCDIC) is written whole by lxml, declaration included.
    """
    root = secure_parse(data)
    found = [el for el in root.iter(*_PASSWORDS) if el.text or len(el)]
    if not found:
        return data
    for el in found:
        for child in list(el):
            el.remove(child)  # with its tail: the text after a comment or element inside
        el.text = ""
    tree = root.getroottree()
    encoding = tree.docinfo.encoding or "UTF-8"
    if not _ascii_compatible(encoding):
        return etree.tostring(tree, encoding=encoding, xml_declaration=True)
    prolog = _PROLOG.match(data)
    head = data[: prolog.end()] if prolog else b""
    body = etree.tostring(root, encoding=encoding, xml_declaration=False, with_tail=False)
    after = [etree.tostring(node, encoding=encoding, with_tail=False) for node in root.itersiblings()]
    trailing = data[len(data.rstrip()) :]
    return head + body + b"".join(b"\n" + node for node in after) + trailing


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "<?a-z ?>".encode(encoding) == b"<?a-z ?>"
    except LookupError:
        return False
