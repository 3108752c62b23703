"""Principals, bearer tokens, the sender registry, and who may post and modify what (who may
see what is `service.visibility`)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Connection, insert, select

from geo.reference import ISO3
from service import audit
from service.db.database import Database
from service.db.models import Principal as PrincipalRow
from service.db.models import Sender, Token, utcnow
from service.errors import Unauthorized

ADMINISTRATION = "administration"
OFFICE = "office"
BDT = "bdt"
RESPONDER = "responder"
OPERATOR = "operator"
ROLES = (ADMINISTRATION, OFFICE, BDT, RESPONDER, OPERATOR)

# Rule ids of requests refused for their credentials; the place is the Authorization header.
RULE_TOKEN_MISSING = "auth.token.missing"
RULE_TOKEN_MALFORMED = "auth.token.malformed"
RULE_TOKEN_UNKNOWN = "auth.token.unknown"
AUTHORIZATION_PATH = "header:authorization"

_principals = PrincipalRow.__table__
_senders = Sender.__table__
_tokens = Token.__table__


class RegistryError(ValueError):
    """A token or sender registration that cannot be made (bad role, sender taken...)."""


@dataclass(slots=True, frozen=True)
class Principal:
    """An authenticated caller, with the senders registered to it (administrations only)."""

    id: int
    role: str
    country: str | None = None
    office: str | None = None
    senders: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return principal_key(self.role, country=self.country, office=self.office)

    @property
    def address_names(self) -> frozenset[str]:
        """Names under which this principal can appear in CAP <addresses>, lower-cased."""
        names = {*self.senders, self.country or "", self.office or ""}
        if self.role == BDT:
            names.add("bdt")
        return frozenset(n.lower() for n in names if n)


def principal_key(role: str, *, country: str | None = None, office: str | None = None) -> str:
    """The unique key of a principal: one per administration, office, or singleton role."""
    if role == ADMINISTRATION:
        return f"{role}:{country}"
    if role == OFFICE:
        return f"{role}:{office}"
    return role


def new_token() -> str:
    """A fresh opaque bearer token (256 bits of randomness)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- who may do what ---------------------------------------------------------------------------


def may_post_as(principal: Principal, sender: str) -> bool:
    """An administration posts only as its registered senders; the operator as anyone."""
    if principal.role == OPERATOR:
        return True
    return principal.role == ADMINISTRATION and sender in principal.senders


def may_modify(principal: Principal, *, sender: str, poster_id: int) -> bool:
    """Update, cancel, ack or error only one's own alerts (posted by one, or from a registered
    sender); the operator any."""
    if principal.role == OPERATOR:
        return True
    if principal.role != ADMINISTRATION:
        return False
    return poster_id == principal.id or sender in principal.senders


# --- the registry ------------------------------------------------------------------------------


def create_token(
    conn: Connection,
    *,
    role: str,
    country: str | None = None,
    office: str | None = None,
    senders: Iterable[str] = (),
) -> tuple[str, Principal]:
    """Issue a token for a principal (made on first use) and register senders to it."""
    senders = list(dict.fromkeys(s.strip() for s in senders if s.strip()))
    country = country.upper() if country else None
    _check_request(role, country=country, office=office, senders=senders)
    key = principal_key(role, country=country, office=office)
    principal_id = conn.execute(select(_principals.c.id).where(_principals.c.key == key)).scalar()
    if principal_id is None:
        principal_id = conn.execute(
            insert(_principals)
            .values(key=key, role=role, country=country, office=office, created_at=utcnow())
            .returning(_principals.c.id)
        ).scalar_one()
    for sender in senders:
        owner = conn.execute(select(_senders.c.principal_id).where(_senders.c.sender == sender)).scalar()
        if owner is None:
            conn.execute(
                insert(_senders).values(sender=sender, principal_id=principal_id, created_at=utcnow())
            )
        elif owner != principal_id:
            other = conn.execute(select(_principals.c.key).where(_principals.c.id == owner)).scalar()
            raise RegistryError(f"sender {sender!r} is registered to {other or owner}")
    token = new_token()
    conn.execute(
        insert(_tokens).values(principal_id=principal_id, token_hash=token_digest(token), created_at=utcnow())
    )
    audit.record(
        conn,
        actor="cli",
        action="token.create",
        obj=f"principal:{principal_id}",
        payload_hash=audit.json_digest({"principal": key, "senders": senders}),
    )
    principal = load_principal(conn, principal_id)
    assert principal is not None
    return token, principal


def _check_request(role: str, *, country: str | None, office: str | None, senders: list[str]) -> None:
    if role not in ROLES:
        raise RegistryError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == ADMINISTRATION:
        if not country or not ISO3.match(country):
            raise RegistryError("an administration needs --country with an ISO 3166-1 alpha-3 code")
    elif country:
        raise RegistryError("--country is for administrations only")
    if role == OFFICE:
        if not office:
            raise RegistryError("an office needs --office ID")
    elif office:
        raise RegistryError("--office is for offices only")
    if senders and role != ADMINISTRATION:
        raise RegistryError("senders are registered to administrations only")
    for sender in senders:
        # CAP 1.2 §3.2.1: a sender has no spaces, commas or restricted characters.
        if any(c in sender for c in " ,<&"):
            raise RegistryError(f"sender {sender!r} has spaces, commas, < or & (CAP 1.2 §3.2.1)")


def load_principal(conn: Connection, principal_id: int) -> Principal | None:
    """A principal by id, with its registered senders."""
    p = _principals.c
    row = conn.execute(select(p.id, p.role, p.country, p.office).where(p.id == principal_id)).first()
    if row is None:
        return None
    senders = conn.execute(select(_senders.c.sender).where(_senders.c.principal_id == row.id)).scalars()
    return Principal(
        id=row.id, role=row.role, country=row.country, office=row.office, senders=frozenset(senders)
    )


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    """The principal a bearer token belongs to, or None."""
    principal_id = conn.execute(
        select(_tokens.c.principal_id).where(_tokens.c.token_hash == token_digest(token))
    ).scalar_one_or_none()
    return None if principal_id is None else load_principal(conn, principal_id)


# --- the HTTP edge -----------------------------------------------------------------------------


class Authenticator:
    """Resolves `Authorization: Bearer T` to a principal, caching hits for a few seconds."""

    def __init__(self, *, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def resolve(self, db: Database, token: str) -> Principal | None:
        """The principal of a token (from the cache when fresh)."""
        digest = token_digest(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]
        principal = await db.read(lambda conn: principal_for_token(conn, token))
        if principal is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal


def bearer_token(request: Request) -> str | None:
    """The bearer token of a request, None when there is no Authorization header.

    Raises `Unauthorized` for an Authorization header that is not a bearer token.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized(RULE_TOKEN_MALFORMED, "the Authorization header must be 'Bearer <token>'")
    return token


def unauthorized(rule: str, message: str) -> Unauthorized:
    """The refusal of a request without a usable bearer token (the answer names the scheme)."""
    return Unauthorized.one(rule, message, AUTHORIZATION_PATH)
