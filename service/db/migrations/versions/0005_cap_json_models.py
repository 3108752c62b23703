"""Stored alert models in the CAP library's JSON (`cap.to_json`), without CAP 1.0 passwords.

Until now `alerts.model` held the parsed `Alert`'s fields as they are named in Python
(`msg_type`, `infos`, `codes`, `radius_km`...) with every member, the CAP 1.0 `<password>`
included, which `GET /api/v1/alerts/{id}` then showed to anyone who may see the alert. Each
stored model is rebuilt as an `Alert` and written again as `cap.to_json` writes it: CAP element
names, absent members left out, and no password. A model already in that form only loses a
`password` member, should it have one. `raw` is left as received (the /cap route redacts it).

The downgrade writes the field-named form back; a password removed stays removed.

Revision ID: 0005_cap_json_models
Revises: 0004_assistance_requests
Create Date: 2026-12-07
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from cap.model import Alert, Area, Circle, Info, NamedValue, Polygon, Reference, Resource
from cap.serialize import from_json, to_json

revision: str = "0005_cap_json_models"
down_revision: str | None = "0004_assistance_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_alerts = sa.table("alerts", sa.column("id", sa.BigInteger()), sa.column("model", sa.JSON()))
BATCH = 500


def upgrade() -> None:
    """Rewrite every stored model as `cap.to_json` of the same alert."""
    _rewrite(_to_cap_json)


def downgrade() -> None:
    """Rewrite every stored model in the field-named form 0004 stored (no password)."""
    _rewrite(lambda model: _fields_json(from_json(model)))


def _rewrite(convert: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    conn = op.get_bind()
    for alert_id, model in _models(conn):
        new = convert(model)
        if new != model:
            conn.execute(sa.update(_alerts).where(_alerts.c.id == alert_id).values(model=new))


def _models(conn: sa.Connection) -> Iterator[tuple[int, dict[str, Any]]]:
    """(id, model) of every alert, a batch of rows at a time in id order."""
    last = 0
    while True:
        query = sa.select(_alerts.c.id, _alerts.c.model).where(_alerts.c.id > last)
        rows = conn.execute(query.order_by(_alerts.c.id).limit(BATCH)).all()
        if not rows:
            return
        for alert_id, model in rows:
            yield int(alert_id), model
        last = int(rows[-1][0])


def _to_cap_json(model: dict[str, Any]) -> dict[str, Any]:
    if "msgType" in model:  # written by cap.to_json already
        return {k: v for k, v in model.items() if k != "password"}
    return to_json(_alert_from_fields(model))


# --- the field-named form of 0001-0004 (dataclasses.fields of cap.model, ISO date-times) ---------


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _named(values: list[dict[str, Any]]) -> list[NamedValue]:
    return [NamedValue(v["value_name"], v["value"]) for v in values]


def _area(a: dict[str, Any]) -> Area:
    return Area(
        area_desc=a["area_desc"],
        polygons=[tuple((float(lat), float(lon)) for lat, lon in p) for p in a.get("polygons", [])],
        circles=[Circle(c["lat"], c["lon"], c["radius_km"]) for c in a.get("circles", [])],
        geocodes=_named(a.get("geocodes", [])),
        altitude=a.get("altitude"),
        ceiling=a.get("ceiling"),
    )


def _info(i: dict[str, Any]) -> Info:
    plain = {
        name: i[name]
        for name in ("language", "categories", "event", "response_types", "urgency", "severity",
                     "certainty", "audience", "sender_name", "headline", "description",
                     "instruction", "web", "contact")
        if name in i
    }  # fmt: skip
    return Info(
        **plain,
        event_codes=_named(i.get("event_codes", [])),
        effective=_when(i.get("effective")),
        onset=_when(i.get("onset")),
        expires=_when(i.get("expires")),
        parameters=_named(i.get("parameters", [])),
        resources=[Resource(**r) for r in i.get("resources", [])],
        areas=[_area(a) for a in i.get("areas", [])],
    )


def _alert_from_fields(m: dict[str, Any]) -> Alert:
    """The `Alert` a field-named model was written from (its password is not carried over)."""
    sent = _when(m["sent"])
    assert sent is not None
    return Alert(
        identifier=m["identifier"],
        sender=m["sender"],
        sent=sent,
        status=m["status"],
        msg_type=m["msg_type"],
        scope=m["scope"],
        version=m.get("version") or "1.2",
        source=m.get("source"),
        restriction=m.get("restriction"),
        addresses=list(m.get("addresses", [])),
        codes=list(m.get("codes", [])),
        note=m.get("note"),
        references=[
            Reference(r["sender"], r["identifier"], datetime.fromisoformat(r["sent"]))
            for r in m.get("references", [])
        ],
        incidents=list(m.get("incidents", [])),
        infos=[_info(i) for i in m.get("infos", [])],
    )


def _fields_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _fields_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Polygon):  # what cap.from_json reads a polygon into: [[lat, lon], ...]
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_fields_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
