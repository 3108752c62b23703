"""Requests finished (issue 11): a location held to the filer's territory, the GLIDE number, items
in the vocabulary of OASIS EDXL-RM 1.0, the EDXL-RM messages that follow a request
(ResponseToRequestResource, CommitResource, ReleaseResource, RequestReturn,
ResponseToRequestReturn) and the export of a
request and each message as EDXL-RM XML; on SQLite and PostgreSQL through the API."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from contact_points.edxl_rm import MSG_NS, RM_NS
from service.db.models import AssistanceRecipient
from tests.conftest import ServiceUnderTest
from tests.service.assistance.test_requests import Requests, body, filed, issue_tokens, request_events

NAIROBI = [36.82, -1.29]
KAMPALA = [32.58, 0.35]
# Off Mombasa, ~60 km out to sea: within Kenya's sea margin.
OFF_MOMBASA = [40.2, -4.6]
GARISSA_BOX = [[[39.5, -0.6], [39.8, -0.6], [39.8, -0.3], [39.5, -0.3], [39.5, -0.6]]]
NS = {"m": MSG_NS, "rm": RM_NS}


@pytest.fixture
async def api(service: ServiceUnderTest) -> Requests:
    return Requests(service, await issue_tokens(service))


async def message(api: Requests, who: str, request_id: int, payload: Any) -> Any:
    return await api.service.client.post(
        f"/api/v1/requests/{request_id}/messages",
        json=payload,
        headers={"Authorization": f"Bearer {api.tokens[who]}"},
    )


async def edxl(api: Requests, who: str | None, request_id: int, number: int | None = None) -> Any:
    headers = {} if who is None else {"Authorization": f"Bearer {api.tokens[who]}"}
    params = {} if number is None else {"message": str(number)}
    return await api.service.client.get(
        f"/api/v1/requests/{request_id}/edxl-rm", params=params, headers=headers
    )


def commit(*pairs: tuple[int, int]) -> dict[str, Any]:
    return {"type": "CommitResource", "items": [{"element_id": e, "quantity": q} for e, q in pairs]}


def rules(response: Any) -> list[tuple[str, str]]:
    return [(e["rule"], e["path"]) for e in response.json()["errors"]]


# --- location ------------------------------------------------------------------------------------


async def test_a_location_inside_the_country_or_its_sea_margin_is_stored_and_returned(api: Requests) -> None:
    point = await filed(api, location={"type": "Point", "coordinates": NAIROBI})
    assert point["location"] == {"type": "Point", "coordinates": NAIROBI}
    assert point["map_point"] == NAIROBI
    sea = await filed(api, location={"type": "Point", "coordinates": OFF_MOMBASA})
    assert sea["location"]["coordinates"] == OFF_MOMBASA
    area = await filed(api, location={"type": "MultiPolygon", "coordinates": [GARISSA_BOX]})
    assert area["location"]["type"] == "MultiPolygon"
    again = (await api.get("kenya", area["id"])).json()
    assert again["location"] == area["location"]
    west, south = GARISSA_BOX[0][0]
    east, north = GARISSA_BOX[0][2]
    assert west < area["map_point"][0] < east and south < area["map_point"][1] < north
    # A request without one keeps the old shape: the country as a whole, shown on its land.
    whole = await filed(api)
    assert whole["location"] is None
    lon, lat = whole["map_point"]
    assert 33.9 < lon < 41.9 and -4.7 < lat < 5.1  # within Kenya's extent


async def test_an_administration_location_beyond_its_territory_is_403(api: Requests) -> None:
    response = await api.file("kenya", body(location={"type": "Point", "coordinates": KAMPALA}))
    assert response.status_code == 403, response.text
    assert rules(response) == [("request.location.outside-jurisdiction", "/location")]
    # Nothing was filed.
    assert (await api.list("kenya")).json()["requests"] == []
    # The operator, filing on a state's behalf, is not held to a territory (as for alerts).
    relayed = await api.file(
        "operator", body(country="KEN", location={"type": "Point", "coordinates": KAMPALA})
    )
    assert relayed.status_code == 201, relayed.text


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            {"type": "LineString", "coordinates": [NAIROBI, OFF_MOMBASA]},
            ("request.location.type", "/location"),
        ),
        (
            {"type": "Point", "coordinates": [-1.29, 136.82]},
            ("request.location.out-of-range", "/location/coordinates"),
        ),
        (
            {"type": "Point", "coordinates": ["36", "-1"]},
            ("request.location.position", "/location/coordinates"),
        ),
        (
            {"type": "Polygon", "coordinates": [[*GARISSA_BOX[0][:-1], [39.5, -0.5]]]},
            ("request.location.unclosed", "/location/coordinates/0"),
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[39.5, -0.6], [39.8, -0.3], [39.8, -0.6], [39.5, -0.3], [39.5, -0.6]]],
            },
            ("request.location.invalid", "/location/coordinates"),
        ),
        (
            {"type": "Polygon", "coordinates": [[[39.5, -0.6], [39.8, -0.6], [39.5, -0.6]]]},
            ("request.location.ring", "/location/coordinates/0"),
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0]] * 5_001]},
            ("request.location.too-many-vertices", "/location/coordinates"),
        ),
        ("Nairobi", ("request.location.type", "/location")),
    ],
)
async def test_a_bad_location_is_422_with_its_rule_and_place(
    api: Requests, location: Any, expected: tuple[str, str]
) -> None:
    response = await api.file("kenya", body(location=location))
    assert response.status_code == 422, response.text
    assert rules(response) == [expected]


async def test_the_alerts_over_a_location_are_told_beside_the_request(
    api: Requests, cap_message: Any
) -> None:
    # A Public alert over Nairobi (the default area of the hand-written CAP), and a Private one
    # addressed to nobody but its poster.
    public = await api.service.post(cap_message("KE-FLOOD-NBO"), api.tokens["kenya"])
    private = await api.service.post(
        cap_message("KE-PRIVATE-NBO", scope="Private", addresses=["someone-else"]), api.tokens["kenya"]
    )
    assert public.status_code == 201 and private.status_code == 201, (public.text, private.text)
    here = await filed(api, location={"type": "Point", "coordinates": NAIROBI})
    elsewhere = await filed(api, location={"type": "Point", "coordinates": OFF_MOMBASA})
    nowhere = await filed(api)
    seen = (await api.get("addis", here["id"])).json()["alerts_at_location"]
    assert [(a["alert_id"], a["identifier"]) for a in seen] == [(public.json()["id"], "KE-FLOOD-NBO")]
    by_poster = (await api.get("kenya", here["id"])).json()["alerts_at_location"]
    assert {a["alert_id"] for a in by_poster} == {public.json()["id"], private.json()["id"]}
    assert (await api.get("addis", elsewhere["id"])).json()["alerts_at_location"] == []
    assert (await api.get("addis", nowhere["id"])).json()["alerts_at_location"] == []


# --- GLIDE ---------------------------------------------------------------------------------------


async def test_glide_number_is_checked_normalised_and_filterable(api: Requests) -> None:
    flood = await filed(api, glide=" fl-2026-000187-ken ")
    assert flood["glide"] == "FL-2026-000187-KEN" and flood["warnings"] == []
    other = await filed(api, glide="EQ-2026-000012-KEN")
    await filed(api)
    uganda = await filed(api, "uganda", glide="FL-2026-000187-UGA")
    listed = (await api.list("bdt", glide="FL-2026-000187-KEN")).json()["requests"]
    assert [r["id"] for r in listed] == [flood["id"]]
    assert [r["id"] for r in (await api.list("kenya", glide="eq-2026-000012-ken")).json()["requests"]] == [
        other["id"]
    ]
    # The filter never widens what a caller sees: Kenya does not see Uganda's request.
    assert (await api.list("kenya", glide="FL-2026-000187-UGA")).json()["requests"] == []
    assert [r["id"] for r in (await api.list("uganda", glide="FL-2026-000187-UGA")).json()["requests"]] == [
        uganda["id"]
    ]
    bad = await api.list("kenya", glide="FLOOD-2026")
    assert bad.status_code == 422 and rules(bad) == [("request.query.glide", "?glide")]


@pytest.mark.parametrize(
    ("glide", "rule"),
    [
        ("FL-26-000187-KEN", "request.glide.format"),
        ("FL-2026-187-KEN", "request.glide.format"),
        ("XX-2026-000187-KEN", "request.glide.hazard"),
        ("FL-1850-000001-KEN", "request.glide.year"),
        (2026, "request.glide.format"),
    ],
)
async def test_a_bad_glide_number_is_422(api: Requests, glide: Any, rule: str) -> None:
    response = await api.file("kenya", body(glide=glide))
    assert response.status_code == 422, response.text
    assert rules(response) == [(rule, "/glide")]


async def test_a_glide_number_of_another_country_is_accepted_with_a_warning(api: Requests) -> None:
    # Cyclone numbers are issued per country; a neighbour's may be the only one out yet.
    created = await filed(api, glide="TC-2026-000031-TZA")
    assert created["glide"] == "TC-2026-000031-TZA"
    [warning] = created["warnings"]
    assert (warning["rule"], warning["path"]) == ("request.glide.country-mismatch", "/glide")
    assert "TC-2026-000031-KEN" in warning["message"]


# --- items in EDXL-RM words ----------------------------------------------------------------------

VSAT = {
    "item": "VSAT terminal & generator",
    "quantity": 2,
    "unit": "each",
    "type": {"list": "urn:itu:ifce:equipment", "value": "VSAT"},
    "keywords": [{"list": "urn:itu:ifce:band", "value": "Ku"}],
    "description": "Ku-band, auto-pointing, with 5 kVA generator",
    "anticipated_function": "Backhaul for the Garissa county operations centre",
    "schedule": [
        {"type": "RequestedArrival", "at": "2026-12-09T06:00:00+03:00", "location": "Garissa airstrip"}
    ],
}


async def test_items_carry_edxl_rm_resource_information_and_the_old_form_still_works(api: Requests) -> None:
    created = await filed(api, items=[{"item": "Inmarsat BGAN terminal", "quantity": 10}, VSAT])
    assert created["items"][0] == {"item": "Inmarsat BGAN terminal", "quantity": 10}
    assert created["items"][1] == {
        **VSAT,
        "schedule": [
            {"type": "RequestedArrival", "at": "2026-12-09T03:00:00+00:00", "location": "Garissa airstrip"}
        ],
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"schedule": [{"type": "Tomorrow"}]}, ("request.item.schedule.type", "/items/0/schedule/0/type")),
        (
            {"schedule": [{"type": "RequestedArrival", "at": "2026-12-09"}]},
            ("request.item.schedule.at", "/items/0/schedule/0/at"),
        ),
        ({"type": {"value": "VSAT"}}, ("request.item.type", "/items/0/type/list")),
        ({"type": "VSAT"}, ("request.item.type", "/items/0/type")),
        ({"keywords": "Ku"}, ("request.item.keywords", "/items/0/keywords")),
        ({"unit": ""}, ("request.item.unit.missing", "/items/0/unit")),
        ({"colour": "red"}, ("request.item.unknown-field", "/items/0")),
    ],
)
async def test_a_bad_resource_description_is_422(
    api: Requests, changes: dict[str, Any], expected: tuple[str, str]
) -> None:
    response = await api.file("kenya", body(items=[{**VSAT, **changes}]))
    assert response.status_code == 422, response.text
    assert rules(response) == [expected]


# --- EDXL-RM messages after the request ----------------------------------------------------------


async def test_commit_release_return_and_answer_follow_the_quantities_and_the_parties(api: Requests) -> None:
    created = await filed(api)  # 10 BGAN terminals (element 1), 25 Iridium phones (element 2)
    rid = created["id"]
    # The requester does not commit; an office not routed to does not see the request at all.
    assert rules(await message(api, "kenya", rid, commit((1, 1)))) == [("request.message.forbidden", "/type")]
    assert (await message(api, "bangkok", rid, commit((1, 1)))).status_code == 404
    assert (await message(api, "responder", rid, commit((1, 1)))).status_code == 403

    first = await message(api, "addis", rid, {**commit((1, 6)), "note": "Six from the Addis Ababa stock"})
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/api/v1/requests/{rid}/edxl-rm?message=1"
    after = first.json()
    # A commitment is an answer: the request is in hand and nobody is chased any more.
    assert after["state"] == "in-progress"
    assert after["messages"] == [
        {
            "number": 1,
            "type": "CommitResource",
            "sent": after["messages"][0]["sent"],
            "by": "office:ro-addis-ababa",
            "contact": "ro-addis-ababa",
            "preceding": 0,
            "items": [{"element_id": 1, "quantity": 6}],
            "note": "Six from the Addis Ababa stock",
        }
    ]
    pending = await api.service.runtime.db.read(
        lambda conn: (
            conn.execute(
                select(AssistanceRecipient.next_escalation_at).where(AssistanceRecipient.request_id == rid)
            )
            .scalars()
            .all()
        )
    )
    assert pending == [None, None]

    over = await message(api, "addis", rid, commit((1, 5)))
    assert over.status_code == 409 and rules(over) == [("request.message.over-commit", "/")]
    unknown = await message(api, "bdt", rid, commit((3, 1)))
    assert unknown.status_code == 422 and rules(unknown) == [
        ("request.message.item.unknown", "/items/0/element_id")
    ]
    assert (await message(api, "bdt", rid, commit((1, 4), (2, 25)))).status_code == 201

    # The requester releases what it no longer needs, never more than was committed.
    release = {"type": "ReleaseResource", "items": [{"element_id": 1, "quantity": 3}]}
    assert (await message(api, "addis", rid, release)).status_code == 403
    assert (await message(api, "kenya", rid, release)).status_code == 201
    too_many = {"type": "ReleaseResource", "items": [{"element_id": 1, "quantity": 8}]}
    assert rules(await message(api, "kenya", rid, too_many)) == [("request.message.over-release", "/")]

    # Fulfilled; the IFCE owner asks for the lent terminals back, the requester accepts once.
    assert (await api.status("addis", rid, "fulfilled")).status_code == 200
    back = {"type": "RequestReturn", "items": [{"element_id": 1, "quantity": 7}], "note": "IFCE loan ends"}
    assert (await message(api, "kenya", rid, back)).status_code == 403
    returned = await message(api, "addis", rid, back)
    assert returned.status_code == 201, returned.text
    request_return = returned.json()["messages"][-1]
    assert (request_return["number"], request_return["preceding"]) == (4, 3)  # it follows the release
    wrong = await message(
        api, "kenya", rid, {"type": "ResponseToRequestReturn", "preceding": 1, "response": "Accept"}
    )
    assert wrong.status_code == 422 and rules(wrong) == [("request.message.preceding", "/preceding")]
    answer = {"type": "ResponseToRequestReturn", "preceding": 4, "response": "Accept"}
    accepted = await message(api, "kenya", rid, answer)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["messages"][-1]["response"] == "Accept"
    assert rules(await message(api, "kenya", rid, answer)) == [("request.message.answered", "/")]

    events = await request_events(api.service, rid)
    sent = [e.payload for e in events if e.type == "request.message"]
    assert [(p["message"], p["message_type"], p["preceding"]) for p in sent] == [
        (1, "CommitResource", 0),
        (2, "CommitResource", 0),
        (3, "ReleaseResource", 2),
        (4, "RequestReturn", 3),
        (5, "ResponseToRequestReturn", 4),
    ]
    assert all(e.scope == "Restricted" and e.countries == ["KEN"] for e in events)


def response(answer: str, *pairs: tuple[int, int], **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "ResponseToRequestResource", "response": answer, **more}
    if pairs:
        body["items"] = [{"element_id": e, "quantity": q} for e, q in pairs]
    return body


async def test_an_office_answers_a_request_once_and_its_answer_acknowledges_it(api: Requests) -> None:
    created = await filed(api)  # 10 BGAN terminals (element 1), 25 Iridium phones (element 2)
    rid = created["id"]
    origin = f"urn:tampere:request:{rid}"
    # The requester does not answer its own request; an office offers at most what was asked,
    # and a Decline is of the whole request.
    assert rules(await message(api, "kenya", rid, response("Accept"))) == [
        ("request.message.forbidden", "/type")
    ]
    over = await message(api, "addis", rid, response("Accept", (1, 11)))
    assert over.status_code == 409 and rules(over) == [("request.message.over-offer", "/")]
    partial_decline = await message(api, "bdt", rid, response("Decline", (1, 1)))
    assert partial_decline.status_code == 422 and rules(partial_decline) == [
        ("request.message.items", "/items")
    ]
    wrong = await message(api, "addis", rid, {**response("Accept"), "preceding": 1})
    assert wrong.status_code == 422 and rules(wrong) == [("request.message.field", "/preceding")]

    r = AssistanceRecipient

    async def clocks() -> dict[str, tuple[bool, bool]]:
        """Per recipient: acknowledged, and chased (an escalation pending)."""
        return await api.service.runtime.db.read(
            lambda conn: {
                row.contact_id: (row.acknowledged_at is not None, row.next_escalation_at is not None)
                for row in conn.execute(
                    select(r.contact_id, r.acknowledged_at, r.next_escalation_at).where(r.request_id == rid)
                )
            }
        )

    before = await clocks()
    assert before["ro-addis-ababa"] == (False, True)
    accepted = await message(
        api, "addis", rid, response("Accept", (1, 4), note="Four in stock in Addis Ababa")
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["state"] == "acknowledged"
    # Addis Ababa's answer acknowledged the request for it: its deadline stopped; BDT's stands.
    assert await clocks() == {**before, "ro-addis-ababa": (True, False)}
    again = await message(api, "addis", rid, response("Decline"))
    assert again.status_code == 409 and rules(again) == [("request.message.answered", "/")]
    declined = await message(api, "bdt", rid, response("Decline", note="Nothing in the Geneva stock"))
    assert declined.status_code == 201 and declined.json()["state"] == "acknowledged"

    # As EDXL-RM: the Accept names what it offers; the Decline answers every item of the request.
    offer = etree.fromstring((await edxl(api, "kenya", rid, 1)).content)
    assert offer.tag == f"{{{MSG_NS}}}ResponseToRequestResource"
    assert offer.findtext("m:PrecedingMessageID", namespaces=NS) == origin
    [item] = offer.findall("m:ResourceInformation", NS)
    assert children(item)[:2] == ["ResourceInfoElementID", "ResponseInformation"]
    assert item.findtext("m:ResponseInformation/rm:ResponseType", namespaces=NS) == "Accept"
    assert (
        item.findtext("m:AssignmentInformation/m:Quantity/rm:MeasuredQuantity/rm:Amount", namespaces=NS)
        == "4"
    )
    refusal = etree.fromstring((await edxl(api, "kenya", rid, 2)).content)
    assert refusal.findtext("m:MessageDescription", namespaces=NS) == "Nothing in the Geneva stock"
    assert [
        (
            r.findtext("m:ResourceInfoElementID", namespaces=NS),
            r.findtext("m:ResponseInformation/rm:ResponseType", namespaces=NS),
        )
        for r in refusal.findall("m:ResourceInformation", NS)
    ] == [("1", "Decline"), ("2", "Decline")]


async def test_a_commit_is_refused_once_the_request_is_finished(api: Requests) -> None:
    created = await filed(api)
    assert (await api.status("kenya", created["id"], "cancelled")).status_code == 200
    late = await message(api, "addis", created["id"], commit((1, 1)))
    assert late.status_code == 409 and rules(late) == [("request.message.state", "/")]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "OfferUnsolicitedResource"}, ("request.message.type", "/type")),
        (
            {"type": "CommitResource", "items": [{"element_id": 0, "quantity": 1}]},
            ("request.message.item.element", "/items/0/element_id"),
        ),
        (
            {"type": "CommitResource", "items": [{"element_id": 1, "quantity": 0}]},
            ("request.message.item.quantity", "/items/0/quantity"),
        ),
        (
            {
                "type": "CommitResource",
                "items": [{"element_id": 1, "quantity": 1}, {"element_id": 1, "quantity": 2}],
            },
            ("request.message.item.duplicate", "/items/1/element_id"),
        ),
        (
            {"type": "ResponseToRequestReturn", "preceding": 1, "response": "Maybe"},
            ("request.message.response", "/response"),
        ),
        (
            {"type": "CommitResource", "response": "Accept", "items": [{"element_id": 1, "quantity": 1}]},
            ("request.message.field", "/response"),
        ),
        ({"type": "CommitResource", "budget": 1}, ("request.body.unknown-field", "/budget")),
        ({"type": "CommitResource"}, ("request.message.items", "/items")),
    ],
)
async def test_a_bad_message_is_422(
    api: Requests, payload: dict[str, Any], expected: tuple[str, str]
) -> None:
    created = await filed(api)
    response = await message(api, "addis", created["id"], payload)
    assert response.status_code == 422, response.text
    assert rules(response) == [expected]


# --- EDXL-RM export --------------------------------------------------------------------------------


def children(element: Any) -> list[str]:
    return [etree.QName(child).localname for child in element]


async def test_a_request_exports_as_an_edxl_rm_request_resource(api: Requests) -> None:
    created = await filed(
        api,
        glide="FL-2026-000187-KEN",
        items=[{"item": "Inmarsat BGAN terminal", "quantity": 10}, VSAT],
        location={"type": "Point", "coordinates": NAIROBI},
    )
    response = await edxl(api, "kenya", created["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{MSG_NS}}}RequestResource"
    assert children(root) == [
        "MessageID",
        "SentDateTime",
        "MessageContentType",
        "MessageDescription",
        "IncidentInformation",
        "ContactInformation",
        "ResourceInformation",
        "ResourceInformation",
    ]
    assert root.findtext("m:MessageID", namespaces=NS) == f"urn:tampere:request:{created['id']}"
    assert root.findtext("m:MessageContentType", namespaces=NS) == "RequestResource"
    sent = root.findtext("m:SentDateTime", namespaces=NS)
    assert sent is not None and sent[:19] == created["created"][:19] and sent.endswith("+00:00")
    assert root.findtext("m:IncidentInformation/rm:IncidentID", namespaces=NS) == "FL-2026-000187-KEN"
    assert root.findtext("m:IncidentInformation/rm:IncidentDescription", namespaces=NS) == created["title"]
    contact = root.find("m:ContactInformation", NS)
    assert contact.findtext("rm:ContactRole", namespaces=NS) == "Requester"
    assert "Jane Wanjiru" in etree.tostring(contact, encoding="unicode")
    assert "noc@ca.go.ke" in etree.tostring(contact, encoding="unicode")
    first, second = root.findall("m:ResourceInformation", NS)
    assert children(first) == ["ResourceInfoElementID", "Resource", "AssignmentInformation"]
    assert first.findtext("m:ResourceInfoElementID", namespaces=NS) == "1"
    assert first.findtext("m:Resource/m:Name", namespaces=NS) == "Inmarsat BGAN terminal"
    assert (
        first.findtext("m:AssignmentInformation/m:Quantity/rm:MeasuredQuantity/rm:Amount", namespaces=NS)
        == "10"
    )
    assert children(second) == [
        "ResourceInfoElementID",
        "Resource",
        "AssignmentInformation",
        "ScheduleInformation",
    ]
    resource = second.find("m:Resource", NS)
    assert children(resource) == ["Name", "TypeStructure", "Keyword", "Description"]
    assert resource.findtext("m:Name", namespaces=NS) == "VSAT terminal & generator"
    assert resource.findtext("m:TypeStructure/rm:ValueListURN", namespaces=NS) == "urn:itu:ifce:equipment"
    assert resource.findtext("m:TypeStructure/rm:Value", namespaces=NS) == "VSAT"
    assert resource.findtext("m:Keyword/rm:Value", namespaces=NS) == "Ku"
    assignment = second.find("m:AssignmentInformation", NS)
    assert children(assignment) == ["Quantity", "AnticipatedFunction"]
    assert assignment.findtext("m:Quantity/rm:MeasuredQuantity/rm:UnitOfMeasure", namespaces=NS) == "each"
    schedule = second.find("m:ScheduleInformation", NS)
    assert children(schedule) == ["ScheduleType", "DateTime", "Location"]
    assert schedule.findtext("m:DateTime", namespaces=NS) == "2026-12-09T03:00:00+00:00"
    assert schedule.findtext("m:Location/rm:LocationDescription", namespaces=NS) == "Garissa airstrip"


async def test_each_later_message_exports_with_its_origin_and_predecessor(api: Requests) -> None:
    created = await filed(api, glide="FL-2026-000187-KEN")
    rid = created["id"]
    origin = f"urn:tampere:request:{rid}"
    committed = {
        "type": "CommitResource",
        "items": [
            {
                "element_id": 2,
                "quantity": 5,
                "schedule": [{"type": "EstimatedArrival", "at": "2026-12-10T12:00:00Z"}],
            }
        ],
        "note": "Five Iridium phones by air",
    }
    assert (await message(api, "addis", rid, committed)).status_code == 201
    assert (await api.status("addis", rid, "fulfilled")).status_code == 200
    back = {"type": "RequestReturn", "items": [{"element_id": 2, "quantity": 5}]}
    assert (await message(api, "addis", rid, back)).status_code == 201
    answer = {
        "type": "ResponseToRequestReturn",
        "preceding": 2,
        "response": "Decline",
        "note": "Still in use",
    }
    assert (await message(api, "kenya", rid, answer)).status_code == 201

    root = etree.fromstring((await edxl(api, "bdt", rid, 1)).content)
    assert root.tag == f"{{{MSG_NS}}}CommitResource"
    assert children(root)[:6] == [
        "MessageID",
        "SentDateTime",
        "MessageContentType",
        "MessageDescription",
        "OriginatingMessageID",
        "PrecedingMessageID",
    ]
    assert root.findtext("m:MessageID", namespaces=NS) == f"{origin}:message:1"
    assert root.findtext("m:OriginatingMessageID", namespaces=NS) == origin
    assert root.findtext("m:PrecedingMessageID", namespaces=NS) == origin
    assert root.findtext("m:MessageDescription", namespaces=NS) == "Five Iridium phones by air"
    assert root.findtext("m:IncidentInformation/rm:IncidentID", namespaces=NS) == "FL-2026-000187-KEN"
    assert root.findtext("m:ContactInformation/rm:ContactRole", namespaces=NS) == "Responder"
    [resource] = root.findall("m:ResourceInformation", NS)
    assert resource.findtext("m:ResourceInfoElementID", namespaces=NS) == "2"
    assert resource.findtext("m:Resource/m:Name", namespaces=NS) == "Iridium phone"
    assert (
        resource.findtext("m:AssignmentInformation/m:Quantity/rm:MeasuredQuantity/rm:Amount", namespaces=NS)
        == "5"
    )
    assert resource.findtext("m:ScheduleInformation/m:ScheduleType", namespaces=NS) == "EstimatedArrival"

    answered = etree.fromstring((await edxl(api, "kenya", rid, 3)).content)
    assert answered.tag == f"{{{MSG_NS}}}ResponseToRequestReturn"
    assert answered.findtext("m:PrecedingMessageID", namespaces=NS) == f"{origin}:message:2"
    [resource] = answered.findall("m:ResourceInformation", NS)
    assert children(resource)[:2] == ["ResourceInfoElementID", "ResponseInformation"]
    assert resource.findtext("m:ResponseInformation/rm:ResponseType", namespaces=NS) == "Decline"
    assert (await edxl(api, "kenya", rid, 9)).status_code == 404


async def test_the_export_is_seen_by_exactly_who_sees_the_request(api: Requests) -> None:
    created = await filed(api)
    assert (await message(api, "addis", created["id"], commit((1, 1)))).status_code == 201
    for who in ("kenya", "addis", "bdt", "operator"):
        assert (await api.get(who, created["id"])).status_code == 200, who
        assert (await edxl(api, who, created["id"])).status_code == 200, who
        assert (await edxl(api, who, created["id"], 1)).status_code == 200, who
    for who in ("uganda", "bangkok", "responder"):
        assert (await api.get(who, created["id"])).status_code == 404, who
        for number in (None, 1):
            hidden = await edxl(api, who, created["id"], number)
            assert hidden.status_code == 404, who
            assert hidden.json()["errors"][0]["rule"] == "request.not-found"
    assert (await edxl(api, None, created["id"])).status_code == 401
    assert (await edxl(api, "kenya", 10**9)).status_code == 404
