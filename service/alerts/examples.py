"""Example CAP messages for the API's documentation (OpenAPI `examples` of POST /api/v1/alerts).

Written for Tampere, modelled on the alerts national meteorological services publish through
the WMO Register of Alerting Authorities (a WMO OID identifier, one <info> in English with
sender name, headline, description and instruction, a polygon): not a copy of any real one.
tests/service/test_openapi.py posts each of them and expects it to be taken.
"""

from __future__ import annotations

# A Kenyan flood warning (Kenya's ISO 3166-1 numeric code 404 in the OID, as WMO identifiers
# carry the country), over the Nairobi river basin: routed to the Regional Office for Africa.
KENYA_FLOOD_WARNING = """\
<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>urn:oid:2.49.0.0.404.0.2026.4.21.6.0.0</identifier>
  <sender>cap@meteo.go.ke</sender>
  <sent>2026-04-21T06:00:00+03:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>en</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <effective>2026-04-21T06:00:00+03:00</effective>
    <onset>2026-04-21T12:00:00+03:00</onset>
    <expires>2026-04-22T18:00:00+03:00</expires>
    <senderName>Kenya Meteorological Department</senderName>
    <headline>Flood warning for the Nairobi river basin</headline>
    <description>Heavy rainfall of more than 50 mm in 24 hours is expected over Nairobi and its \
surroundings. Flash floods are likely in low-lying areas and along the Nairobi, Ngong and \
Mathare rivers.</description>
    <instruction>Stay away from rivers and flooded roads. Do not drive or walk through moving \
water. Follow the instructions of the county authorities.</instruction>
    <contact>cap@meteo.go.ke</contact>
    <area>
      <areaDesc>Nairobi river basin</areaDesc>
      <polygon>-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70</polygon>
    </area>
  </info>
</alert>
"""

# An Update of it (CAP 1.2 §3.2.1 <references>: sender,identifier,sent of the message updated).
KENYA_FLOOD_UPDATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>urn:oid:2.49.0.0.404.0.2026.4.21.12.0.0</identifier>
  <sender>cap@meteo.go.ke</sender>
  <sent>2026-04-21T12:00:00+03:00</sent>
  <status>Actual</status>
  <msgType>Update</msgType>
  <scope>Public</scope>
  <references>cap@meteo.go.ke,urn:oid:2.49.0.0.404.0.2026.4.21.6.0.0,2026-04-21T06:00:00+03:00</references>
  <info>
    <language>en</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <expires>2026-04-22T18:00:00+03:00</expires>
    <senderName>Kenya Meteorological Department</senderName>
    <headline>Flooding observed in the Nairobi river basin</headline>
    <instruction>Move to higher ground now.</instruction>
    <area>
      <areaDesc>Nairobi river basin</areaDesc>
      <polygon>-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70</polygon>
    </area>
  </info>
</alert>
"""

OPENAPI_EXAMPLES = {
    "flood-warning": {
        "summary": "A new alert: a flood warning over Nairobi (CAP 1.2)",
        "value": KENYA_FLOOD_WARNING,
    },
    "flood-update": {
        "summary": "An Update of that warning, referencing it",
        "value": KENYA_FLOOD_UPDATE,
    },
}
