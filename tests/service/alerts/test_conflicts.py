"""The same key (sender, identifier, sent) with other content is a 409 naming the stored alert;
the same content again, however indented or signed, stays a 200 replay."""

from __future__ import annotations

import re

from sqlalchemy import update

from service.db.models import AlertRecord

KEN = "alerts@meteo.go.ke"
# An enveloped XML-DSig signature as a relay adds it (the value need not verify: it is left out
# of the comparison whatever it says).
SIGNATURE = (
    '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
    '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
    '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<Reference URI=""><DigestValue>{n}</DigestValue></Reference></SignedInfo>'
    "<SignatureValue>{n}</SignatureValue></Signature>"
)


def reindented(raw: bytes) -> bytes:
    """The same message with other blanks between its elements."""
    return re.sub(rb">\s*<", b">\n    <", raw)


def signed(raw: bytes, n: int) -> bytes:
    return raw.replace(b"</alert>", SIGNATURE.format(n=f"c2lnbmVk{n}").encode() + b"</alert>")


async def test_same_key_other_content_is_409_with_the_stored_alerts_id(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    first = await service.post(cap_message("C-1"), kenya)
    assert first.status_code == 201
    stored_id = first.json()["id"]
    changed = await service.post(cap_message("C-1", headline="Flash flood warning (corrected)"), kenya)
    assert changed.status_code == 409, changed.text
    problem = changed.json()
    [error] = problem["errors"]
    assert (error["rule"], error["path"]) == ("alert.key.conflict", "/alert/identifier")
    assert problem["alert_id"] == stored_id
    assert problem["links"] == {"alert": f"/api/v1/alerts/{stored_id}"}
    assert changed.headers["link"] == f'</api/v1/alerts/{stored_id}>; rel="duplicate"'
    # The stored message is the first one, untouched.
    kept = (await service.client.get(f"/api/v1/alerts/{stored_id}")).json()
    assert kept["headline"] == "Flash flood warning"


async def test_same_content_again_is_a_replay_however_indented_or_signed(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    raw = cap_message("C-2")
    first = await service.post(raw, kenya)
    assert first.status_code == 201
    for again in (raw, reindented(raw), signed(raw, 1), reindented(signed(raw, 2))):
        replay = await service.post(again, kenya)
        assert replay.status_code == 200, (again, replay.text)
        assert replay.json()["id"] == first.json()["id"]
    # Signed first, replayed re-signed by a relay and with the signature removed: still one message.
    raw3 = signed(cap_message("C-3"), 1)
    assert (await service.post(raw3, kenya)).status_code == 201
    assert (await service.post(signed(cap_message("C-3"), 9), kenya)).status_code == 200
    assert (await service.post(cap_message("C-3"), kenya)).status_code == 200
    # A blank inside an element's text is content: not a replay.
    assert (await service.post(cap_message("C-3", headline="Flash  flood warning"), kenya)).status_code == 409


async def test_rows_stored_before_digests_are_compared_from_their_bytes(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    stored_id = (await service.post(cap_message("C-4"), kenya)).json()["id"]
    # As a row stored before migration 0007: no digest.
    await service.runtime.db.write(
        lambda conn: conn.execute(update(AlertRecord).where(AlertRecord.id == stored_id).values(digest=None))
    )
    assert (await service.post(reindented(cap_message("C-4")), kenya)).status_code == 200
    conflict = await service.post(cap_message("C-4", severity="Extreme"), kenya)
    assert (conflict.status_code, conflict.json()["alert_id"]) == (409, stored_id)


async def test_a_conflict_tells_no_id_of_an_alert_the_poster_may_not_see(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    operator = await service.token("operator")
    private = cap_message("C-5", scope="Private", addresses=["KEN"])
    assert (await service.post(private, kenya)).status_code == 201
    for raw in (private, cap_message("C-5", scope="Private", addresses=["KEN"], headline="Other")):
        refused = await service.post(raw, operator)
        assert refused.status_code == 409, refused.text
        assert "alert_id" not in refused.json() and "link" not in refused.headers
