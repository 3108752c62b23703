"""Principals, bearer tokens (issued, listed, expiring, revoked), browser sessions, the sender
registry, and who may post and modify what (who may see what is `service.visibility`).

A token and a session cookie are opaque random strings stored only as their SHA-256. A session
is exchanged for a token and tied to it: it never outlives the token, and revoking the token
ends its sessions. A revoked or expired credential is refused on REST within
`auth_cache_seconds` (the cache below) and its open websockets are closed by the event stream's
credential watch (service.events.stream).
"""

from __future__ import annotations

import difflib
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from fastapi import Request
from sqlalchemy import ColumnElement, Connection, delete, insert, or_, select, update

from contact_points.registry import AREA_OFFICE, REGIONAL_OFFICE, Registry
from geo.reference import ISO3, ReferenceTables
from service import audit
from service.contact_points.store import load_registry
from service.db.database import Database
from service.db.models import BrowserSession, Sender, Token, utcnow
from service.db.models import Principal as PrincipalRow
from service.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

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
RULE_SESSION_UNKNOWN = "auth.session.unknown"
RULE_OFFICE_DELETED = "auth.office.deleted"
AUTHORIZATION_PATH = "header:authorization"
# The browser's session cookie (POST /api/v1/session); its value is as opaque as a token.
SESSION_COOKIE = "tampere_session"
SESSION_PATH = f"cookie:{SESSION_COOKIE}"
# Its companion, which script may read: no secret ("1"), it only says a session cookie was set,
# so that a page without one does not ask GET /api/v1/session for the 401 a browser logs.
SIGNED_IN_COOKIE = "tampere_signed_in"

# Rule ids of token requests that cannot be made (CLI and POST /api/v1/tokens).
RULE_ROLE_UNKNOWN = "token.role.unknown"
RULE_COUNTRY_MISSING = "token.country.missing"
RULE_COUNTRY_UNKNOWN = "token.country.unknown"
RULE_COUNTRY_NOT_ALLOWED = "token.country.not-allowed"
RULE_OFFICE_MISSING = "token.office.missing"
RULE_OFFICE_UNKNOWN = "token.office.unknown"
RULE_OFFICE_NOT_ALLOWED = "token.office.not-allowed"
RULE_SENDER_NOT_ALLOWED = "token.sender.not-allowed"
RULE_SENDER_INVALID = "token.sender.invalid"
RULE_SENDER_TAKEN = "token.sender.taken"
RULE_EXPIRES_INVALID = "token.expires.invalid"
RULE_TOKEN_NOT_FOUND = "token.not-found"
# The longest lifetime `--expires DAYS` may ask for (ten years); no expiry is said by omitting it.
MAX_EXPIRES_DAYS = 3650

_principals = PrincipalRow.__table__
_senders = Sender.__table__
_tokens = Token.__table__
_sessions = BrowserSession.__table__


class RegistryError(Invalid):
    """A token or sender registration that cannot be made (bad role, unknown office...); the
    finding's path is the field of POST /api/v1/tokens (`/office`), the CLI's option alike."""


class SenderTaken(Conflict, RegistryError):
    """The sender is registered to another principal (answers 409)."""


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


@dataclass(slots=True, frozen=True)
class IssuedToken:
    """A token just issued: the secret (shown once), its id and what it stands for."""

    token: str
    id: int
    principal: Principal
    created_at: datetime
    expires_at: datetime | None


@dataclass(slots=True, frozen=True)
class TokenInfo:
    """What is known of an issued token, never the token itself."""

    id: int
    principal: str
    role: str
    country: str | None
    office: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """`revoked`, `expired` or `active`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_json(self, now: datetime) -> dict[str, object]:
        """The listing's JSON (CLI and GET /api/v1/tokens)."""
        return {
            "id": self.id,
            "principal": self.principal,
            "role": self.role,
            "country": self.country,
            "office": self.office,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "state": self.state(now),
        }


@cache
def _packaged_reference() -> ReferenceTables:
    return ReferenceTables.load()


