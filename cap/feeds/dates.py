"""Date-times as feeds write them: RFC 3339 (Atom), RFC 822 (RSS), and CAP's own form."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from cap.parsing import cap12_datetime

# RFC 3339 §5.6 date-time (Atom, RFC 4287 §3.3): a zone is required, "Z" or an offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 date-time as an aware datetime, or None when it is not one."""
    text = text.strip()
    if not _RFC3339.match(text):
        return None
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_rfc822(text: str) -> datetime | None:
    """An RFC 822 date-time (RSS 2.0 pubDate) as an aware datetime, or None."""
    try:
        parsed = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 2822 §3.3: "-0000" means UTC with no statement about local time.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_cap_datetime(text: str) -> datetime | None:
    """A CAP dateTime (CAP 1.2 §3.3.2) as an aware datetime, or None when not in that form."""
    return cap12_datetime(text.strip())


def parse_feed_datetime(text: str) -> datetime | None:
    """Whichever of RFC 3339 or RFC 822 the text is in (index entries mix them), or None."""
    return parse_rfc3339(text) or parse_rfc822(text)
