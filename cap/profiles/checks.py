"""What the profiles share: their rules' form, paths, and the checks several profiles make.

Each check yields the findings of one rule id it is given, with a `why` that names the profile's
reason, so one profile's wording never leaks into another's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator

from cap.errors import Finding, Rule
from cap.model import Alert, Info, NamedValue


def profile_rules(rows: list[tuple[str, str, str]]) -> list[Rule]:
    """The rules of one profile from (key, summary, clause) rows: "profile.<key>", warnings."""
    return [Rule(f"profile.{key}", "warning", False, summary, clause) for key, summary, clause in rows]


def info_path(i: int) -> str:
    return f"/alert/info[{i}]"


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def values_named(named: Iterable[NamedValue], name: str) -> list[tuple[int, str]]:
    """(1-based position, value) of every pair called `name`, for paths like parameter[3]."""
    return [(k, nv.value) for k, nv in enumerate(named, 1) if nv.value_name == name]


def no_info(alert: Alert, rule: str, why: str, msg_types: frozenset[str] | None) -> Iterator[Finding]:
    if not alert.infos and (msg_types is None or alert.msg_type in msg_types):
        yield Finding(rule, f"this {alert.msg_type} message has no <info>; {why}", "/alert")


def missing(alert: Alert, rule: str, element: str, why: str) -> Iterator[Finding]:
    """An <info> child that is absent or empty: `element` is the CAP name of an Info field."""
    attr = _ATTR[element]
    for i, info in enumerate(alert.infos, 1):
        value = getattr(info, attr)
        if value is None or value == []:
            yield Finding(rule, f"<{element}> is missing; {why}", info_path(i))
        elif isinstance(value, str) and not value.strip():
            yield Finding(rule, f"<{element}> is empty; {why}", f"{info_path(i)}/{element}")


_ATTR = {
    "expires": "expires",
    "responseType": "response_types",
    "senderName": "sender_name",
    "description": "description",
    "instruction": "instruction",
    "web": "web",
    "contact": "contact",
}


def no_area(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    for i, info in enumerate(alert.infos, 1):
        if not info.areas:
            yield Finding(rule, f"<info> has no <area>; {why}", info_path(i))


def differs(
    alert: Alert, rule: str, what: str, key: Callable[[Info], Hashable], why: str
) -> Iterator[Finding]:
    """Every <info> after the first must carry the same `what` as the first."""
    if not alert.infos:
        return
    first = key(alert.infos[0])
    for i, info in enumerate(alert.infos[1:], 2):
        if key(info) != first:
            yield Finding(rule, f"<info> {i} has different {what} from <info> 1; {why}", info_path(i))


def categories(info: Info) -> Hashable:
    return frozenset(info.categories)


def event_codes(info: Info) -> Hashable:
    return frozenset((nv.value_name, nv.value) for nv in info.event_codes)


def event_per_language(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    seen: dict[str, tuple[int, str]] = {}
    for i, info in enumerate(alert.infos, 1):
        first = seen.setdefault(info.language, (i, info.event))
        if first[1] != info.event:
            yield Finding(
                rule,
                f'<event> "{info.event}" differs from "{first[1]}" in <info> {first[0]}, '
                f"which has the same language {info.language}; {why}",
                f"{info_path(i)}/event",
            )


def geocode_only(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    """Infos whose areas are all geocodes: a recipient needs the code list to place them."""
    for i, info in enumerate(alert.infos, 1):
        if info.areas and not any(a.polygons or a.circles for a in info.areas):
            yield Finding(
                rule,
                f"no <area> of this <info> has a <polygon> or <circle>; {why}",
                f"{info_path(i)}/area[1]",
            )


def area_geocodes(
    alert: Alert, rule: str, accept: Callable[[NamedValue], bool], message: str
) -> Iterator[Finding]:
    """Each area needs at least one geocode that `accept`s."""
    for i, info in enumerate(alert.infos, 1):
        for j, area in enumerate(info.areas, 1):
            if not any(accept(g) for g in area.geocodes):
                yield Finding(rule, message, f"{info_path(i)}/area[{j}]")


def code_missing(
    alert: Alert, rule: str, accept: Callable[[str], bool], expected: str, why: str
) -> Iterator[Finding]:
    if not any(accept(c) for c in alert.codes):
        yield Finding(rule, f"no <code>{expected}</code>; {why}", "/alert")


def expires_before_sent(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    # CAP 1.2 §3.2.2 <effective>: "If this item is not included, the effective time SHALL be
    # assumed to be the same as in <sent>". With <onset> present parsing already compared it.
    for i, info in enumerate(alert.infos, 1):
        if info.effective is None and info.onset is None and info.expires and info.expires < alert.sent:
            yield Finding(
                rule,
                f"<expires> {info.expires.isoformat()} is before <sent> {alert.sent.isoformat()}, "
                f"so the alert has expired before it takes effect; {why}",
                f"{info_path(i)}/expires",
            )


def headline_length(alert: Alert, rule: str, limit: int, why: str) -> Iterator[Finding]:
    for i, info in enumerate(alert.infos, 1):
        if info.headline is not None and len(info.headline) > limit:
            yield Finding(
                rule,
                f"<headline> is {len(info.headline)} characters; {why} at most {limit}",
                f"{info_path(i)}/headline",
            )


def status_test(alert: Alert, rule: str, why: str, *, only: str | None = None) -> Iterator[Finding]:
    """A status other than Actual (or, with `only`, that one status)."""
    if alert.status != "Actual" and only in (None, alert.status):
        yield Finding(rule, f'<status> is "{alert.status}"; {why}', "/alert/status")