def create_token(
    conn: Connection,
    *,
    role: str,
    country: str | None = None,
    office: str | None = None,
    senders: Iterable[str] = (),
    expires_days: float | None = None,
) -> tuple[str, Principal]:
    """Issue a token for a principal (made on first use) and register senders to it."""
    issued = issue_token(
        conn, role=role, country=country, office=office, senders=senders, expires_days=expires_days
    )
    return issued.token, issued.principal


def issue_token(
    conn: Connection,
    *,
    role: str,
    country: str | None = None,
    office: str | None = None,
    senders: Iterable[str] = (),
    expires_days: float | None = None,
    actor: str = "cli",
    offices: Registry | None = None,
    reference: ReferenceTables | None = None,
) -> IssuedToken:
    """Issue a token after checking the request against the contact-point registry as stored
    (or `offices`) and the Member States (`RegistryError`, with the fix in its message, for an
    unknown role, office or country)."""
    senders = list(dict.fromkeys(s.strip() for s in senders if s.strip()))
    country = country.strip().upper() if country else None
    office = office.strip() if office else None
    _check_request(role, country=country, office=office, senders=senders, expires_days=expires_days)
    if role == ADMINISTRATION:
        assert country is not None
        _check_country(country, reference or _packaged_reference())
    if role == OFFICE:
        assert office is not None
        if offices is None:
            # The registry the operator keeps (service.contact_points), read in this transaction.
            offices = load_registry(conn)
        office = _known_office(office, offices)
    key = principal_key(role, country=country, office=office)
    principal_id = principal_id_for(conn, role, country=country, office=office)
    for sender in senders:
        owner = conn.execute(select(_senders.c.principal_id).where(_senders.c.sender == sender)).scalar()
        if owner is None:
            conn.execute(
                insert(_senders).values(sender=sender, principal_id=principal_id, created_at=utcnow())
            )
        elif owner != principal_id:
            other = conn.execute(select(_principals.c.key).where(_principals.c.id == owner)).scalar()
            raise SenderTaken.one(
                RULE_SENDER_TAKEN, f"sender {sender!r} is registered to {other or owner}", "/senders"
            )
    token = new_token()
    now = utcnow()
    expires_at = now + timedelta(days=expires_days) if expires_days is not None else None
    token_id = conn.execute(
        insert(_tokens)
        .values(
            principal_id=principal_id, token_hash=token_digest(token), created_at=now, expires_at=expires_at
        )
        .returning(_tokens.c.id)
    ).scalar_one()
    audit.record(
        conn,
        actor=actor,
        action="token.create",
        obj=f"token:{token_id}",
        payload_hash=audit.json_digest(
            {"principal": key, "senders": senders, "expires_at": expires_at and expires_at.isoformat()}
        ),
    )
    principal = load_principal(conn, principal_id)
    assert principal is not None
    return IssuedToken(token=token, id=token_id, principal=principal, created_at=now, expires_at=expires_at)


def principal_id_for(
    conn: Connection, role: str, *, country: str | None = None, office: str | None = None
) -> int:
    """The id of the principal with this role (and country or office), made on first use (by a
    token, or by a contact point's delivery channel, which sees what its principal sees)."""
    key = principal_key(role, country=country, office=office)
    principal_id = conn.execute(select(_principals.c.id).where(_principals.c.key == key)).scalar()
    if principal_id is None:
        principal_id = conn.execute(
            insert(_principals)
            .values(key=key, role=role, country=country, office=office, created_at=utcnow())
            .returning(_principals.c.id)
        ).scalar_one()
    return int(principal_id)


