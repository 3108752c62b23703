"""Hostile XML against `cap.parse` and `cap.validate`: each attack gets a clear error with its rule
id (or, where the document is legitimate, a correct read), in bounded time and memory.

Memory is measured as the growth of the process's peak resident set during the call (Linux
`VmHWM`, reset before each call through /proc/self/clear_refs), so libxml2's allocations count as
well as Python's; where the peak cannot be reset, `ru_maxrss` growth is used, which still catches
any blow-up past the earlier high-water mark. (tracemalloc is not used: it sees only Python's
allocations and slows allocation-heavy code several-fold, which would spoil the timing.)
"""

from __future__ import annotations

import http.server
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cap
from cap.parsing import MAX_POLYGON_PAIRS
from cap.report import Report
from cap.xmlsafe import MAX_BYTES

SECONDS = 2.0
# Generous against a 10 MB input, tiny against an entity expansion (gigabytes).
PEAK_RSS_BYTES = 200 * 1024 * 1024

MESSAGE = """<?xml version="1.0" encoding="{encoding}"?>{prolog}
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"{attributes}>
  <identifier>TAMPERE-HOSTILE-1</identifier>
  <sender>ops@example.org</sender>
  <sent>2024-03-05T10:15:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>{alert_extra}
  <info>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <description>{description}</description>
    <area>
      <areaDesc>{area}</areaDesc>
      <polygon>{polygon}</polygon>
    </area>
  </info>
</alert>
"""
POLYGON = "61.40,23.70 61.55,23.70 61.55,23.95 61.40,23.95 61.40,23.70"


def message(
    *,
    encoding: str = "UTF-8",
    prolog: str = "",
    attributes: str = "",
    alert_extra: str = "",
    description: str = "River is rising",
    area: str = "Lower valley",
    polygon: str = POLYGON,
) -> str:
    """The test message as text, with the given parts replaced."""
    return MESSAGE.format(
        encoding=encoding,
        prolog=prolog,
        attributes=attributes,
        alert_extra=alert_extra,
        description=description,
        area=area,
        polygon=polygon,
    )


# --- measuring one call ----------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    # Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM, the peak resident set size.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Cost:
    """What one call cost: wall time and growth of the peak resident set."""

    seconds: float
    rss_growth: int


def measured(fn: Callable[[bytes], Any], data: bytes) -> tuple[Any, Cost]:
    """Run fn(data); return its result (or the exception it raised) and what it cost."""
    before = _status_kib("VmRSS")
    if before is not None and _reset_peak_rss():
        peak_of = lambda: (_status_kib("VmHWM") or 0) * 1024  # noqa: E731
        base = before * 1024
    else:  # no /proc: ru_maxrss growth (catches any blow-up past the earlier high-water mark)
        peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # noqa: E731
        base = peak_of()
    start = time.perf_counter()
    try:
        result: Any = fn(data)
    except Exception as exc:  # returned for the test to inspect
        result = exc
    seconds = time.perf_counter() - start
    return result, Cost(seconds, max(0, peak_of() - base))


def assert_bounded(cost: Cost) -> None:
    """The library's own bounds: seconds, not minutes; megabytes, not gigabytes."""
    assert cost.seconds < SECONDS, cost
    assert cost.rss_growth < PEAK_RSS_BYTES, cost


def refused(data: bytes) -> tuple[cap.CapError, Report]:
    """Both entry points on data that must be refused: parse's error and validate's report."""
    error, cost = measured(cap.parse, data)
    assert_bounded(cost)
    assert isinstance(error, cap.CapError), f"expected CapError, got {error!r}"
    report, cost = measured(cap.validate, data)
    assert_bounded(cost)
    assert isinstance(report, Report), f"validate raised {report!r}"
    assert not report.valid and not report.ingestible
    assert report.errors[0].rule == error.rule
    return error, report


