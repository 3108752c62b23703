"""Settings of the service, read once from the environment (prefix TAMPERE_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

# A legitimate CAP message with an embedded resource runs to a few MB (IPAWS audio, WMO polygons
# of 100k vertices near 1 MB); the hardened parser refuses past 8 MiB, so the HTTP edge does too.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


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
    # How far over the sea an administration's alerts and outage reports may reach beyond its
    # land (geo.jurisdiction). 370.4 km is 200 nautical miles, the outer limit of a coastal
    # State's exclusive economic zone (UNCLOS art. 57): the waters a national meteorological or
    # tsunami service issues marine, cyclone and storm-surge warnings for. Over a neighbour's
    # land the margin never applies (only a 25 km border tolerance), so the sea is all it widens.
    jurisdiction_margin_km: float = 370.4
    # How often the expiry sweep runs; reads also treat expires < now as expired in between.
    expiry_interval_seconds: float = 5.0
    # A token's principal is cached this long, so a busy poster does not cost a lookup a request.
    auth_cache_seconds: float = 5.0
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
    # Per network operation (connect, read, write), then for the whole of one document.
    poll_timeout_seconds: float = 10.0
    poll_total_seconds: float = 30.0
    # A feed or linked CAP file larger than this is abandoned mid-stream.
    poll_max_bytes: int = DEFAULT_MAX_BODY_BYTES
    poll_max_redirects: int = 3
    # Linked CAP files (index feeds) fetched per poll of one source; the rest wait for the next.
    poll_max_links: int = 20
    # Failures back off exponentially from the source's interval, with jitter, up to this.
    poll_backoff_max_seconds: float = 3600.0
    # Sources polled at the same time by one instance.
    poll_concurrency: int = 4
    # Feeds on loopback/private/link-local addresses are refused unless this is set (SSRF).
    poll_allow_private_addresses: bool = False
    # How often the sweep looks for assistance requests whose acknowledgement deadline passed
    # (service.assistance.store); the deadlines themselves are minutes to hours.
    request_escalation_seconds: float = 15.0
    # Event stream (service.events.stream). A subscriber's queue of unsent events: when it is full
    # the subscriber is closed (4408, "reconnect with since=<last id>"), never silently skipped.
    # At least the page size (500) so one page of a burst never overflows a drained queue.
    events_queue_size: int = 1000
    # An idle stream sends a heartbeat message this often (WebSocket pings are the server's).
    events_heartbeat_seconds: float = 15.0
    # How often the events table is read for commits that sent no wake-up: on SQLite those of
    # other processes; on PostgreSQL only while the LISTEN connection is down.
    events_poll_seconds: float = 0.5

    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tampere.db').resolve()}"