def _check_request(
    role: str, *, country: str | None, office: str | None, senders: list[str], expires_days: float | None
) -> None:
    if role not in ROLES:
        raise RegistryError.one(
            RULE_ROLE_UNKNOWN, f"unknown role {role!r}; one of {', '.join(ROLES)}", "/role"
        )
    if role == ADMINISTRATION:
        if not country or not ISO3.match(country):
            raise RegistryError.one(
                RULE_COUNTRY_MISSING,
                "an administration needs --country with an ISO 3166-1 alpha-3 code (e.g. KEN)",
                "/country",
            )
    elif country:
        raise RegistryError.one(RULE_COUNTRY_NOT_ALLOWED, "--country is for administrations only", "/country")
    if role == OFFICE:
        if not office:
            raise RegistryError.one(
                RULE_OFFICE_MISSING, "an office needs --office ID (e.g. ro-bangkok)", "/office"
            )
    elif office:
        raise RegistryError.one(RULE_OFFICE_NOT_ALLOWED, "--office is for offices only", "/office")
    if senders and role != ADMINISTRATION:
        raise RegistryError.one(
            RULE_SENDER_NOT_ALLOWED, "senders are registered to administrations only", "/senders"
        )
    for sender in senders:
        # CAP 1.2 §3.2.1: a sender has no spaces, commas or restricted characters.
        if any(c in sender for c in " ,<&"):
            raise RegistryError.one(
                RULE_SENDER_INVALID,
                f"sender {sender!r} has spaces, commas, < or & (CAP 1.2 §3.2.1)",
                "/senders",
            )
    if expires_days is not None and not 0 < expires_days <= MAX_EXPIRES_DAYS:
        raise RegistryError.one(
            RULE_EXPIRES_INVALID,
            f"--expires is a number of days above 0 and at most {MAX_EXPIRES_DAYS}; "
            "leave it out for a token that does not expire",
            "/expires_days",
        )


def _check_country(country: str, reference: ReferenceTables) -> None:
    """An administration is an ITU Member State's: a territory or an unknown code is refused."""
    if country in reference.member_states:
        return
    administering = reference.member_state_of(country)
    if administering and administering != country:
        message = (
            f"{country} ({reference.name_of(country)}) is not an ITU Member State; it is administered "
            f"by {administering} ({reference.name_of(administering)}): use --country {administering}"
        )
    else:
        codes = sorted(reference.member_states)
        near = difflib.get_close_matches(country, codes, n=5, cutoff=0.5)
        hint = ", ".join(f"{c} ({reference.member_states[c].name})" for c in near)
        message = f"unknown country {country!r}: not an ITU Member State's ISO 3166-1 alpha-3 code" + (
            f"; the nearest: {hint}" if hint else " (e.g. KEN for Kenya)"
        )
    raise RegistryError.one(RULE_COUNTRY_UNKNOWN, message, "/country")


def _known_office(office: str, offices: Registry) -> str:
    """The office's id as the registry spells it (ids are matched case-insensitively)."""
    kinds = (REGIONAL_OFFICE, AREA_OFFICE)
    known = {c.id.casefold(): c for c in offices if c.kind in kinds}
    found = known.get(office.casefold())
    if found is not None:
        return found.id
    wanted = office.casefold()
    near = [c for c in known.values() if wanted in c.id.casefold() or wanted in c.name.casefold()]
    for match in difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.6):
        if known[match] not in near:
            near.append(known[match])
    if near:
        hint = "the nearest: " + ", ".join(f"{c.id} ({c.name})" for c in near[:5])
    else:
        hint = "office ids: " + ", ".join(sorted(c.id for c in known.values()))
    extra = " (BDT has its own role: --role bdt)" if wanted == "bdt" else ""
    raise RegistryError.one(RULE_OFFICE_UNKNOWN, f"unknown office {office!r}{extra}; {hint}", "/office")


