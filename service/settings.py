"""Settings of the service, read once from the environment (prefix TAMPERE_)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contact_points.routing import Priority

# A legitimate CAP message with an embedded resource runs to a few MB (IPAWS audio, WMO polygons
# of 100k vertices near 1 MB); the hardened parser refuses past 8 MiB, so the HTTP edge does too.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# Where the service answers when nothing else is said: `tampere serve`'s own default address.
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    """Where the data lives, which database to use and the limits of the HTTP edge."""

    model_config = SettingsConfigDict(env_prefix="TAMPERE_", extra="ignore")

    data_dir: Path = Path("var")
    # Empty means the embedded default: SQLite (WAL) in the data directory.
    database_url: str = ""
    # WAL with synchronous=NORMAL keeps every acknowledged commit across a process kill (the WAL
    # is written before COMMIT returns; only the fsync is deferred), not across a power cut.
    # FULL adds an fsync per commit and survives power loss too, at a cost in throughput.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Every other body (JSON records: a request, a status report, a source) is far smaller.
    max_json_body_bytes: int = 256 * 1024
    # The request line and headers: a bearer token and a few headers are well under 1 KiB;
    # 16 KiB is what h11 and Node allow.
    max_head_bytes: int = 16 * 1024
    # The whole request head must arrive within this long (slow-header clients, "slowloris").
    # A head is one packet; even over a satellite link it takes well under a second.
    head_timeout_seconds: float = 10.0
    # The longest pause allowed between two parts of a request body. A body of a few MB over a
    # poor satellite link arrives in a steady stream; a pause this long is a stalled or hostile
    # client, and its request would otherwise hold a worker's memory open for ever.
    body_idle_timeout_seconds: float = 30.0
    # The service's address as its users reach it (scheme, host, port, path prefix, e.g.
    # https://tampere.example.org): absolute links (the Atom feed) are made from it, never from
    # a request's Host header. Unset: `tampere serve` derives it from --host/--port, anything
    # else uses DEFAULT_PUBLIC_BASE_URL.
    public_base_url: str = ""
    # An alert with an <info> without <expires> ends this long after it takes effect (CAP 1.2
    # §3.2.2 leaves the lifetime to the recipient). 48 h outlasts the warnings of multi-day
    # events, which issuers re-send or update every few hours anyway, and takes a forgotten
    # alert off the map within two days instead of never.
    alert_default_lifetime_hours: float = Field(default=48.0, gt=0)
    # /healthz reports "not ready" when the data directory's file system has less free space.
    min_free_bytes: int = 64 * 1024 * 1024
    # How far over the sea an administration's alerts and outage reports may reach beyond its
    # land (geo.jurisdiction). 370.4 km is 200 nautical miles, the outer limit of a coastal
    # State's exclusive economic zone (UNCLOS art. 57): the waters a national meteorological or
    # tsunami service issues marine, cyclone and storm-surge warnings for. Over a neighbour's
    # land the margin never applies (only a 25 km border tolerance), so the sea is all it widens.
    jurisdiction_margin_km: float = 370.4
    # How often the expiry sweep runs; reads also treat expires < now as expired in between.
    expiry_interval_seconds: float = 5.0
    # A token's principal is cached this long, so a busy poster does not cost a lookup a request;
    # a revocation made by another process (the CLI, another instance) takes effect within it,
    # and the contract says within a second.
    auth_cache_seconds: float = 0.5
    # How often the event stream re-checks the tokens and sessions of its open websockets: a
    # revoked or expired one is closed (4401) within this, whichever instance or process revoked.
    credential_check_seconds: float = 0.5
    # A browser session (POST /api/v1/session) lasts this long, never past its token's expiry.
    session_hours: float = 12.0
    # Rate limits (service.ratelimit), token buckets held in memory by each instance: behind N
    # instances a client may get N times these. Writes (POST, PUT, PATCH, DELETE) per token and
    # per client address: a burst allowance, then a sustained rate. During a large event an
    # alerting authority posts hundreds of alerts and updates in minutes (a tropical cyclone's
    # warnings per district, each updated hourly; a relay catching up after an outage posts its
    # backlog at once): 600 at once and 10 a second after that (36,000 an hour) never hold it
    # back. One address may carry several principals (an office's or a ministry's NAT): twice that.
    write_burst_per_token: int = 600
    write_per_second_per_token: float = 10.0
    write_burst_per_address: int = 1200
    write_per_second_per_address: float = 20.0
    # Failed authentications (401 to a request carrying a token or session) per client address:
    # 20 a minute sustained, after a first allowance of 100 (a client retrying with a stale
    # token, a sweep of every endpoint as the test-suite makes). The sustained rate is what
    # bounds guessing: 28,800 guesses a day against 2^256 tokens. Past it, every request
    # carrying credentials from that address is answered 429 until the bucket refills, a valid
    # token too (otherwise the answer would tell which guess hit); requests without credentials
    # (the public map) are still served.
    auth_failures_burst_per_address: int = 100
    auth_failures_per_second_per_address: float = 20 / 60
    # Anonymous event streams (WS /api/v1/events/public, the public map) open at once, per client
    # address and in all, per instance. A coordination centre's responders share one NAT address:
    # 200 maps open there are never refused; one script opening sockets in a loop is, at 200, and
    # no number of addresses holds more than the total (an idle stream costs about 100 kB).
    # Streams with a token or session are accountable (revocable) and not counted.
    anonymous_streams_per_address: int = 200
    anonymous_streams_total: int = 10_000
    log_level: str = "INFO"
    # How often a running service looks for layers imported since it loaded them (and for
    # status reports other instances stored).
    layer_check_seconds: float = 5.0
    # Feed polling (service.sources.poller). The loop runs in every instance; a claim on each due source
    # keeps two instances from polling it at once.
    poll_enabled: bool = True
    # The longest the loop sleeps before looking for due sources (a new source wakes it at once).
    poll_tick_seconds: float = 5.0
    poll_default_interval_seconds: float = 60.0
    # The shortest interval a source may ask for: other people's servers are polled politely.
    poll_min_interval_seconds: float = 10.0
    # Per network operation (connect, read, write), then for the whole poll of one source: its
    # feed and every linked CAP file together, so a source whose server never answers holds a
    # polling slot this long at most.
    poll_timeout_seconds: float = 10.0
    poll_total_seconds: float = 30.0
    # A feed or linked CAP file larger than this is abandoned mid-stream.
    poll_max_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Bytes one poll of one source may read, feed and linked files together (never less than
    # poll_max_bytes: a feed within the size limit is always read).
    poll_max_bytes_per_poll: int = 4 * DEFAULT_MAX_BODY_BYTES
    poll_max_redirects: int = 3
    # Linked CAP files (index feeds) fetched per poll of one source; the rest wait for the next.
    poll_max_links: int = 20
    # Linked CAP files of one source fetched at the same time.
    poll_link_concurrency: int = 4
    # Failures back off exponentially from the source's interval, with jitter, up to this.
    poll_backoff_max_seconds: float = 3600.0
    # Sources polled at the same time by one instance.
    poll_concurrency: int = 4
    # Feeds on loopback/private/link-local addresses are refused unless this is set (SSRF).
    poll_allow_private_addresses: bool = False
    # How often the sweep looks for assistance requests whose acknowledgement deadline passed
    # (service.assistance.store); the deadlines themselves are minutes to hours.
    request_escalation_seconds: float = 15.0
    # How long a recipient has to acknowledge an alert or a request, by priority (contact_points
    # .routing.priority_of): flash (Extreme or Immediate) 15 min, urgent (Severe) 1 h, routine
    # 4 h. Past it, the next on the recipient's chain is asked (deputies, head, regional
    # office, BDT), one more such period per step.
    ack_flash_seconds: int = Field(default=15 * 60, gt=0)
    ack_urgent_seconds: int = Field(default=60 * 60, gt=0)
    ack_routine_seconds: int = Field(default=4 * 60 * 60, gt=0)
    # How often each instance looks for alerts whose acknowledgement deadline passed: the
    # contract escalates within 5 s of the deadline, and a look is one indexed read.
    alert_escalation_seconds: float = Field(default=1.0, gt=0)
    # The routing table (contact_points/rules.py): empty means the packaged one
    # (contact_points/data/routing_rules.yaml); a path replaces it whole, checked at startup.
    routing_rules_file: Path | None = None
    # How often each instance looks whether the contact-point registry changed elsewhere (another
    # instance, `tampere contacts import`); its own changes take effect at once.
    contacts_check_seconds: float = Field(default=2.0, gt=0)
    # Event stream (service.events.stream). A subscriber's queue of unsent events: when it is full
    # the subscriber is closed (4408, "reconnect with since=<last id>"), never silently skipped.
    # At least the page size (500) so one page of a burst never overflows a drained queue.
    events_queue_size: int = 1000
    # An idle stream sends a heartbeat message this often (WebSocket pings are the server's).
    events_heartbeat_seconds: float = 15.0
    # Live events are written straight to each subscriber's connection (service.events.frames):
    # one holding more unsent bytes than this (several thousand events) cannot keep up and is
    # closed like a full queue (4408, "reconnect with since=<last id>").
    events_max_buffered_bytes: int = 4 * 1024 * 1024
    # How often the events table is read for commits that sent no wake-up: on SQLite those of
    # other processes; on PostgreSQL only while the LISTEN connection is down.
    events_poll_seconds: float = 0.5
    # Deliveries (service.deliveries): webhooks per the Standard Webhooks specification and
    # e-mail, from the outbox tables. A failed delivery is retried with exponential backoff and
    # jitter, never waiting longer than this between two tries (the contract's default, 60 s).
    webhook_max_backoff_seconds: float = Field(default=60.0, gt=0)
    # A delivery not made within this long of its event (or of a redelivery request) is
    # dead-lettered: kept in the log, tried no more until redelivered on request. A day: an
    # endpoint down longer needs a person, and its contact point reads the log meanwhile.
    webhook_give_up_seconds: float = Field(default=86_400.0, gt=0)
    # After a webhook's secret is rotated, deliveries are signed with the new and the old secret
    # for this long (Standard Webhooks allows several signatures), so its receiver can switch
    # without losing one; then the old one is dropped. A day, as the give-up time.
    webhook_secret_grace_seconds: float = Field(default=86_400.0, ge=0)
    # One webhook request (connect, send, answer) may take this long; then it counts as failed.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Webhook URLs on loopback/private/link-local addresses are refused (at registration and at
    # every send) unless this is set, as for feeds (TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES).
    webhook_allow_private_addresses: bool = False
    # How often each instance looks for deliveries that are due (other instances' outbox rows,
    # retries); its own new events wake it at once.
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    # E-mail through SMTP (service.deliveries.email). No host: e-mail subscriptions are kept and
    # their deliveries held (pending) until one is configured.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "tampere@localhost"
    # STARTTLS after connecting (RFC 3207); credentials only over it, or on a TLS port.
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # The built web app (`npm run build` in web/ writes web/dist). Unset: web/dist beside the
    # service's source (a checkout, an editable install); the container image sets its own copy.
    web_dir: Path | None = None
    # A MapLibre style (https://maplibre.org/maplibre-style-spec/) the web app draws its map on
    # instead of the built-in boundaries or an imported PMTiles basemap: for an installation
    # whose users have internet. Unset, a page load asks no other origin for anything; set, the
    # page's Content-Security-Policy lets it reach this URL's origin (where the style's tiles,
    # glyphs and sprites must then be too).
    map_style_url: str = ""

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        if value and not _absolute_http(value, bare=True):
            raise ValueError("public_base_url is an absolute http(s) URL without query or fragment")
        return value.rstrip("/")

    @field_validator("map_style_url")
    @classmethod
    def _style_url(cls, value: str) -> str:
        if value and not _absolute_http(value, bare=False):
            raise ValueError("map_style_url is an absolute http(s) URL of a MapLibre style JSON")
        return value

    def map_style_origin(self) -> str | None:
        """The origin (scheme://host[:port]) of the configured map style, if one is."""
        if not self.map_style_url:
            return None
        parts = urlsplit(self.map_style_url)
        return f"{parts.scheme}://{parts.netloc}"

    def base_url(self) -> str:
        """The public base URL in force (no trailing slash)."""
        return self.public_base_url or DEFAULT_PUBLIC_BASE_URL

    def ack_deadlines(self) -> Mapping[Priority, timedelta]:
        """How long a recipient has to acknowledge, by priority."""
        return {
            Priority.FLASH: timedelta(seconds=self.ack_flash_seconds),
            Priority.URGENT: timedelta(seconds=self.ack_urgent_seconds),
            Priority.ROUTINE: timedelta(seconds=self.ack_routine_seconds),
        }

    def alert_lifetime(self) -> timedelta:
        """How long an alert without <expires> lasts."""
        return timedelta(hours=self.alert_default_lifetime_hours)

    def resolved_web_dir(self) -> Path:
        """Where the built web app is read from."""
        return self.web_dir or Path(__file__).resolve().parents[1] / "web" / "dist"

    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tampere.db').resolve()}"


def _absolute_http(value: str, *, bare: bool) -> bool:
    """Whether `value` is an absolute http(s) URL with a host (`bare`: and no query or fragment)."""
    parts = urlsplit(value)
    absolute = parts.scheme in ("http", "https") and bool(parts.hostname)
    return absolute and not (bare and (parts.query or parts.fragment))
