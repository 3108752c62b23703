"""The content digest of a CAP message: what stays the same when only its form changes.

CAP 1.2 §3.2.1 names a message by (sender, identifier, sent); two documents with that key are
the same message when they say the same thing. They may still differ in bytes: re-indented,
another XML declaration or encoding, attributes in another order, or signed again (a relay
such as the WMO Alert Hub adds its own `ds:Signature`). The digest leaves all of that out:

1. parse (hardened, `cap.xmlsafe`);
2. drop the whitespace-only text between elements (the blanks of indentation; the text of a
   leaf element, blank or not, is content and stays);
3. drop every XML-DSig `Signature` element (http://www.w3.org/2000/09/xmldsig#), comments, and
   what stands outside the root element (comments, processing instructions);
4. Canonical XML 1.0 (W3C C14N, without comments), SHA-256, hex.
"""

from __future__ import annotations

import copy
import hashlib

from lxml import etree

from cap.xmlsafe import secure_parse

XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
_SIGNATURE = f"{{{XMLDSIG}}}Signature"


def content_digest(data: bytes) -> str:
    """SHA-256 (hex) of the canonical content of an XML document; raises `CapError` when the
    bytes cannot be read as XML."""
    root = secure_parse(data)
    for signature in list(root.iter(_SIGNATURE)):
        _remove(signature)
    for element in root.iter():
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    # The root alone, in a document of its own: comments and processing instructions before or
    # after it (a relay's stylesheet) are not content either.
    alone = copy.deepcopy(root).getroottree()
    canonical = etree.tostring(alone, method="c14n", with_comments=False)
    return hashlib.sha256(canonical).hexdigest()


def _remove(element: etree._Element) -> None:
    # Keep the text that followed the element (its tail) unless it is blank, as it would have
    # been read without the element.
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
