"""How much one CAP message may ask of whoever reads it: the bounds of every reading, in one table.

CAP sets no bound on any count or length (the XSDs say maxOccurs="unbounded" and xs:string), and
the bytes of a message say little about the work it asks for: 100,000 circles fit in 3 MB and
each becomes a polygon of `VERTICES_PER_CIRCLE` vertices to draw, assess and route; a 1 MB
identifier travels into every event about the alert (a websocket client refuses a frame that
large). So a message is held to counts and lengths, each set well above what real alerts use: the
figures quoted are the largest seen in the shared corpus of 155 real and reference alerts (OASIS
examples, NWS, NAADS/ECCC, MeteoAlarm members, BoM, MoWaS, IPAWS, WMO Alert Hub, GDACS...).

Past a bound, the reading stops (the work is bounded, not only the answer) with a fatal finding
that names the rule (`cap.limits.*`; vertices keep `cap.xml.too-many-vertices`) and the first
element past it, so `validate` reports it and `parse` raises it as a `CapError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The whole document, before it is parsed: a legitimate CAP message with an embedded audio
# resource runs to a few MB (IPAWS; corpus: 881,874 bytes for the Burkina Faso boundary), a feed
# of hundreds of alerts to a few more.
MAX_BYTES = 8 * 1024 * 1024
# Element nesting: libxml2 without XML_PARSE_HUGE stops at 256; CAP itself nests five levels deep.
MAX_DEPTH = 256

# geo.areas draws a CAP circle as a geodesic polygon of this many vertices (CIRCLE_VERTICES there):
# a circle costs what a polygon of that many pairs does, and counts so in the vertex budget.
VERTICES_PER_CIRCLE = 128

# The longest text each element may hold, in characters (after nothing: as the document holds
# it, whitespace included). Elements not named here are bounded by their type (date-times and
# enumerations are checked and, when wrong, not kept) or by the document's size (<derefUri>
# carries a whole file, 453,538 characters of IPAWS audio in the corpus).
FIELD_LENGTHS: dict[str, int] = {
    # <alert>. identifier and sender name a message in every event and in <references>
    # (CAP 1.2 §3.2.1); the corpus's longest are 103 (an NWS URN) and 57 characters.
    "identifier": 256,
    "sender": 256,
    "source": 1024,  # corpus: 58
    "restriction": 4096,  # a sentence or two on who may see it
    "addresses": 65_536,  # up to `Limits.addresses` entries of a few dozen characters
    "code": 256,  # corpus: 76 (profile URNs such as urn:oasis:names:tc:emergency:cap:1.2:profile:CAP-AU:1.0)
    "note": 16_384,  # corpus: 987
    "references": 262_144,  # `Limits.references` triplets of sender,identifier,sent
    "incidents": 16_384,  # corpus: 36
    # <info>
    "language": 64,  # RFC 5646 tags in use are under 35 characters; corpus: 7
    "event": 256,  # corpus: 42 (Google asks for fewer than 35)
    "audience": 1024,  # corpus: 14
    "senderName": 1024,  # corpus: 94
    "headline": 1024,  # CAP 1.2 §3.2.2 recommends 160 for SMS and the like; corpus: 180
    "description": 65_536,  # corpus: 4,991 (NWS); the longest forecaster texts run to ~20,000
    "instruction": 65_536,  # corpus: 479
    "web": 8192,  # a URL; servers accept 8,000 octets (RFC 9110 §4.1)
    "contact": 4096,  # corpus: 118
    # eventCode, parameter and geocode entries
    "valueName": 256,  # corpus: 91
    "value": 16_384,  # corpus: 1,191 (SMHI)
    # <resource>
    "resourceDesc": 1024,  # corpus: 32
    "mimeType": 255,  # RFC 6838 §4.2: type and subtype of at most 127 characters each
    "size": 32,  # a byte count; past 4,300 digits Python's int() refuses to read it at all
    "uri": 8192,  # as <web>
    "digest": 128,  # a SHA-1 hex digest is 40
    # <area>
    "areaDesc": 8192,  # corpus: 286; NWS lists of county names run to ~2,000
    # Numbers: a float64 written without an exponent, as XSD decimals are, takes up to ~330
    # characters (5e-324); real ones take a dozen ("lat,lon radius": corpus 22).
    "circle": 1024,
    "altitude": 400,
    "ceiling": 400,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """The counts per message (every <info> together) and lengths one CAP message may carry."""

    # One <info> per language and event: the EU has 24 official languages; corpus: 9 (MoWaS).
    infos: int = 100
    # The costs below are of validating and assessing a message at the bound (service.alerts.
    # ingest.prepare_message, small shapes over Nairobi, on the project's two shared cores): each
    # bound keeps a message within about the second of CPU a request may take.
    # Each area is drawn, united and judged against the sender's territory: 500 took 0.07 s.
    # Corpus: 9 per message.
    areas: int = 500
    # Each polygon becomes a shapely ring checked for validity: 5,000 took 1.5 s, 2,000 ~0.6 s.
    # Corpus: 225 (MoWaS, 25 polygons in each of 9 languages).
    polygons: int = 2000
    # Each circle becomes a 128-vertex geodesic polygon: 256 took 0.15 s (the issue measured
    # 100,000 at 29 s and 630 MB). Corpus: 2.
    circles: int = 256
    # Each geocode is a boundary lookup and union: 256 country codes took 0.77 s (5,000: 23 s).
    # Corpus: 72 (NAADS).
    geocodes: int = 256
    # <resource> entries (each may embed a file); corpus: 3.
    resources: int = 100
    # <eventCode> and <parameter> entries together; corpus: 48.
    parameters: int = 2000
    # Entries of <references>, each looked up and applied to a stored alert; corpus: 5.
    references: int = 500
    # Entries of <addresses> (a Private alert's readers); corpus: 1.
    addresses: int = 1000
    # <code> entries (profiles the message follows); corpus: 6.
    codes: int = 100
    # Findings reported for one message: past this the reading stops, where 400,000 unknown
    # elements would have been answered with as many findings; corpus: 52.
    findings: int = 1000
    # Pairs of one <polygon>: national boundaries run to tens of thousands (corpus: 41,009, the
    # Burkina Faso boundary); past this it is an attack on whoever renders it.
    polygon_pairs: int = 200_000
    # Vertices of the whole message: polygon pairs plus `VERTICES_PER_CIRCLE` per circle (a
    # polygon repeated in every <info> counts each time: it is drawn each time).
    vertices: int = 1_000_000
    # The longest text of each element (see FIELD_LENGTHS).
    lengths: dict[str, int] = field(default_factory=lambda: dict(FIELD_LENGTHS))

    def __hash__(self) -> int:  # `lengths` is a dict: hashed as its sorted items
        counts = tuple(getattr(self, name) for name in self.__slots__ if name != "lengths")
        return hash((counts, tuple(sorted(self.lengths.items()))))


DEFAULT_LIMITS = Limits()
