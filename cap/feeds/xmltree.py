"""Reading feed XML by local name and namespace, and naming places in it for findings."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from cap.schema import VERSION_OF_NS

CAP_NAMESPACES = frozenset(VERSION_OF_NS)
CAP_ALERT_TAGS = tuple(f"{{{ns}}}alert" for ns in sorted(CAP_NAMESPACES))


def qname(el: etree._Element) -> tuple[str | None, str]:
    """(namespace, local name) of an element."""
    q = etree.QName(el)
    return q.namespace, q.localname


def children(el: etree._Element) -> Iterator[etree._Element]:
    """Child elements, skipping comments and processing instructions."""
    return el.iterchildren(tag=etree.Element)


def named(el: etree._Element, ns: str | None, name: str) -> list[etree._Element]:
    """Child elements with this namespace and local name."""
    return [c for c in children(el) if qname(c) == (ns, name)]


def first(el: etree._Element, ns: str | None, name: str) -> etree._Element | None:
    """The first child element with this namespace and local name."""
    found = named(el, ns, name)
    return found[0] if found else None


def text_of(el: etree._Element | None) -> str | None:
    """All text inside an element, stripped; None when absent or empty."""
    if el is None:
        return None
    text = "".join(el.itertext()).strip()
    return text or None


def is_cap_alert(el: etree._Element) -> bool:
    """True for an <alert> in a CAP 1.0, 1.1 or 1.2 namespace."""
    ns, name = qname(el)
    return name == "alert" and ns in CAP_NAMESPACES


def cap_alerts_in(el: etree._Element) -> list[etree._Element]:
    """CAP <alert> elements inside `el` (or `el` itself), outermost only, in document order."""
    return [
        alert
        for alert in el.iter(*CAP_ALERT_TAGS)
        if next(alert.iterancestors(*CAP_ALERT_TAGS), None) is None
    ]


def path_of(el: etree._Element) -> str:
    """An XPath-like place for findings: "/feed/entry[3]/content/alert" (index only if repeated)."""
    steps: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        name = qname(node)[1]
        before = sum(1 for _ in node.itersiblings(node.tag, preceding=True))
        repeated = before > 0 or next(node.itersiblings(node.tag), None) is not None
        steps.append(f"{name}[{before + 1}]" if repeated else name)
        node = node.getparent()
    return "/" + "/".join(reversed(steps))
