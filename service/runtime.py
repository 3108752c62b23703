"""What one running app holds (settings, database, authenticator, metrics, the clock, and the
one home of the data loaded at startup: contact points, routing rules, reference tables,
connectivity layer, network status, gazetteer), and the request dependencies that hand it and
the caller's principal to the views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contact_points.registry import Registry
from contact_points.routing import ACK_DEADLINES, Priority
from contact_points.rules import RoutingRules
from geo.gazetteer import Gazetteer
from geo.jurisdiction import Jurisdictions
from geo.layers import ConnectivityLayer
from geo.reference import ReferenceTables
from service.auth import (
    RULE_SESSION_UNKNOWN,
    RULE_TOKEN_MISSING,
    RULE_TOKEN_UNKNOWN,
    SESSION_COOKIE,
    SESSION_PATH,
    Authenticator,
    Credential,
    Principal,
    bearer_token,
    deleted_office,
    expired_session_cookie,
    office_deleted,
    unauthorized,
)
from service.db import Database
from service.db.models import utcnow
from service.errors import Forbidden, Unauthorized
from service.metrics import Metrics
from service.settings import Settings

if TYPE_CHECKING:  # these modules take a Runtime themselves
    from service.geocodes.reload import GazetteerReloader
    from service.layers.reload import LayerReloader
    from service.network.reports import StatusBook

# Declares the scheme in the OpenAPI document; the header itself is read by `bearer_token`.
_bearer_scheme = HTTPBearer(auto_error=False, description="A token from `tampere token create`")

# Revoked and expired tokens answer as unknown ones. A token made by `tampere token create` on
# another data dir than the service's is unknown too: the most common slip, so the fix is named.
UNKNOWN_TOKEN_MESSAGE = (
    "unknown token (or revoked, or expired); a token is known only to the store it was created "
    "in: run `tampere token create` on the data dir and database `tampere serve` printed "
    "(TAMPERE_DATA_DIR, TAMPERE_DATABASE_URL), or ask the operator for one"
)


@dataclass(slots=True)
class Runtime:
    """The resources of one app instance, opened and closed by its lifespan."""

    settings: Settings
    db: Database
    authenticator: Authenticator
    metrics: Metrics
    # The ITU contact points alerts and requests are routed to: the registry as stored,
    # swapped for a fresh copy when it changes (service.contact_points.reload).
    contacts: Registry
    # Member States, ITU-D regions and territories (the packaged tables).
    reference: ReferenceTables
    # The disaster-connectivity layer (service.layers.files): empty until one is imported.
    connectivity: ConnectivityLayer
    # Every network status report, in memory.
    network: StatusBook
    # Reloads the layer when `tampere layer import` changed it.
    layers: LayerReloader
    # Resolves CAP geocodes: packaged countries + imported tables (service.geocodes.files).
    gazetteer: Gazetteer
    # Reloads it when `tampere geocodes import` changed a table.
    geocodes: GazetteerReloader
    # Where each administration may post alerts and outage reports (territory + sea margin).
    jurisdictions: Jurisdictions
    # Which contact points an alert goes to (the packaged table or TAMPERE_ROUTING_RULES_FILE).
    routing_rules: RoutingRules = field(default_factory=RoutingRules.load)
    # The registry revision `contacts` was read at (service.contact_points.store.revision).
    contacts_revision: int = 0
    # What time it is: deadlines, acknowledgements and escalation read this clock, so a test
    # can move it on instead of waiting minutes.
    clock: Callable[[], datetime] = utcnow
    # How long a recipient has to acknowledge, by priority (TAMPERE_ACK_*_SECONDS).
    deadlines: Mapping[Priority, timedelta] = field(default_factory=lambda: dict(ACK_DEADLINES))


async def get_runtime(request: Request) -> Runtime:
    """The runtime of the app serving this request (async: FastAPI would run a plain function
    in a worker thread, one thread hop per request for a dictionary lookup)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# Browsers send the session cookie with every request to this origin; SameSite=Strict keeps
# other sites' pages from making them send it, and a write authenticated by the cookie must also
# carry this header, which a page of another origin cannot add without a CORS preflight this
# service never grants (defence in depth for browsers without SameSite and for sibling
# subdomains, which count as the same site).
CSRF_HEADER = "x-requested-with"
RULE_SESSION_CSRF = "auth.session.csrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def optional_credential(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer_scheme)],
) -> Credential | None:
    """What authenticates the caller: the bearer token, else the session cookie; None when
    neither was sent; 401 for one that is not good (unknown, revoked, expired)."""
    runtime: Runtime = request.app.state.runtime
    token = bearer_token(request)
    if token is not None:
        # Revoked and expired tokens are unknown here as well: the same answer, the same rule.
        credential = await runtime.authenticator.authenticate(runtime.db, token)
        if credential is None:
            raise unauthorized(RULE_TOKEN_UNKNOWN, UNKNOWN_TOKEN_MESSAGE)
        _check_office(runtime, credential)
        return credential
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return None
    credential = await runtime.authenticator.authenticate_session(runtime.db, session)
    if credential is None:
        # The browser forgets the cookie, so its next requests are anonymous, not refused.
        raise Unauthorized.one(
            RULE_SESSION_UNKNOWN,
            "the session has ended (signed out, expired or its token revoked): sign in again",
            SESSION_PATH,
            headers={"Set-Cookie": expired_session_cookie()},
        )
    _check_office(runtime, credential)
    if request.method not in _SAFE_METHODS and not request.headers.get(CSRF_HEADER):
        raise Forbidden.one(
            RULE_SESSION_CSRF,
            f"a write authenticated by the session cookie must carry the {CSRF_HEADER} header",
            f"header:{CSRF_HEADER}",
        )
    return credential


def _check_office(runtime: Runtime, credential: Credential) -> None:
    """403 for the token (or session) of an office deleted from the registry."""
    office = deleted_office(credential.principal, runtime.contacts)
    if office is not None:
        raise office_deleted(office)


async def optional_principal(
    credential: Annotated[Credential | None, Depends(optional_credential)],
) -> Principal | None:
    """The caller's principal; None when no token was sent; 401 for a token that is not known."""
    return None if credential is None else credential.principal


async def required_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller's principal; 401 when no token was sent."""
    if principal is None:
        raise unauthorized(
            RULE_TOKEN_MISSING,
            "a bearer token is required (Authorization: Bearer <token>); `tampere token create` issues one",
        )
    return principal


OptionalCredential = Annotated[Credential | None, Depends(optional_credential)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
RequiredPrincipal = Annotated[Principal, Depends(required_principal)]
