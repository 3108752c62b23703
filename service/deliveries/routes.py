"""A contact point's delivery channels: `/api/v1/contact-points/{id}/webhooks` (Standard Webhooks)
and `/api/v1/contact-points/{id}/email` (SMTP), each with its delivery log and redelivery.

Managed by the operator and by the contact point itself (an office's token for that office, BDT
for `bdt`). A channel is told what the contact point's principal would be told on the websocket
(service.visibility), from the events committed after it was made.

A channel is changed in place (PATCH: URL or address, events, filters, language, digest), so it
keeps its place in the outbox and its log; a webhook's secret is rotated (POST .../secret) with a
grace period in which both secrets sign, so its receiver switches without losing a delivery.
Bodies are read strictly: a value of the wrong JSON type is refused, never coerced.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cap.errors import Finding
from contact_points.registry import ContactPoint
from service.auth import Principal
from service.deliveries.contacts import check_may_manage, find_contact_point
from service.deliveries.registry_channels import check_not_registry
from service.deliveries.store import (
    EMAIL,
    STATES,
    WEBHOOK,
    NewChannel,
    channel_of,
    channels_of,
    create_channel,
    delete_channel,
    deliveries_of,
    pending_counts,
    redeliver,
    rotate_secret,
    update_channel,
)
from service.deliveries.view import channel_json, channel_path, delivery_json
from service.errors import Invalid, validation_findings
from service.events.log import EVENT_TYPES
from service.events.stream import MAX_TYPES, SelectionError, parse_selection
from service.http import read_json
from service.runtime import RequiredPrincipal, Runtime, RuntimeDep
from service.sources.store import check_http_url, check_public_address

RULE_EVENTS_MISSING = "delivery.events.missing"
RULE_EVENTS_UNKNOWN = "delivery.events.unknown"
RULE_FILTER = "delivery.filter.invalid"
RULE_URL = "delivery.webhook.url"
RULE_ADDRESS = "delivery.webhook.forbidden-address"
RULE_UNRESOLVED = "delivery.webhook.unresolved"
RULE_EMAIL = "delivery.email.address"
RULE_LANGUAGE = "delivery.email.language"
RULE_SMTP = "delivery.email.smtp-not-configured"
MAX_ADDRESS_CHARS = 320
MAX_BODY_BYTES = 16 * 1024
# A digest at least every minute, at most once a day.
MAX_DIGEST_MINUTES = 1440.0
# BCP 47 in the shape CAP uses it (RFC 3066): a primary subtag, then subtags.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
# RFC 5321 §4.1.2 mailbox, as far as a delivery needs: something@domain, no blanks or controls.
_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class _Filters(BaseModel):
    # Strict: a JSON value of the wrong type is refused (422 naming the field), never coerced
    # ("yes" is not true, "60" not 60).
    model_config = ConfigDict(extra="forbid", strict=True)

    events: list[str] = Field(description=f"Event types to deliver: any of {', '.join(EVENT_TYPES)}")
    region: str | None = Field(default=None, description="Only events of this ITU-D region")
    country: str | None = Field(
        default=None, description="Only events concerning this ISO 3166-1 alpha-3 country"
    )
    status: str | None = Field(default=None, description="Only events of alerts with this CAP status")
    routed_only: bool = Field(
        default=False,
        description="Only alerts and requests routed to this contact point (other events: the filters above)",
    )


class WebhookRequest(_Filters):
    """The body of POST /api/v1/contact-points/{id}/webhooks."""

    url: str = Field(description="Where deliveries are POSTed (http or https)")


class EmailRequest(_Filters):
    """The body of POST /api/v1/contact-points/{id}/email."""

    address: str = Field(description="The recipient's e-mail address")
    language: str | None = Field(
        default=None,
        description="The recipient's working language (BCP 47, e.g. fr, es, ar): the alert's <info> in it",
    )
    digest_minutes: float | None = Field(
        default=None,
        description="Routine items are collected and sent every this many minutes (none: each at once)",
    )


class _Changes(BaseModel):
    """What a PATCH of a channel may change: only the fields given change; null removes a
    filter (region, country, status), the language or the digest."""

    model_config = ConfigDict(extra="forbid", strict=True)

    events: list[str] | None = Field(default=None, description="The event types to deliver from now on")
    region: str | None = Field(default=None, description="Only events of this ITU-D region (null: any)")
    country: str | None = Field(default=None, description="Only events concerning this country (null: any)")
    status: str | None = Field(default=None, description="Only alerts with this CAP status (null: any)")
    routed_only: bool | None = Field(default=None, description="Only alerts and requests routed here")


class WebhookChanges(_Changes):
    """The body of PATCH /api/v1/contact-points/{id}/webhooks/{hook}."""

    url: str | None = Field(default=None, description="The new URL (checked as at registration)")


class EmailChanges(_Changes):
    """The body of PATCH /api/v1/contact-points/{id}/email/{subscription}."""

    address: str | None = Field(default=None, description="The new recipient address")
    language: str | None = Field(default=None, description="The working language (null: the alert's first)")
    digest_minutes: float | None = Field(
        default=None, description="Routine items in a digest every this many minutes (null: each at once)"
    )


# Fields a PATCH may leave out but not remove.
_REQUIRED = ("url", "address", "events", "routed_only")
RULE_PATCH_NULL = "delivery.patch.null"
RULE_ROTATE_BODY = "delivery.webhook.secret.body"

ContactId = Annotated[str, Path(max_length=64, description="A contact point id, e.g. ro-bangkok, bdt")]
ChannelId = Annotated[int, Path(ge=1, le=2**62)]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]
_REFUSALS = {
    401: {"description": "No token, or a token that is not known"},
    403: {"description": "Neither the operator nor this contact point"},
    404: {"description": "No such contact point or channel"},
    409: {"description": "An e-mail channel of an address in the registry: removed there"},
}


# The documented examples of each body (tests/service/test_openapi.py posts them).
EXAMPLES: dict[str, dict[str, Any]] = {
    "webhooks": {
        "alerts-routed-here": {
            "summary": "Alerts and requests routed to this office, to its duty system",
            "value": {
                "url": "https://duty.example.org/tampere/webhook",
                "events": ["alert.received", "alert.updated", "alert.cancelled", "request.created"],
                "routed_only": True,
            },
        }
    },
    "email": {
        "french-digest": {
            "summary": "Alerts over one country, in French, routine ones in a digest every hour",
            "value": {
                "address": "permanence@example.org",
                "events": ["alert.received", "alert.updated"],
                "country": "SEN",
                "language": "fr",
                "digest_minutes": 60,
            },
        }
    },
}


# The documented examples of each PATCH body (tests/service/test_openapi.py sends them).
CHANGE_EXAMPLES: dict[str, dict[str, Any]] = {
    "webhooks": {
        "moved": {
            "summary": "The duty system moved: the same deliveries, in order, to its new URL",
            "value": {"url": "https://duty-2.example.org/tampere/webhook"},
        },
        "more-events": {
            "summary": "Also escalations, and everything of the region, not only what is routed here",
            "value": {
                "events": ["alert.received", "alert.updated", "alert.cancelled", "alert.escalated"],
                "routed_only": False,
            },
        },
    },
    "email": {
        "new-desk": {
            "summary": "Another desk, in Spanish, each item at once (no digest)",
            "value": {"address": "guardia@example.org", "language": "es", "digest_minutes": None},
        }
    },
}


def deliveries_router() -> APIRouter:
    """The webhook and e-mail routes of contact points."""
    router = APIRouter(tags=["deliveries"])
    base = "/api/v1/contact-points/{contact_id}"
    for kind, collection, model in ((WEBHOOK, "webhooks", WebhookRequest), (EMAIL, "email", EmailRequest)):
        noun = "webhook" if kind == WEBHOOK else "e-mail subscription"
        router.add_api_route(
            f"{base}/{collection}",
            _post(kind),
            methods=["POST"],
            status_code=201,
            summary=f"Add a {noun}",
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": model.model_json_schema(),
                            "examples": EXAMPLES[collection],
                        }
                    },
                }
            },
            responses={**_REFUSALS, 422: {"description": "Bad URL or address, unknown event type or filter"}},
            name=f"post_{collection}",
        )
        router.add_api_route(
            f"{base}/{collection}",
            _list(kind),
            methods=["GET"],
            summary=f"The {noun}s",
            responses=_REFUSALS,
            name=f"list_{collection}",
        )
        router.add_api_route(
            f"{base}/{collection}/{{channel_id}}",
            _get(kind),
            methods=["GET"],
            summary=f"One {noun}",
            responses=_REFUSALS,
            name=f"get_{collection}",
        )
        router.add_api_route(
            f"{base}/{collection}/{{channel_id}}",
            _patch(kind),
            methods=["PATCH"],
            summary=f"Change a {noun} in place (its outbox position and delivery log kept)",
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": (
                                WebhookChanges if kind == WEBHOOK else EmailChanges
                            ).model_json_schema(),
                            "examples": CHANGE_EXAMPLES[collection],
                        }
                    },
                }
            },
            responses={**_REFUSALS, 422: {"description": "Bad URL or address, unknown event type or filter"}},
            name=f"patch_{collection}",
        )
        router.add_api_route(
            f"{base}/{collection}/{{channel_id}}",
            _delete(kind),
            methods=["DELETE"],
            status_code=204,
            response_class=Response,
            summary=f"Remove a {noun} and its delivery log",
            responses=_REFUSALS,
            name=f"delete_{collection}",
        )
        router.add_api_route(
            f"{base}/{collection}/{{channel_id}}/deliveries",
            _deliveries(kind),
            methods=["GET"],
            summary="The delivery log: tries, status codes, next try, dead letters",
            responses=_REFUSALS,
            name=f"deliveries_{collection}",
        )
        router.add_api_route(
            f"{base}/{collection}/{{channel_id}}/deliveries/{{delivery_id}}/redeliver",
            _redeliver(kind),
            methods=["POST"],
            status_code=202,
            summary="Send a delivery again (a dead letter, or one the receiver lost)",
            responses=_REFUSALS,
            name=f"redeliver_{collection}",
        )
    router.add_api_route(
        f"{base}/webhooks/{{channel_id}}/secret",
        _rotate,
        methods=["POST"],
        summary="Rotate a webhook's secret: a new one, the old one still signs for a grace period",
        description=(
            "Answers the new `whsec_` secret (shown this once). For `TAMPERE_WEBHOOK_SECRET_GRACE_SECONDS`"
            " (a day by default) every delivery carries two signatures, `webhook-signature: v1,<new>"
            " v1,<old>`, so a receiver holding either verifies; then only the new one signs."
        ),
        responses=_REFUSALS,
        name="rotate_webhook_secret",
    )
    return router


# --- checks ------------------------------------------------------------------------------------


async def _contact(runtime: Runtime, principal: Principal, contact_id: str) -> ContactPoint:
    contact = find_contact_point(runtime.contacts, contact_id)
    check_may_manage(principal, contact)
    return contact


async def _body(request: Request, model: type[BaseModel]) -> Any:
    data = await read_json(request, MAX_BODY_BYTES)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise Invalid(validation_findings(errors)) from None


def check_events(events: list[str]) -> list[str]:
    """The event types asked for, each known (else 422 naming the allowed ones), no repeats."""
    if not events or len(events) > MAX_TYPES:
        raise Invalid.one(
            RULE_EVENTS_MISSING,
            f"events: give 1 to {MAX_TYPES} event types; one of {', '.join(EVENT_TYPES)}",
            "/events",
        )
    findings = [
        Finding(
            RULE_EVENTS_UNKNOWN,
            f"{name[:40]!r} is not an event type; one of {', '.join(EVENT_TYPES)}",
            f"/events/{i}",
        )
        for i, name in enumerate(events)
        if name not in EVENT_TYPES
    ]
    if findings:
        raise Invalid(findings)
    return list(dict.fromkeys(events))


def check_filters(body: _Filters) -> dict[str, Any]:
    """The stream's filters (region, country, status), checked as the websocket checks them."""
    filters: dict[str, Any] = {"routed_only": body.routed_only}
    for name in ("region", "country", "status"):
        value = getattr(body, name)
        if value is not None:
            filters[name] = check_filter(name, value)
    return filters


