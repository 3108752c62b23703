"""Reading CAP values out of JSON (NWS CAP-GeoJSON, CAP-JSON) with a finding for each fault."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from cap.errors import Finding
from cap.feeds.dates import parse_cap_datetime
from cap.feeds.rules import FEED_RULES
from cap.model import NamedValue, Reference
from cap.schema import NS_12, SCHEMAS

# JSON forms of CAP follow CAP 1.2's value lists.
ENUMS = SCHEMAS[NS_12].enums
# CAP 1.2 §3.2.1: identifier and sender "MUST NOT include spaces, commas or restricted
# characters (< and &)".
_RESTRICTED = re.compile(r"[\s,<&]")

# A date-time that is not CAP's own form but still names one instant (e.g. "Z", fractions).
_ISO_WITH_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _iso_with_zone(text: str) -> datetime | None:
    if not _ISO_WITH_ZONE.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # e.g. month 13 or an offset of a day or more
        return None


T = TypeVar("T")
SpecialDate = Callable[[str], datetime | None]


def pointer(path: str, key: str | int) -> str:
    """A JSON Pointer (RFC 6901) one step further down."""
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


# A tolerant pipeline cannot name, date, scope or prioritise a message without these (the same
# set cap.parsing holds back an XML message for); JSON member names of both forms.
_CANNOT_ACT_WITHOUT = frozenset(
    {"identifier", "id", "sender", "sent", "status", "msgType", "messageType", "scope",
     "urgency", "severity", "areaDesc"}
)  # fmt: skip


class JsonFields:
    """Reads typed CAP values from JSON objects, recording errors and warnings as it goes."""

    def __init__(self, prefix: str, *, special_date: SpecialDate | None = None) -> None:
        self.prefix = prefix
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        # True once the message lacks something it cannot be acted on without.
        self.fatal = False
        self._special_date = special_date

    def add(self, rule: str, message: str, path: str, *, key: str | None = None) -> None:
        """Record a finding under this format's rule prefix; `key` names the member at fault."""
        rule_id = f"{self.prefix}.{rule}"
        spec = FEED_RULES[rule_id]
        if spec.level == "warning":
            self.warnings.append(Finding(rule_id, message, path))
            return
        self.errors.append(Finding(rule_id, message, path))
        self.fatal = self.fatal or spec.fatal or key in _CANNOT_ACT_WITHOUT

    def text(self, obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        """A string member; numbers are taken as their text."""
        value = obj.get(key)
        where = pointer(path, key)
        if value is None or value == "":
            if required:
                self.add("missing-member", f"{key!r} is required", where, key=key)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add("wrong-type", f"{key!r} must be a string", where, key=key)
            return None
        return str(value)

    def texts(self, obj: dict[str, Any], key: str, path: str) -> list[str]:
        """A member that is one string or a list of strings."""
        value = obj.get(key)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, str) and item:
                out.append(item)
            elif item not in (None, ""):
                self.add("wrong-type", f"{key!r} must hold strings", pointer(path, f"{key}/{i}"))
        return out

    def choice(
        self, obj: dict[str, Any], key: str, path: str, enum: str, *, required: bool = True
    ) -> str | None:
        """A member whose value must be in one of CAP 1.2's value lists (CAP 1.2 §3.2)."""
        value = self.text(obj, key, path, required=required)
        if value is not None and value not in ENUMS[enum]:
            self.add(
                "invalid-value",
                f"{key} {value!r} is not one of {', '.join(sorted(ENUMS[enum]))}",
                pointer(path, key),
                key=key,
            )
        return value

    def choices(self, obj: dict[str, Any], key: str, path: str, enum: str) -> list[str]:
        """A member holding one value or a list of values from a CAP 1.2 value list."""
        values = self.texts(obj, key, path)
        listed = isinstance(obj.get(key), list)
        for i, value in enumerate(values):
            if value not in ENUMS[enum]:
                self.add(
                    "invalid-value",
                    f"{key} {value!r} is not one of {', '.join(sorted(ENUMS[enum]))}",
                    pointer(pointer(path, key), i) if listed else pointer(path, key),
                )
        return values

    def name(self, obj: dict[str, Any], key: str, path: str, *, rule: str) -> str | None:
        """A required identifier or sender (CAP 1.2 §3.2.1: no spaces, commas, < or &)."""
        value = self.text(obj, key, path, required=True)
        if value is not None and _RESTRICTED.search(value):
            self.add(
                rule,
                f"{key} {value!r} contains a space, comma, < or & (CAP 1.2 §3.2.1)",
                pointer(path, key),
            )
        return value

    def when(self, obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> datetime | None:
        """A date-time member (CAP 1.2 §3.3.2 form expected)."""
        text = self.text(obj, key, path, required=required)
        return None if text is None else self.datetime_text(text, pointer(path, key), key=key)

    def datetime_text(self, text: str, where: str, *, key: str | None = None) -> datetime | None:
        """Read a date-time string; a special form (if any) or ISO 8601 with a zone is a warning."""
        parsed = parse_cap_datetime(text)
        if parsed is not None:
            return parsed
        if self._special_date is not None:
            special = self._special_date(text)
            if special is not None:
                self.add(
                    "date-template",
                    f"{text!r} is a relative date template, resolved to {special.isoformat()}",
                    where,
                )
                return special
        iso = _iso_with_zone(text)
        if iso is not None:
            self.add(
                "datetime-form",
                f"{text!r} is not in CAP's form YYYY-MM-DDThh:mm:ss±hh:mm (CAP 1.2 §3.3.2)",
                where,
            )
            return iso
        message = f"{text!r} is not a date-time with a time zone"
        self.add("invalid-datetime", message, where, key=key)
        return None

    def parsed_texts(
        self, obj: dict[str, Any], key: str, path: str, parse: Callable[[str], T | None], form: str
    ) -> list[T]:
        """Strings in CAP's text form (polygon, circle), each parsed; a bad one is an error."""
        out: list[T] = []
        listed = isinstance(obj.get(key), list)
        for i, text in enumerate(self.texts(obj, key, path)):
            parsed = parse(text)
            if parsed is None:
                where = pointer(pointer(path, key), i) if listed else pointer(path, key)
                self.add(f"invalid-{key}", f"{text[:80]!r} is not {form}", where)
            else:
                out.append(parsed)
        return out

    def info_fields(self, obj: dict[str, Any], path: str) -> dict[str, Any]:
        """The <info> members both JSON forms name as CAP does (CAP 1.2 §3.2.2)."""
        return {
            "event": self.text(obj, "event", path, required=True) or "",
            "urgency": self.choice(obj, "urgency", path, "urgency") or "",
            "severity": self.choice(obj, "severity", path, "severity") or "",
            "certainty": self.choice(obj, "certainty", path, "certainty") or "",
            "event_codes": self.named_values(obj, "eventCode", path),
            "effective": self.when(obj, "effective", path),
            "onset": self.when(obj, "onset", path),
            "expires": self.when(obj, "expires", path),
            "sender_name": self.text(obj, "senderName", path),
            "headline": self.text(obj, "headline", path),
            "description": self.text(obj, "description", path),
            "instruction": self.text(obj, "instruction", path),
            "web": self.text(obj, "web", path),
            # CAP 1.2 §3.2.2: language defaults to en-US.
            "language": self.text(obj, "language", path) or "en-US",
        }

    def named_values(self, obj: dict[str, Any], key: str, path: str) -> list[NamedValue]:
        """valueName/value pairs, as a list of objects or as a {name: [values]} mapping."""
        value = obj.get(key)
        where = pointer(path, key)
        out: list[NamedValue] = []
        if value is None:
            return out
        if isinstance(value, dict):
            for name, values in value.items():
                for v in values if isinstance(values, list) else [values]:
                    if isinstance(v, str | int | float) and not isinstance(v, bool):
                        out.append(NamedValue(value_name=str(name), value=str(v)))
                    else:
                        self.add("wrong-type", f"{key}.{name} must hold strings", where)
            return out
        for i, pair in enumerate(value if isinstance(value, list) else [value]):
            at = pointer(where, i)
            if not isinstance(pair, dict):
                self.add("wrong-type", f"{key} entries must be objects", at)
                continue
            name = self.text(pair, "valueName", at, required=True)
            v = self.text(pair, "value", at) or ""
            if name is not None:
                out.append(NamedValue(value_name=name, value=v))
        return out

    def reference(self, ref: dict[str, Any], path: str) -> Reference | None:
        """One earlier message named by sender, identifier and sent (CAP 1.2 §3.2.1)."""
        sender = self.text(ref, "sender", path, required=True)
        identifier = self.text(ref, "identifier", path, required=True)
        sent = self.when(ref, "sent", path, required=True)
        if sender is None or identifier is None or sent is None:
            return None
        return Reference(sender=sender, identifier=identifier, sent=sent)

    def references_text(self, text: str, where: str) -> list[Reference]:
        """CAP's <references> text: space-separated "sender,identifier,sent" triples."""
        out: list[Reference] = []
        for triple in text.split():
            parts = triple.split(",")
            if len(parts) != 3:
                self.add(
                    "invalid-references",
                    f"{triple!r} is not sender,identifier,sent (CAP 1.2 §3.2.1)",
                    where,
                )
                continue
            sent = self.datetime_text(parts[2], where)
            if sent is not None:
                out.append(Reference(sender=parts[0], identifier=parts[1], sent=sent))
        return out