def read(data: bytes) -> tuple[cap.Alert, Report]:
    """Both entry points on data that must be read: the alert and validate's report."""
    alert, cost = measured(cap.parse, data)
    assert_bounded(cost)
    assert isinstance(alert, cap.Alert), f"parse failed: {alert!r}"
    report, cost = measured(cap.validate, data)
    assert_bounded(cost)
    assert isinstance(report, Report), f"validate raised {report!r}"
    return alert, report


# --- a loopback web server that counts what is fetched from it ------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server; yields its base URL and the list of paths requested from it.

    The libxml2 inside current lxml wheels has no HTTP client at all, so what this guards is the
    library itself (or a future schema/DTD resolver) going out to a URL named in a message.
    """
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"<!ENTITY leaked 'fetched'>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- entities: XXE, bombs --------------------------------------------------------------------


def test_external_file_entity_is_refused_before_anything_is_read() -> None:
    doc = message(
        prolog='\n<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', description="&xxe;"
    )
    error, report = refused(doc.encode())
    assert (error.rule, error.path) == ("cap.xml.doctype", "/")
    assert "root:" not in str(report.as_json())


def test_external_http_entity_is_refused_and_never_fetched(listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    doc = message(
        prolog=f'\n<!DOCTYPE alert [<!ENTITY % remote SYSTEM "{url}/evil.dtd"> %remote;'
        f'<!ENTITY xxe SYSTEM "{url}/secret">]>',
        description="&xxe;",
    )
    error, _ = refused(doc.encode())
    assert error.rule == "cap.xml.doctype"
    assert hits == []


def test_billion_laughs_is_refused() -> None:
    entities = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doc = message(prolog=f"\n<!DOCTYPE alert [{entities}]>", description="&l9;")
    error, _ = refused(doc.encode())
    assert (error.rule, error.path) == ("cap.xml.doctype", "/")


def test_quadratic_blowup_is_refused() -> None:
    # One 100 kB entity referenced 50,000 times: 5 GB once expanded, 250 kB as sent.
    doc = message(prolog=f'\n<!DOCTYPE alert [<!ENTITY a "{"x" * 100_000}">]>', description="&a;" * 50_000)
    error, _ = refused(doc.encode())
    assert (error.rule, error.path) == ("cap.xml.doctype", "/")


def test_utf16_document_with_a_doctype_is_refused() -> None:
    doc = message(encoding="UTF-16", prolog='\n<!DOCTYPE alert [<!ENTITY a "b">]>', description="&a;")
    for codec in ("utf-16", "utf-16-be"):  # with a BOM (little-endian here) and big-endian
        error, _ = refused(doc.encode(codec))
        assert error.rule == "cap.xml.doctype", codec


def test_utf16_document_without_a_doctype_is_read() -> None:
    alert, report = read(message(encoding="UTF-16", area="Vallée").encode("utf-16"))
    assert alert.infos[0].areas[0].area_desc == "Vallée"
    assert report.valid, report.errors


# --- size, depth, vertices -------------------------------------------------------------------


def test_ten_megabyte_document_is_refused_as_too_large() -> None:
    doc = message(description="A" * (10 * 1024 * 1024)).encode()
    assert len(doc) > MAX_BYTES
    error, _ = refused(doc)
    assert (error.rule, error.path) == ("cap.xml.too-large", "/")


def test_seven_megabyte_message_with_large_embedded_resource_is_read() -> None:
    # IPAWS-style messages carry audio inline (derefUri): legitimate and several MB.
    deref = "QUJD" * (7 * 1024 * 1024 // 4)
    resource_xml = (
        "<resource><resourceDesc>audio</resourceDesc><mimeType>audio/mpeg</mimeType>"
        f"<derefUri>{deref}</derefUri></resource>"
    )
    doc = message().replace("<area>", resource_xml + "<area>", 1).encode()
    alert, report = read(doc)
    assert alert.infos[0].resources[0].deref_uri == deref
    assert report.valid, report.errors


def test_ten_thousand_levels_of_nesting_are_refused_as_too_deep() -> None:
    deep = "<x>" * 10_000 + "</x>" * 10_000
    error, _ = refused(message(alert_extra="\n  <note>" + deep + "</note>").encode())
    assert error.rule == "cap.xml.too-deep"
    assert error.path.startswith("line ")


def test_polygon_with_a_million_vertices_is_refused_with_its_path() -> None:
    polygon = " ".join(["1,2"] * 1_000_000)
    doc = message(polygon=polygon).encode()
    assert len(doc) < MAX_BYTES  # under the size bound: the vertex bound must catch it
    error, _ = refused(doc)
    assert (error.rule, error.path) == (
        "cap.xml.too-many-vertices",
        "/alert/info[1]/area[1]/polygon[1]",
    )


def test_polygon_with_a_million_vertices_without_commas_is_refused() -> None:
    polygon = " ".join(["1 2"] * 999_000)
    doc = message(polygon=polygon).encode()
    assert len(doc) < MAX_BYTES
    error, _ = refused(doc)
    assert (error.rule, error.path) == (
        "cap.xml.too-many-vertices",
        "/alert/info[1]/area[1]/polygon[1]",
    )


def test_message_at_the_vertex_budget_is_read_in_bounds() -> None:
    # Five polygons just under the per-polygon bound: ~1M pairs, the most one message may carry.
    ring = " ".join(["1,2", "1,3", "2,3", *(["2,2"] * (MAX_POLYGON_PAIRS - 5)), "1,2"])
    doc = message().replace(f"<polygon>{POLYGON}</polygon>", f"<polygon>{ring}</polygon>" * 5).encode()
    alert, report = read(doc)
    polygons = alert.infos[0].areas[0].polygons
    assert [len(p) for p in polygons] == [MAX_POLYGON_PAIRS - 1] * 5
    assert report.valid, report.errors[:3]


def test_huge_attribute_is_reported_without_blowing_up() -> None:
    doc = message(attributes=f' padding="{"A" * 4_000_000}"').encode()
    alert, report = read(doc)
    assert alert.identifier == "TAMPERE-HOSTILE-1"
    assert [(f.rule, f.path) for f in report.errors] == [("cap.schema.attribute", "/alert")]
    assert report.ingestible and not report.valid


# --- encodings -------------------------------------------------------------------------------


def test_latin1_bytes_declared_as_utf8_are_an_encoding_error() -> None:
    doc = message(area="Vallée").encode("latin-1")  # declaration still says UTF-8
    error, _ = refused(doc)
    assert error.rule == "cap.xml.encoding"
    line = next(i for i, text in enumerate(doc.split(b"\n"), 1) if b"Vall" in text)
    assert error.path.startswith(f"line {line},")


def test_message_declaring_iso_8859_1_correctly_is_read_correctly() -> None:
    doc = message(encoding="ISO-8859-1", area="Vallée du Rhône", description="Crue à 5 m").encode("latin-1")
    alert, report = read(doc)
    assert alert.infos[0].areas[0].area_desc == "Vallée du Rhône"
    assert alert.infos[0].description == "Crue à 5 m"
    assert report.valid, report.errors


# --- things that would make a careless reader go out: XInclude, schemaLocation ---------------


def test_xinclude_is_not_processed(listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    xi = 'xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text"'
    include = f'<{xi} href="file:///etc/passwd"/><{xi} href="{url}/include"/>'
    alert, report = read(message(alert_extra="\n  " + include).encode())
    assert [(f.rule, f.path) for f in report.errors] == [
        ("cap.schema.unknown-element", "/alert/include"),
        ("cap.schema.unknown-element", "/alert/include"),
    ]
    assert hits == []
    assert "root:" not in repr(alert)


def test_schema_location_url_is_not_fetched(listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    attrs = (
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 {url}/cap12.xsd"'
    )
    alert, report = read(message(attributes=attrs).encode())
    assert report.valid, report.errors  # xsi attributes are allowed on <alert>
    assert alert.identifier == "TAMPERE-HOSTILE-1"
    assert hits == []