def check_filter(name: str, value: str) -> Any:
    """One of the stream's filters (region, country, status), as the websocket reads it."""
    try:
        selection = parse_selection({name: value})
    except SelectionError as exc:
        raise Invalid.one(RULE_FILTER, str(exc), f"/{name}") from None
    return getattr(selection, name)


def check_changes(body: _Changes, row: Any) -> dict[str, Any]:
    """The columns a PATCH changes, each checked as at registration; `row` is the channel now
    (its filters are merged with those given)."""
    given = body.model_fields_set
    for name in _REQUIRED:
        if name in given and getattr(body, name) is None:
            raise Invalid.one(
                RULE_PATCH_NULL,
                f"{name} cannot be null: give a new value, or leave it out to keep it",
                f"/{name}",
            )
    changes: dict[str, Any] = {}
    if "events" in given:
        assert body.events is not None
        changes["events"] = check_events(body.events)
    filters = dict(row.filters or {})
    if "routed_only" in given:
        filters["routed_only"] = body.routed_only
    for name in ("region", "country", "status"):
        if name in given:
            value = getattr(body, name)
            if value is None:
                filters.pop(name, None)
            else:
                filters[name] = check_filter(name, value)
    changes["filters"] = filters
    if isinstance(body, EmailChanges):
        if "address" in given:
            assert body.address is not None
            changes["target"] = check_address(body.address)
        if "language" in given:
            changes["language"] = check_language(body.language)
        if "digest_minutes" in given:
            changes["digest_minutes"] = check_digest(body.digest_minutes)
    return changes


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host and no fragment."""
    return check_http_url(url, noun="webhook", rule=RULE_URL)


def check_address(address: str) -> str:
    """An e-mail address a delivery can go to: local@domain, no blanks, no display name."""
    address = address.strip()
    if len(address) > MAX_ADDRESS_CHARS or not _ADDRESS.match(address):
        raise Invalid.one(RULE_EMAIL, f"{address[:80]!r} is not an e-mail address (local@domain)", "/address")
    return address


def check_language(language: str | None) -> str | None:
    """A BCP 47 language tag (RFC 3066 shape, as CAP's <language>), or None."""
    if language is None:
        return None
    if not _LANGUAGE.match(language.strip()):
        raise Invalid.one(
            RULE_LANGUAGE, f"{language[:40]!r} is not a language tag (e.g. fr, es-419, ar)", "/language"
        )
    return language.strip()


def check_digest(minutes: float | None) -> float | None:
    """The digest period in minutes (1 to a day), or None."""
    if minutes is None:
        return None
    if not 1.0 / 60 <= minutes <= MAX_DIGEST_MINUTES:
        raise Invalid.one(
            "delivery.email.digest",
            f"digest_minutes is between 1/60 and {MAX_DIGEST_MINUTES:g}",
            "/digest_minutes",
        )
    return float(minutes)


# --- views -------------------------------------------------------------------------------------


def _wake(request: Request) -> None:
    deliverer = getattr(request.app.state, "deliverer", None)
    if deliverer is not None:
        deliverer.wake()


def _post(kind: str) -> Any:
    async def post_channel(
        contact_id: ContactId, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
    ) -> JSONResponse:
        """Add a channel; it gets the events committed from now on."""
        contact = await _contact(runtime, principal, contact_id)
        warnings: list[Finding] = []
        if kind == WEBHOOK:
            hook: WebhookRequest = await _body(request, WebhookRequest)
            target = check_webhook_url(hook.url)
            events, filters = check_events(hook.events), check_filters(hook)
            warnings = await _public_address(runtime, target)
            new = NewChannel(WEBHOOK, target, events, filters)
        else:
            mail: EmailRequest = await _body(request, EmailRequest)
            new = NewChannel(
                EMAIL,
                check_address(mail.address),
                check_events(mail.events),
                check_filters(mail),
                language=check_language(mail.language),
                digest_minutes=check_digest(mail.digest_minutes),
            )
            if not runtime.settings.smtp_host:
                message = "TAMPERE_SMTP_HOST is not set: deliveries are kept pending until it is"
                warnings.append(Finding(RULE_SMTP, message, "/"))
        row, secret = await runtime.db.write(
            lambda conn: create_channel(conn, contact, new, actor=principal.actor)
        )
        _wake(request)
        body = channel_json(row)
        if secret is not None:
            body["secret"] = secret
        body["warnings"] = [w.as_dict() for w in warnings]
        return JSONResponse(status_code=201, content=body, headers={"Location": channel_path(row)})

    return post_channel


def _patch(kind: str) -> Any:
    async def patch_channel(
        contact_id: ContactId,
        channel_id: ChannelId,
        request: Request,
        runtime: RuntimeDep,
        principal: RequiredPrincipal,
    ) -> JSONResponse:
        """Change a channel in place: what is given changes, the rest stays; it keeps its id, its
        place in the outbox and its delivery log (deleting and adding again would lose the
        events in between and the log). Pending deliveries go to the new URL or address."""
        contact = await _contact(runtime, principal, contact_id)
        warnings: list[Finding] = []
        target: str | None = None
        body: _Changes
        if kind == WEBHOOK:
            hook: WebhookChanges = await _body(request, WebhookChanges)
            body = hook
            if hook.url is not None:
                target = check_webhook_url(hook.url)
                warnings = await _public_address(runtime, target)
        else:
            body = await _body(request, EmailChanges)

        def work(conn: Any) -> tuple[Any, dict[int, dict[str, int]]]:
            row = channel_of(conn, contact, kind, channel_id)
            check_not_registry(row)  # the registry holds the address, its roles and language
            changes = check_changes(body, row)
            if target is not None:
                changes["target"] = target
            row = update_channel(conn, row, changes, actor=principal.actor)
            return row, pending_counts(conn, [row.id])

        row, counts = await runtime.db.write(work)
        _wake(request)
        answer = channel_json(row, counts.get(row.id))
        answer["warnings"] = [w.as_dict() for w in warnings]
        return JSONResponse(answer)

    return patch_channel


async def _rotate(
    contact_id: ContactId,
    channel_id: ChannelId,
    request: Request,
    runtime: RuntimeDep,
    principal: RequiredPrincipal,
) -> JSONResponse:
    """A new secret for the webhook (shown this once); the old one signs too for the grace
    period (TAMPERE_WEBHOOK_SECRET_GRACE_SECONDS), then no more."""
    contact = await _contact(runtime, principal, contact_id)
    data = await read_json(request, MAX_BODY_BYTES)
    if data is not None and data != {}:
        raise Invalid.one(RULE_ROTATE_BODY, "a rotation has no body, or {}", "/")
    grace = timedelta(seconds=runtime.settings.webhook_secret_grace_seconds)

    def work(conn: Any) -> tuple[Any, str]:
        row = channel_of(conn, contact, WEBHOOK, channel_id)
        return rotate_secret(conn, row, grace=grace, actor=principal.actor)

    row, secret = await runtime.db.write(work)
    return JSONResponse({**channel_json(row), "secret": secret})


async def _public_address(runtime: Runtime, target: str) -> list[Finding]:
    return await check_public_address(
        target,
        allow_private=runtime.settings.webhook_allow_private_addresses,
        rule=RULE_ADDRESS,
        what="webhooks",
        setting="TAMPERE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
        unresolved="registered, deliveries will be retried until it does",
        unresolved_rule=RULE_UNRESOLVED,
    )


def _list(kind: str) -> Any:
    async def list_channels(
        contact_id: ContactId, runtime: RuntimeDep, principal: RequiredPrincipal
    ) -> JSONResponse:
        """The contact point's channels of this kind, with their health and delivery counts."""
        contact = await _contact(runtime, principal, contact_id)

        def read(conn: Any) -> tuple[list[Any], dict[int, dict[str, int]]]:
            rows = channels_of(conn, contact, kind)
            return rows, pending_counts(conn, [r.id for r in rows])

        rows, counts = await runtime.db.read(read)
        key = "webhooks" if kind == WEBHOOK else "email"
        return JSONResponse({key: [channel_json(r, counts.get(r.id)) for r in rows]})

    return list_channels


def _get(kind: str) -> Any:
    async def get_channel(
        contact_id: ContactId, channel_id: ChannelId, runtime: RuntimeDep, principal: RequiredPrincipal
    ) -> JSONResponse:
        """One channel with its health and delivery counts."""
        contact = await _contact(runtime, principal, contact_id)

        def read(conn: Any) -> tuple[Any, dict[int, dict[str, int]]]:
            row = channel_of(conn, contact, kind, channel_id)
            return row, pending_counts(conn, [row.id])

        row, counts = await runtime.db.read(read)
        return JSONResponse(channel_json(row, counts.get(row.id)))

    return get_channel


def _delete(kind: str) -> Any:
    async def delete(
        contact_id: ContactId, channel_id: ChannelId, runtime: RuntimeDep, principal: RequiredPrincipal
    ) -> Response:
        """Remove a channel: nothing more is sent to it."""
        contact = await _contact(runtime, principal, contact_id)

        def work(conn: Any) -> None:
            row = channel_of(conn, contact, kind, channel_id)
            check_not_registry(row)  # the registry holds the address: removed there, or not at all
            delete_channel(conn, row, actor=principal.actor)

        await runtime.db.write(work)
        return Response(status_code=204)

    return delete


def _deliveries(kind: str) -> Any:
    async def list_deliveries(
        contact_id: ContactId,
        channel_id: ChannelId,
        runtime: RuntimeDep,
        principal: RequiredPrincipal,
        state: Annotated[
            Literal["pending", "delivered", "dead"] | None, Query(description=", ".join(STATES))
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before: Annotated[
            int | None, Query(ge=1, le=2**62, description="Deliveries with smaller ids")
        ] = None,
    ) -> JSONResponse:
        """The delivery log, newest event first: state, tries with status codes, next try."""
        contact = await _contact(runtime, principal, contact_id)

        def read(conn: Any) -> list[tuple[Any, list[Any]]]:
            channel_of(conn, contact, kind, channel_id)
            return deliveries_of(conn, channel_id, state=state, limit=limit, before=before)

        rows = await runtime.db.read(read)
        return JSONResponse({"deliveries": [delivery_json(row, tries) for row, tries in rows]})

    return list_deliveries


def _redeliver(kind: str) -> Any:
    async def redeliver_one(
        contact_id: ContactId,
        channel_id: ChannelId,
        delivery_id: DeliveryId,
        request: Request,
        runtime: RuntimeDep,
        principal: RequiredPrincipal,
    ) -> JSONResponse:
        """Queue a delivery again, due now (the same event id and body)."""
        contact = await _contact(runtime, principal, contact_id)
        give_up = timedelta(seconds=runtime.settings.webhook_give_up_seconds)

        def work(conn: Any) -> Any:
            channel_of(conn, contact, kind, channel_id)
            return redeliver(conn, channel_id, delivery_id, give_up=give_up, actor=principal.actor)

        row = await runtime.db.write(work)
        _wake(request)
        return JSONResponse(status_code=202, content=delivery_json(row, []))

    return redeliver_one