def list_tokens(conn: Connection) -> list[TokenInfo]:
    """Every token issued, oldest first (ids, principals and dates, never the token)."""
    t, p = _tokens.c, _principals.c
    rows = conn.execute(
        select(t.id, p.key, p.role, p.country, p.office, t.created_at, t.expires_at, t.revoked_at)
        .select_from(_tokens.join(_principals, p.id == t.principal_id))
        .order_by(t.id)
    )
    return [
        TokenInfo(
            id=row.id,
            principal=row.key,
            role=row.role,
            country=row.country,
            office=row.office,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]


def revoke_token(conn: Connection, token_id: int, *, actor: str) -> TokenInfo:
    """Revoke a token and end its sessions (revoking again changes nothing); `NotFound` when no
    token has this id."""
    found = next((info for info in list_tokens(conn) if info.id == token_id), None)
    if found is None:
        raise NotFound.one(RULE_TOKEN_NOT_FOUND, f"no token {token_id}", "{token_id}")
    conn.execute(delete(_sessions).where(_sessions.c.token_id == token_id))
    if found.revoked_at is not None:
        return found
    now = utcnow()
    conn.execute(update(_tokens).where(_tokens.c.id == token_id).values(revoked_at=now))
    audit.record(
        conn,
        actor=actor,
        action="token.revoke",
        obj=f"token:{token_id}",
        payload_hash=audit.json_digest({"principal": found.principal, "revoked_at": now.isoformat()}),
    )
    return TokenInfo(**{**_fields(found), "revoked_at": now})


def _fields(info: TokenInfo) -> dict[str, object]:
    return {name: getattr(info, name) for name in TokenInfo.__slots__}


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


# --- credentials: a token, or a session tied to one ---------------------------------------------


@dataclass(slots=True, frozen=True)
class Credential:
    """What authenticated a caller: its principal, the token (and session) behind it, and when
    it stops being good."""

    principal: Principal
    token_id: int
    expires_at: datetime | None
    session_id: int | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the credential's lifetime is over."""
        return self.expires_at is not None and self.expires_at <= now


def _usable(now: datetime) -> ColumnElement[bool]:
    """The tokens that are neither revoked nor expired at `now`."""
    t = _tokens.c
    return (t.revoked_at.is_(None)) & or_(t.expires_at.is_(None), t.expires_at > now)


def credential_for_token(conn: Connection, token: str, *, now: datetime | None = None) -> Credential | None:
    """The credential of a bearer token; None when unknown, revoked or expired."""
    now = now or utcnow()
    t = _tokens.c
    row = conn.execute(
        select(t.id, t.principal_id, t.expires_at).where(t.token_hash == token_digest(token), _usable(now))
    ).first()
    if row is None:
        return None
    principal = load_principal(conn, row.principal_id)
    if principal is None:
        return None
    return Credential(principal=principal, token_id=row.id, expires_at=row.expires_at)


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    """The principal a bearer token belongs to, or None (unknown, revoked or expired)."""
    credential = credential_for_token(conn, token)
    return None if credential is None else credential.principal


def open_session(conn: Connection, credential: Credential, *, lifetime: timedelta) -> tuple[str, datetime]:
    """A new session for an authenticated token: the cookie value (shown once) and its end,
    never later than the token's own."""
    now = utcnow()
    expires_at = now + lifetime
    if credential.expires_at is not None:
        expires_at = min(expires_at, credential.expires_at)
    value = new_token()
    conn.execute(
        insert(_sessions).values(
            token_id=credential.token_id,
            session_hash=token_digest(value),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return value, expires_at


def close_session(conn: Connection, value: str) -> None:
    """End the session with this cookie value (nothing when there is none)."""
    conn.execute(delete(_sessions).where(_sessions.c.session_hash == token_digest(value)))


def credential_for_session(conn: Connection, value: str, *, now: datetime | None = None) -> Credential | None:
    """The credential of a session cookie; None when unknown, ended or its token unusable."""
    now = now or utcnow()
    s, t = _sessions.c, _tokens.c
    row = conn.execute(
        select(s.id, s.expires_at, t.id.label("token_id"), t.principal_id)
        .select_from(_sessions.join(_tokens, t.id == s.token_id))
        .where(s.session_hash == token_digest(value), s.expires_at > now, _usable(now))
    ).first()
    if row is None:
        return None
    principal = load_principal(conn, row.principal_id)
    if principal is None:
        return None
    return Credential(
        principal=principal, token_id=row.token_id, expires_at=row.expires_at, session_id=row.id
    )


def unusable_credentials(
    conn: Connection, token_ids: Iterable[int], session_ids: Iterable[int]
) -> tuple[set[int], set[int]]:
    """Of these tokens and sessions, the ones no longer good (revoked, expired, ended): one
    query each, however many connections hold them."""
    now = utcnow()
    tokens, sessions = set(token_ids), set(session_ids)
    bad_tokens: set[int] = set()
    bad_sessions: set[int] = set()
    if tokens:
        good = conn.execute(select(_tokens.c.id).where(_tokens.c.id.in_(tokens), _usable(now))).scalars()
        bad_tokens = tokens - set(good)
    if sessions:
        good = conn.execute(
            select(_sessions.c.id).where(_sessions.c.id.in_(sessions), _sessions.c.expires_at > now)
        ).scalars()
        bad_sessions = sessions - set(good)
    return bad_tokens, bad_sessions


# --- the HTTP edge -----------------------------------------------------------------------------


class Authenticator:
    """Resolves a bearer token or a session cookie to its credential, caching hits briefly.

    The cache is what makes a revocation take a moment: keep `cache_seconds` under a second
    (the contract: a revoked token is refused within a second). Within this instance a
    revocation evicts at once (`forget_token`); an expiry is checked on every hit."""

    def __init__(self, *, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Credential]] = {}

    async def resolve(self, db: Database, token: str) -> Principal | None:
        """The principal of a bearer token (from the cache when fresh)."""
        credential = await self.authenticate(db, token)
        return None if credential is None else credential.principal

    async def authenticate(self, db: Database, token: str) -> Credential | None:
        """The credential of a bearer token, None when it is not good."""
        return await self._cached(
            db, "t:" + token_digest(token), lambda conn: credential_for_token(conn, token)
        )

    async def authenticate_session(self, db: Database, value: str) -> Credential | None:
        """The credential of a session cookie, None when it is not good."""
        return await self._cached(
            db, "s:" + token_digest(value), lambda conn: credential_for_session(conn, value)
        )

    async def _cached(
        self, db: Database, key: str, lookup: Callable[[Connection], Credential | None]
    ) -> Credential | None:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_seconds and not hit[1].expired(utcnow()):
            return hit[1]
        credential = await db.read(lookup)
        if credential is None:
            self._cache.pop(key, None)
            return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now, credential)
        return credential

    def forget_session(self, value: str) -> None:
        """Drop the cached credential of a session cookie (it was just ended here)."""
        self._cache.pop("s:" + token_digest(value), None)

    def forget_token(self, token_id: int) -> None:
        """Drop every cached credential of a token (it was just revoked here)."""
        for key in [k for k, (_, c) in self._cache.items() if c.token_id == token_id]:
            self._cache.pop(key, None)


def deleted_office(principal: Principal, registry: Registry) -> str | None:
    """The office of an office principal that is no longer in the contact-point registry (the
    operator deleted it), else None: its tokens stay valid but act for nothing, or a deleted
    office could still acknowledge alerts routed to it before (ids as tokens match them,
    case-insensitively)."""
    office = principal.office
    if principal.role != OFFICE or office is None or registry.find(office) is not None:
        return None
    return office


def office_deleted(office: str) -> Forbidden:
    """The refusal of what a deleted office's token asks for."""
    return Forbidden.one(
        RULE_OFFICE_DELETED,
        f"the office {office!r} is no longer a contact point (the operator deleted it): its tokens act "
        "for nothing; `tampere token revoke` them, or the operator adds the office again",
        AUTHORIZATION_PATH,
    )


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


def session_cookie(value: str, *, max_age: int, secure: bool) -> str:
    """The Set-Cookie value of a session: script cannot read it (HttpOnly), no other site's page
    makes the browser send it (SameSite=Strict), only over TLS when the service is reached so."""
    cookie = f"{SESSION_COOKIE}={value}; Path=/; Max-Age={max(0, max_age)}; HttpOnly; SameSite=Strict"
    return cookie + "; Secure" if secure else cookie


def expired_session_cookie() -> str:
    """The Set-Cookie value that makes the browser forget its session cookie."""
    return session_cookie("", max_age=0, secure=False)


def signed_in_cookie(*, max_age: int, secure: bool) -> str:
    """The Set-Cookie value of the session's companion: as the session cookie (path, expiry,
    SameSite, Secure) but readable by the page, and holding nothing but "1"."""
    cookie = (
        f"{SIGNED_IN_COOKIE}={'1' if max_age > 0 else ''}; Path=/; Max-Age={max(0, max_age)}; SameSite=Strict"
    )
    return cookie + "; Secure" if secure else cookie


def expired_signed_in_cookie() -> str:
    """The Set-Cookie value that makes the browser forget the companion."""
    return signed_in_cookie(max_age=0, secure=False)
