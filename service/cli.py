"""The `tampere` command: serve, validate, token create/list/revoke, source add/list, layer
import/list, geocodes import/list, basemap import/list/remove, trust add/list/remove/require,
contacts import/export, rules check, audit verify, migrate, events.

Every command that works on the store says on stderr which data directory and database it used
(service.db.location); all but `serve` and `migrate` refuse, saying how to point them, when that
database does not exist yet, instead of making a second, empty one."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cap.profiles import PROFILES
from service.settings import Settings

T = TypeVar("T")

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2

# What a command does with the store: uses one that exists, or creates it when missing.
USES_STORE = "uses"
CREATES_STORE = "creates"

# What each role is for, as `tampere token create --help` says it (the README has the table
# of what each may do, checked against service.auth and service.visibility by tests/test_readme.py).
ROLE_SUMMARIES = {
    "administration": "a Member State's administration (--country ISO3): posts CAP alerts as its "
    "registered senders (--sender), files assistance requests, reports network status",
    "office": "an ITU regional or area office (--office ID): receives, acknowledges and works "
    "what is routed to it",
    "bdt": "the BDT focal point: sees and works every request",
    "responder": "a first responder: reads the public map and alerts",
    "operator": "runs the installation: relays alerts for any sender, issues tokens, reloads layers",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tampere` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_UNREADABLE
    if getattr(args, "store", None) is not None:
        refusal = _locate_store(args)
        if refusal is not None:
            print(refusal, file=sys.stderr)
            return EXIT_UNREADABLE
    status: int = args.run(args)
    return status


def _locate_store(args: argparse.Namespace) -> str | None:
    """Settle the command's settings and store (`args.settings`, `args.location`), say which on
    stderr, and return why the command must not run (its store is missing), if it must not."""
    from service.db.location import StoreLocation, store_exists
    from service.errors import storage_fault

    data_dir = getattr(args, "data_dir", None)
    args.settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    args.location = location = StoreLocation.of(args.settings, data_dir_option=data_dir is not None)
    command = f"tampere {args.command_name}"
    print(f"{command}: {location.describe()}", file=sys.stderr)
    if args.store == CREATES_STORE:
        return None
    try:
        exists = asyncio.run(store_exists(location, args.settings))
    except Exception as exc:
        if storage_fault(exc) is None:
            raise
        return f"{command}: cannot reach the database {location.database}: {exc}"
    return None if exists else location.missing_message(command)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tampere",
        description="Emergency telecommunications coordination: CAP ingest, impact, routing.",
    )
    # --data-dir is taken before or after the command (`tampere --data-dir D token list` or
    # `tampere token list --data-dir D`); SUPPRESS keeps a command's parser from resetting it.
    store_options = argparse.ArgumentParser(add_help=False)
    store_options.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="the data directory (default: TAMPERE_DATA_DIR, else ./var where you stand)",
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(metavar="COMMAND")

    def on_store(command: argparse.ArgumentParser, name: str, *, creates: bool = False) -> None:
        command.set_defaults(store=CREATES_STORE if creates else USES_STORE, command_name=name)

    serve = commands.add_parser(
        "serve",
        parents=[store_options],
        help="serve the API and the web app (creates the store: SQLite in ./var by default)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)
    on_store(serve, "serve", creates=True)

    validate = commands.add_parser("validate", help="validate CAP files")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="one JSON object per file and line")
    validate.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILES),
        help="also check a CAP profile's rules, as warnings (repeatable)",
    )
    validate.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="SENDER=FILE.pem",
        help="trust anchors of one sender: its signatures verify only if they chain to one (repeatable)",
    )
    validate.add_argument(
        "--trust-anchor",
        action="append",
        default=[],
        metavar="FILE.pem",
        help="trust anchors for every sender (repeatable); without any, no signature is verified",
    )
    validate.set_defaults(run=_validate)

    token = commands.add_parser("token", help="issue bearer tokens").add_subparsers(metavar="ACTION")
    create = token.add_parser(
        "create",
        parents=[store_options],
        help="issue a token (printed once, stored hashed)",
        description="Issue a bearer token (printed once on stdout, stored hashed). Roles: "
        + "; ".join(f"{role}: {what}" for role, what in ROLE_SUMMARIES.items()),
    )
    create.add_argument(
        "--role", required=True, choices=["administration", "office", "bdt", "responder", "operator"]
    )
    create.add_argument("--country", help="ISO 3166-1 alpha-3 (administrations), e.g. KEN")
    create.add_argument("--office", help="office id (offices): " + ", ".join(_office_ids()))
    create.add_argument(
        "--sender",
        action="append",
        default=[],
        help="a CAP <sender> this administration posts as (repeatable); without one it can post "
        "nothing: add one later with the same command and --sender",
    )
    create.add_argument(
        "--expires", type=float, metavar="DAYS", help="days until it expires (default: never)"
    )
    create.set_defaults(run=_token_create)
    on_store(create, "token create")
    tokens = token.add_parser(
        "list", parents=[store_options], help="issued tokens, one JSON object a line (never the token)"
    )
    tokens.set_defaults(run=_token_list)
    on_store(tokens, "token list")
    revoke = token.add_parser(
        "revoke", parents=[store_options], help="revoke a token: refused at once, its websockets closed"
    )
    revoke.add_argument("id", type=int, help="the token's id (from `tampere token list`)")
    revoke.set_defaults(run=_token_revoke)
    on_store(revoke, "token revoke")

    layer = commands.add_parser("layer", help="the connectivity layer").add_subparsers(metavar="ACTION")
    imp = layer.add_parser(
        "import",
        parents=[store_options],
        help="import a layer file into the data directory",
        description="Import an operator's file as one kind of the connectivity layer. Nothing is "
        "downloaded: bring the file. A running `tampere serve` on the same data directory picks "
        "it up within seconds and recomputes the impact of active alerts.",
        epilog=_layer_kinds_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("kind", metavar="KIND", help="opencellid, ookla, cables or population (below)")
    imp.add_argument("file", type=Path, help="the file (or, for cables, the folder) to import")
    imp.add_argument("--period", help="Ookla quarter as YYYYQn (else taken from the file name)")
    imp.set_defaults(run=_layer_import)
    on_store(imp, "layer import")
    lst = layer.add_parser("list", parents=[store_options], help="list imported layers")
    lst.set_defaults(run=_layer_list)
    on_store(lst, "layer list")

    geocodes = commands.add_parser("geocodes", help="boundary tables for CAP geocodes").add_subparsers(
        metavar="ACTION"
    )
    gimp = geocodes.add_parser(
        "import", parents=[store_options], help="import a boundary file as the table of one geocode scheme"
    )
    gimp.add_argument("scheme", help='the CAP geocode valueName: UGC, SAME, FIPS6, NUTS, "ISO 3166-2"...')
    gimp.add_argument("file", type=Path, help="GeoJSON, GeoPackage, shapefile or its zip")
    gimp.add_argument("--code-field", required=True, help="the field holding each boundary's code")
    gimp.add_argument("--name-field", help="the field holding each boundary's name")
    gimp.set_defaults(run=_geocodes_import)
    on_store(gimp, "geocodes import")
    glst = geocodes.add_parser(
        "list", parents=[store_options], help="imported tables, one JSON object a line"
    )
    glst.set_defaults(run=_geocodes_list)
    on_store(glst, "geocodes list")

    basemap = commands.add_parser("basemap", help="PMTiles basemaps for the web map").add_subparsers(
        metavar="ACTION"
    )
    bimp = basemap.add_parser(
        "import",
        parents=[store_options],
        help="import a PMTiles v3 archive as a basemap of the web map",
        description="Check a PMTiles v3 archive (vector MVT with vector_layers in its metadata, or "
        "raster PNG, JPEG, WebP, AVIF) and copy it into the data directory. The web app draws the "
        "imported archives instead of the built-in country boundaries (unless TAMPERE_MAP_STYLE_URL "
        "is set), read in byte ranges from /api/v1/basemap/NAME.pmtiles. Nothing is downloaded: "
        "bring the file.",
    )
    bimp.add_argument("file", type=Path, help="the .pmtiles file")
    bimp.add_argument("--name", help="the basemap's name (default: the file name without .pmtiles)")
    bimp.set_defaults(run=_basemap_import)
    on_store(bimp, "basemap import")
    blst = basemap.add_parser(
        "list", parents=[store_options], help="imported basemaps, one JSON object a line"
    )
    blst.set_defaults(run=_basemap_list)
    on_store(blst, "basemap list")
    brm = basemap.add_parser("remove", parents=[store_options], help="remove an imported basemap")
    brm.add_argument("name", help="its name (from `tampere basemap list`)")
    brm.set_defaults(run=_basemap_remove)
    on_store(brm, "basemap remove")

    audit = commands.add_parser("audit", help="the audit log").add_subparsers(metavar="ACTION")
    verify = audit.add_parser("verify", parents=[store_options], help="recompute the hash chain")
    verify.set_defaults(run=_audit_verify)
    on_store(verify, "audit verify")

    source = commands.add_parser("source", help="polled CAP feeds").add_subparsers(metavar="ACTION")
    add = source.add_parser("add", parents=[store_options], help="register a CAP feed to poll")
    add.add_argument("--url", required=True, help="the feed (Atom, RSS, EDXL-DE, CAP-JSON...)")
    owner = add.add_mutually_exclusive_group(required=True)
    owner.add_argument("--country", help="poll it for this administration (ISO 3166-1 alpha-3)")
    owner.add_argument("--operator", action="store_true", help="poll it as the operator (a relay)")
    add.add_argument("--name")
    add.add_argument("--interval", type=float, help="seconds between polls")
    add.set_defaults(run=_source_add)
    on_store(add, "source add")
    sources = source.add_parser(
        "list", parents=[store_options], help="sources and their health, one JSON object a line"
    )
    sources.set_defaults(run=_source_list)
    on_store(sources, "source list")

    trust = commands.add_parser(
        "trust", help="trust anchors per CAP sender, and senders that must sign"
    ).add_subparsers(metavar="ACTION")
    tadd = trust.add_parser(
        "add",
        parents=[store_options],
        help="trust the certificates of a PEM file for one sender's signatures",
    )
    tadd.add_argument("--sender", required=True, help="the CAP <sender> they sign for")
    tadd.add_argument("file", type=Path, metavar="FILE.pem", help="PEM certificates (CAs or signers)")
    tadd.add_argument("--require", action="store_true", help="also refuse this sender's unverified messages")
    tadd.set_defaults(run=_trust_add)
    on_store(tadd, "trust add")
    tlist = trust.add_parser("list", parents=[store_options], help="trust anchors, one JSON object a line")
    tlist.add_argument("--sender", help="only this sender's")
    tlist.set_defaults(run=_trust_list)
    on_store(tlist, "trust list")
    tremove = trust.add_parser("remove", parents=[store_options], help="stop trusting one anchor of a sender")
    tremove.add_argument("--sender", required=True)
    tremove.add_argument("fingerprint", metavar="FINGERPRINT", help="SHA-256, as `trust list` prints it")
    tremove.set_defaults(run=_trust_remove)
    on_store(tremove, "trust remove")
    trequire = trust.add_parser(
        "require",
        parents=[store_options],
        help="refuse a sender's messages unless their signature is verified",
    )
    trequire.add_argument("--sender", required=True)
    trequire.add_argument("--no-require", dest="required", action="store_false", help="stop requiring it")
    trequire.set_defaults(run=_trust_require, required=True)
    on_store(trequire, "trust require")

    contacts = commands.add_parser("contacts", help="the contact-point registry").add_subparsers(
        metavar="ACTION"
    )
    cimport = contacts.add_parser(
        "import",
        parents=[store_options],
        help="create or replace contact points from a YAML or CSV file (all or nothing)",
    )
    cimport.add_argument("file", type=Path, help="as `tampere contacts export` writes it")
    cimport.add_argument("--format", choices=["yaml", "csv"], help="default: csv for a .csv file, else yaml")
    cimport.add_argument(
        "--replace", action="store_true", help="also remove the contact points the file does not hold"
    )
    cimport.set_defaults(run=_contacts_import)
    on_store(cimport, "contacts import")
    cexport = contacts.add_parser(
        "export", parents=[store_options], help="write the registry (people included) to stdout or a file"
    )
    cexport.add_argument("--format", choices=["yaml", "csv"], default="yaml")
    cexport.add_argument("--output", type=Path, help="write here instead of stdout")
    cexport.set_defaults(run=_contacts_export)
    on_store(cexport, "contacts export")

    rules = commands.add_parser("rules", help="routing rules").add_subparsers(metavar="ACTION")
    rcheck = rules.add_parser(
        "check", help="check a routing table (default: TAMPERE_ROUTING_RULES_FILE, else the packaged one)"
    )
    rcheck.add_argument("file", type=Path, nargs="?", metavar="FILE.yaml")
    rcheck.set_defaults(run=_rules_check)

    migrate = commands.add_parser(
        "migrate", parents=[store_options], help="create the store, or bring its schema up to date"
    )
    migrate.set_defaults(run=_migrate)
    on_store(migrate, "migrate", creates=True)

    events = commands.add_parser(
        "events",
        help="follow a running service's event stream (WS /api/v1/events), one JSON line an event",
        description="Subscribe to the event stream of a running `tampere serve` as the token's "
        "principal: it sees what that principal may see (the README's roles table); the messages are "
        "described at /asyncapi.json.",
    )
    events.add_argument("url", metavar="URL", help="the service, e.g. http://127.0.0.1:8000")
    events.add_argument("--token", help="bearer token (default: TAMPERE_TOKEN)")
    events.add_argument("--since", type=int, help="replay from after this event id (0: from the first)")
    events.add_argument("--types", help="comma-separated event types, e.g. alert.received")
    events.add_argument("--alert", type=int, metavar="ID", help="only the events of this alert")
    events.add_argument(
        "--limit", type=int, help="stop after this many events (exit 1 if the stream falls idle first)"
    )
    events.add_argument(
        "--idle", type=float, help="stop after this many seconds without an event (default: never)"
    )
    events.set_defaults(run=_events)
    return parser


def _office_ids() -> list[str]:
    """The ids `--role office --office` accepts: the packaged regional and area offices."""
    from contact_points.registry import AREA_OFFICE, REGIONAL_OFFICE, Registry

    return [c.id for c in Registry.load() if c.kind in (REGIONAL_OFFICE, AREA_OFFICE)]


def _layer_kinds_help() -> str:
    """Each kind `tampere layer import` takes: what it holds, source, files and licence."""
    from service.layers.files import LAYER_KINDS as KINDS

    lines = ["kinds (data never shipped with Tampere: bring the file; mind its licence):"]
    for kind in KINDS.values():
        lines += [
            f"  {kind.name}",
            f"      holds:   {kind.holds}",
            f"      source:  {kind.source}",
            f"      files:   {kind.files}",
            f"      licence: {kind.licence}",
        ]
    lines.append(
        "examples:\n  tampere layer import opencellid 639.csv.gz\n"
        "  tampere layer import ookla 2023-01-01_performance_mobile_tiles.parquet --period 2023Q1"
    )
    return "\n".join(lines)


# --- serve -------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.events.frames import FramedWebSocketProtocol
    from service.http import bounded_protocol
    from service.logging import configure_logging

    settings: Settings = args.settings
    if not settings.public_base_url:
        settings = settings.model_copy(update={"public_base_url": served_base_url(args.host, args.port)})
    _print_serve_guide(settings, args.location, host=args.host, port=args.port)
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        # The request head bounded in size and time (uvicorn bounds neither); bodies are
        # bounded by the app (service.http.BodyLimit, 413).
        http=bounded_protocol(
            max_head_bytes=settings.max_head_bytes, head_timeout=settings.head_timeout_seconds
        ),
        # Keep idle clients from holding sockets for ever.
        timeout_keep_alive=30,
        # What a subscriber sends on the event stream is an ack of a few bytes, not 16 MiB.
        ws_max_size=64 * 1024,
        # The event stream writes each event's frame once per audience to every subscriber's
        # connection (service.events.frames).
        ws=FramedWebSocketProtocol,
    )
    return EXIT_OK


def _print_serve_guide(settings: Settings, location: Any, *, host: str, port: int) -> None:
    """Where the service answers, what to open, and the next commands (stderr, before the logs)."""
    local = served_base_url("127.0.0.1" if host in ("", "0.0.0.0") else host, port)
    ws = "ws" + local.removeprefix("http")
    data_dir = f"TAMPERE_DATA_DIR={location.data_dir}"
    lines = [
        f"tampere serve: listening on {local} (public base {settings.base_url()})",
        f"  web app       {local}/",
        f"  API docs      {local}/docs (OpenAPI {local}/openapi.json)",
        f"  event stream  {ws}/api/v1/events (AsyncAPI {local}/asyncapi.json)",
        f"  health        {local}/healthz",
        "next, in another terminal (the same data dir: run from here, or set it):",
        f"  export {data_dir}",
        "  tampere token create --role administration --country KEN --sender SENDER   # posts CAP",
        "  tampere token create --role office --office ro-addis-ababa                   # receives it",
        f"  curl -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/cap+xml' "
        f"--data-binary @alert.xml {local}/api/v1/alerts",
        f"  tampere events {local} --token TOKEN",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def served_base_url(host: str, port: int) -> str:
    """The public base URL `tampere serve --host H --port P` stands for when
    TAMPERE_PUBLIC_BASE_URL is unset: http://H:P, the machine's name for a wildcard address."""
    import socket

    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal (RFC 3986 §3.2.2)
    return f"http://{host}:{port}"


# --- events ------------------------------------------------------------------------------------


def _events(args: argparse.Namespace) -> int:
    import os
    from urllib.parse import urlencode, urlsplit, urlunsplit

    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
    from websockets.sync.client import connect

    token = args.token or os.environ.get("TAMPERE_TOKEN")
    if not token:
        print(
            "tampere events: give --token TOKEN or set TAMPERE_TOKEN (issued by `tampere token create`)",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    parts = urlsplit(args.url if "://" in args.url else f"http://{args.url}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        print(f"tampere events: {args.url!r} is not the service's http(s) address", file=sys.stderr)
        return EXIT_UNREADABLE
    query = {k: v for k, v in (("since", args.since), ("types", args.types)) if v is not None}
    path = parts.path.rstrip("/") + "/api/v1/events"
    url = urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))
    seen = 0
    try:
        # The token in the Authorization header, never in the URL (URLs end up in logs).
        with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
            print(f"tampere events: subscribed to {url}", file=sys.stderr, flush=True)
            while args.limit is None or seen < args.limit:
                try:
                    text = ws.recv(timeout=args.idle)
                except TimeoutError:
                    break
                message = json.loads(text)
                if message.get("type") == "heartbeat":
                    continue
                if args.alert is not None and message.get("alert_id") != args.alert:
                    continue
                print(json.dumps(message, ensure_ascii=False), flush=True)
                seen += 1
    except ConnectionClosed as exc:
        # 4400 (bad filter or since), 4401 (token unknown, revoked or expired), 4408 (too slow).
        code = exc.rcvd.code if exc.rcvd else None
        reason = exc.rcvd.reason if exc.rcvd else "connection lost"
        print(f"tampere events: closed by the service ({code}): {reason}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, InvalidStatus, InvalidURI, TimeoutError) as exc:
        print(f"tampere events: cannot reach {url}: {exc} (is `tampere serve` running?)", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.limit is not None and seen < args.limit:
        # Asked for N events and the stream fell quiet first: say so, for scripts to notice.
        print(f"tampere events: {seen} of {args.limit} events within {args.idle:g} s", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


# --- validate ----------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    import cap

    try:
        anchors = _validate_anchors(args.trust, args.trust_anchor)
    except ValueError as exc:
        print(f"tampere validate: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    any_invalid = False
    any_unreadable = False
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            any_unreadable = True
            _print_unreadable(name, exc, as_json=args.json)
            continue
        report = cap.validate(data, profiles=args.profile or (), trust_anchors=anchors)
        any_invalid = any_invalid or not report.valid
        if args.json:
            print(json.dumps(report.as_json(name), ensure_ascii=False), flush=True)
        else:
            verdict = "valid" if report.valid else "invalid"
            if not report.valid and report.ingestible:
                verdict += " (ingestible)"
            print(f"{name}: {verdict}, CAP {report.version or '?'}, signature {report.signature}")
            for finding in report.errors:
                print(f"  error {finding.rule} at {finding.path}: {finding.message}")
            for finding in report.warnings:
                print(f"  warning {finding.rule} at {finding.path}: {finding.message}")
    if any_unreadable:
        return EXIT_UNREADABLE
    return EXIT_INVALID if any_invalid else EXIT_OK


def _validate_anchors(per_sender: list[str], any_sender: list[str]) -> Any:
    """`--trust SENDER=FILE` and `--trust-anchor FILE` as cap.TrustAnchors; ValueError names
    the argument that is not a readable PEM certificate file."""
    import cap

    by_sender: dict[str, list[Any]] = {}
    for value in per_sender:
        sender, sep, file = value.rpartition("=")
        if not sep or not sender.strip() or not file:
            raise ValueError(f"--trust {value!r}: expected SENDER=FILE.pem")
        by_sender.setdefault(sender.strip(), []).extend(_anchor_file(file, f"--trust {value}"))
    everyone = [c for file in any_sender for c in _anchor_file(file, f"--trust-anchor {file}")]
    return cap.TrustAnchors.of(by_sender, everyone)


def _anchor_file(file: str, argument: str) -> list[Any]:
    from service.errors import ServiceError
    from service.trust.store import read_certificates

    try:
        return list(read_certificates(Path(file).read_bytes()))
    except OSError as exc:
        raise ValueError(f"{argument}: cannot be read: {exc.strerror or exc}") from None
    except ServiceError as exc:
        raise ValueError(f"{argument}: {exc.detail}") from None


def _print_unreadable(name: str, exc: OSError, *, as_json: bool) -> None:
    message = exc.strerror or str(exc)
    if as_json:
        print(
            json.dumps(
                {
                    "file": name,
                    "valid": False,
                    "ingestible": False,
                    "version": None,
                    "errors": [{"rule": "cli.file.unreadable", "message": message, "path": "/"}],
                    "warnings": [],
                    "signature": None,
                }
            ),
            flush=True,
        )
    else:
        print(f"{name}: cannot be read: {message}", file=sys.stderr)


# --- commands on the store ---------------------------------------------------------------------


def _with_db(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store `settings` name (migrated), run `work(db)`, close it. `main` has made
    sure it exists unless the command creates it (serve, migrate)."""
    from service.db import Database, upgrade

    async def run() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous)
        try:
            await upgrade(db)
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


def _token_create(args: argparse.Namespace) -> int:
    from service.auth import RegistryError, issue_token

    async def work(db: Any) -> str:
        issued = await db.write(
            lambda conn: issue_token(
                conn,
                role=args.role,
                country=args.country,
                office=args.office,
                senders=args.sender,
                expires_days=args.expires,
            )
        )
        senders = ", ".join(sorted(issued.principal.senders)) or "none"
        expires = issued.expires_at.isoformat() if issued.expires_at else "never"
        print(
            f"token {issued.id} for {issued.principal.actor} (senders: {senders}; expires: {expires}); "
            "shown once",
            file=sys.stderr,
        )
        principal = issued.principal
        if principal.role == "administration" and not principal.senders:
            print(
                f"note: {principal.actor} has no CAP sender registered, so it can post no alert "
                "(403 alert.sender.not-registered); register the <sender> its alerts carry with "
                f"`tampere token create --role administration --country {principal.country} --sender SENDER`",
                file=sys.stderr,
            )
        return str(issued.token)

    try:
        token = _with_db(args.settings, work)
    except RegistryError as exc:
        print(f"tampere token create: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(token)
    return EXIT_OK


def _token_list(args: argparse.Namespace) -> int:
    from service.auth import list_tokens
    from service.db.models import utcnow

    async def work(db: Any) -> list[Any]:
        found: list[Any] = await db.read(list_tokens)
        return found

    now = utcnow()
    for info in _with_db(args.settings, work):
        print(json.dumps(info.as_json(now), ensure_ascii=False))
    return EXIT_OK


def _token_revoke(args: argparse.Namespace) -> int:
    from service.auth import revoke_token
    from service.db.models import utcnow
    from service.errors import NotFound

    async def work(db: Any) -> Any:
        return await db.write(lambda conn: revoke_token(conn, args.id, actor="cli"))

    try:
        info = _with_db(args.settings, work)
    except NotFound as exc:
        print(f"tampere token revoke: {exc} (see `tampere token list`)", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(info.as_json(utcnow()), ensure_ascii=False))
    print(
        "refused from now on; a running service closes its open streams within a second",
        file=sys.stderr,
    )
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    async def work(_db: Any) -> None:
        return None

    _with_db(args.settings, work)
    print(
        "tampere migrate: the store is ready (schema up to date); next: `tampere serve`, "
        "`tampere token create ...` (same data dir)",
        file=sys.stderr,
    )
    return EXIT_OK


def _audit_verify(args: argparse.Namespace) -> int:
    from service import audit

    async def work(db: Any) -> audit.ChainVerdict:
        verdict: audit.ChainVerdict = await db.read(audit.verify)
        return verdict

    verdict = _with_db(args.settings, work)
    if verdict.intact:
        print(f"audit log intact: {verdict.links} links")
        return EXIT_OK
    print(
        f"audit log broken at link {verdict.broken_at}: {verdict.reason} "
        f"({verdict.links} links before it hold)"
    )
    return EXIT_INVALID


# --- contact points and routing rules ---------------------------------------------------------


def _contacts_import(args: argparse.Namespace) -> int:
    from contact_points.records import ContactInvalid, ExchangeUnreadable, load_csv, load_yaml, parse_contact
    from geo.reference import ReferenceTables
    from service.contact_points.store import import_contacts
    from service.errors import ServiceError

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tampere contacts import: {args.file}: cannot be read: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    kind = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "yaml")
    reference = ReferenceTables.load()
    try:
        records = load_csv(text) if kind == "csv" else load_yaml(text)
    except ExchangeUnreadable as exc:
        print(f"tampere contacts import: {args.file}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    contacts, findings = [], []
    for i, record in enumerate(records):
        try:
            contacts.append(parse_contact(record, reference=reference, base=f"/contact_points/{i}"))
        except ContactInvalid as exc:
            findings += exc.findings
    if findings:
        for finding in findings:
            print(
                f"tampere contacts import: {finding.rule} at {finding.path}: {finding.message}",
                file=sys.stderr,
            )
        print(f"{args.file}: nothing imported ({len(findings)} problem(s))", file=sys.stderr)
        return EXIT_INVALID

    async def work(db: Any) -> Any:
        return await db.write(
            lambda conn: import_contacts(conn, contacts, replace_all=args.replace, actor="cli"), long=True
        )

    try:
        outcome = _with_db(args.settings, work)
    except ServiceError as exc:
        for finding in exc.findings:
            print(
                f"tampere contacts import: {finding.rule} at {finding.path}: {finding.message}",
                file=sys.stderr,
            )
        return EXIT_INVALID
    print(json.dumps(outcome.as_json(), ensure_ascii=False))
    print(
        f"a running `tampere serve` routes by it within {args.settings.contacts_check_seconds:g} s",
        file=sys.stderr,
    )
    return EXIT_OK


def _contacts_export(args: argparse.Namespace) -> int:
    from contact_points.records import contact_record, dump_csv, dump_yaml
    from service.contact_points.store import list_contacts

    async def work(db: Any) -> list[Any]:
        found: list[Any] = await db.read(list_contacts)
        return found

    records = [contact_record(c) for c in _with_db(args.settings, work)]
    text = dump_csv(records) if args.format == "csv" else dump_yaml(records)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"tampere contacts export: {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"{len(records)} contact points written to {args.output}", file=sys.stderr)
    return EXIT_OK


def _rules_check(args: argparse.Namespace) -> int:
    from contact_points.rules import RoutingRules, RulesInvalid

    path = args.file or Settings().routing_rules_file
    try:
        text = None if path is None else path.read_text(encoding="utf-8")
        rules = RoutingRules.load(text, name=None if path is None else str(path))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tampere rules check: {path}: cannot be read: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except RulesInvalid as exc:
        for finding in exc.findings:
            print(f"{exc.name}: {finding.rule} at {finding.path}: {finding.message}", file=sys.stderr)
        return EXIT_INVALID
    for rule in rules.rules:
        print(json.dumps({"id": rule.id, "recipients": list(rule.recipients), "priority": rule.priority}))
    print(f"{rules.name}: {len(rules.rules)} rules, all good", file=sys.stderr)
    return EXIT_OK


# --- trust -------------------------------------------------------------------------------------


def _trust_add(args: argparse.Namespace) -> int:
    from service.errors import ServiceError
    from service.trust.store import add_anchors, read_certificates, set_required

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"tampere trust add: {args.file}: cannot be read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE

    async def work(db: Any) -> list[Any]:
        def add(conn: Any) -> list[Any]:
            added = add_anchors(conn, sender=args.sender, certificates=certificates, actor="cli")
            if args.require:
                set_required(conn, sender=args.sender, required=True, actor="cli")
            return added

        added: list[Any] = await db.write(add)
        return added

    try:
        certificates = read_certificates(data, where=str(args.file))
        added = _with_db(args.settings, work)
    except ServiceError as exc:
        print(f"tampere trust add: {args.file}: {exc.detail}", file=sys.stderr)
        return EXIT_INVALID
    for anchor in added:
        print(json.dumps(anchor.as_json(), ensure_ascii=False))
    return EXIT_OK


def _trust_list(args: argparse.Namespace) -> int:
    from service.trust.store import list_anchors, required_senders

    async def work(db: Any) -> tuple[list[Any], frozenset[str]]:
        def read(conn: Any) -> tuple[list[Any], frozenset[str]]:
            return list_anchors(conn, sender=args.sender), required_senders(conn)

        found: tuple[list[Any], frozenset[str]] = await db.read(read)
        return found

    anchors, required = _with_db(args.settings, work)
    for anchor in anchors:
        print(json.dumps({**anchor.as_json(), "required": anchor.sender in required}, ensure_ascii=False))
    # A sender that must sign but has no anchor yet: all its messages are refused; say so.
    listed = {a.sender for a in anchors}
    for sender in sorted(required - listed):
        if args.sender is None or sender == args.sender.strip():
            print(json.dumps({"sender": sender, "fingerprint": None, "required": True}))
    return EXIT_OK


def _trust_remove(args: argparse.Namespace) -> int:
    from service.errors import ServiceError
    from service.trust.store import remove_anchor

    async def work(db: Any) -> None:
        await db.write(
            lambda conn: remove_anchor(conn, sender=args.sender, fingerprint=args.fingerprint, actor="cli")
        )

    try:
        _with_db(args.settings, work)
    except ServiceError as exc:
        print(f"tampere trust remove: {exc.detail}", file=sys.stderr)
        return EXIT_INVALID
    print(f"removed trust anchor {args.fingerprint} of {args.sender}", file=sys.stderr)
    return EXIT_OK


def _trust_require(args: argparse.Namespace) -> int:
    from service.errors import ServiceError
    from service.trust.store import set_required

    async def work(db: Any) -> bool:
        changed: bool = await db.write(
            lambda conn: set_required(conn, sender=args.sender, required=args.required, actor="cli")
        )
        return changed

    try:
        changed = _with_db(args.settings, work)
    except ServiceError as exc:
        print(f"tampere trust require: {exc.detail}", file=sys.stderr)
        return EXIT_INVALID
    state = "required" if args.required else "not required"
    note = "" if changed else " (unchanged)"
    print(f"{args.sender}: a verified signature is {state}{note}", file=sys.stderr)
    return EXIT_OK


# --- sources -----------------------------------------------------------------------------------


def _source_add(args: argparse.Namespace) -> int:
    from service.auth import ADMINISTRATION, OPERATOR, principal_key
    from service.db.models import utcnow
    from service.errors import ServiceError
    from service.sources.store import (
        check_feed_address,
        check_feed_url,
        check_interval,
        principal_id_by_key,
        register_source,
        source_row,
    )
    from service.sources.view import source_json

    settings: Settings = args.settings
    if args.operator:
        key = principal_key(OPERATOR)
    else:
        key = principal_key(ADMINISTRATION, country=args.country.strip().upper())

    async def work(db: Any) -> dict[str, Any]:
        for warning in await check_feed_address(url, settings):
            print(f"tampere source add: warning: {warning.rule}: {warning.message}", file=sys.stderr)

        def add(conn: Any) -> dict[str, Any]:
            source_id = register_source(
                conn,
                owner_id=principal_id_by_key(conn, key),
                url=url,
                name=args.name,
                interval_seconds=interval,
                actor="cli",
            )
            return source_json(source_row(conn, source_id), now=utcnow())

        result: dict[str, Any] = await db.write(add)
        return result

    try:
        url = check_feed_url(args.url)
        interval = check_interval(args.interval, settings)
        body = _with_db(args.settings, work)
    except ServiceError as exc:
        reasons = "; ".join(f"{f.rule} at {f.path}: {f.message}" for f in exc.findings)
        print(f"tampere source add: {reasons}", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(body, ensure_ascii=False))
    return EXIT_OK


def _source_list(args: argparse.Namespace) -> int:
    from service.db.models import utcnow
    from service.sources.store import sources_of
    from service.sources.view import source_json

    async def work(db: Any) -> list[Any]:
        rows: list[Any] = await db.read(lambda conn: sources_of(conn, None))
        return rows

    now = utcnow()
    for row in _with_db(args.settings, work):
        print(json.dumps(source_json(row, now=now), ensure_ascii=False))
    return EXIT_OK


# --- layers ------------------------------------------------------------------------------------


def _layer_import(args: argparse.Namespace) -> int:
    from service.layers import files as layer_files

    if not args.file.exists():
        print(f"tampere layer import: cannot read {args.file}: no such file or folder", file=sys.stderr)
        return EXIT_UNREADABLE
    settings: Settings = args.settings
    try:
        summary = layer_files.import_layer(args.kind, args.file, settings.data_dir, period=args.period)
    except (ValueError, OSError) as exc:
        print(f"tampere layer import: {exc}", file=sys.stderr)
        return EXIT_INVALID
    summary = _jsonable(summary)
    _audit_import(settings, "layer.import", f"layer:{args.kind}", summary)
    print(json.dumps(summary, ensure_ascii=False))
    print(
        f"a running `tampere serve` picks it up within {settings.layer_check_seconds:g} s "
        "(or POST /api/v1/layers/reload)",
        file=sys.stderr,
    )
    return EXIT_OK


def _audit_import(settings: Settings, action: str, obj: str, summary: Any) -> None:
    from service import audit

    async def work(db: Any) -> None:
        await db.write(
            lambda conn: audit.record(
                conn,
                actor="cli",
                action=action,
                obj=obj,
                payload_hash=audit.json_digest(summary),
            ),
            long=True,
        )

    _with_db(settings, work)


def _layer_list(args: argparse.Namespace) -> int:
    from service.layers import files as layer_files

    for layer in layer_files.list_layers(args.settings.data_dir):
        print(json.dumps(_jsonable(layer), ensure_ascii=False))
    return EXIT_OK


# --- basemaps ----------------------------------------------------------------------------------


def _basemap_import(args: argparse.Namespace) -> int:
    from service.webapp.archives import ArchiveError, import_archive

    if not args.file.is_file():
        print(f"tampere basemap import: cannot read {args.file}: no such file", file=sys.stderr)
        return EXIT_UNREADABLE
    settings: Settings = args.settings
    try:
        archive = import_archive(args.file, settings.data_dir, name=args.name)
    except ArchiveError as exc:
        print(f"tampere basemap import: refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"tampere basemap import: cannot copy {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    summary = archive.as_json()
    _audit_import(settings, "basemap.import", f"basemap:{archive.name}", summary)
    print(json.dumps(summary, ensure_ascii=False))
    if settings.map_style_url:
        print(
            "TAMPERE_MAP_STYLE_URL is set: the web app draws that style, not imported basemaps",
            file=sys.stderr,
        )
    else:
        print("the web app draws it from its next page load", file=sys.stderr)
    return EXIT_OK


def _basemap_list(args: argparse.Namespace) -> int:
    from service.webapp.archives import list_archives

    for archive in list_archives(args.settings.data_dir):
        print(json.dumps(archive.as_json(), ensure_ascii=False))
    return EXIT_OK


def _basemap_remove(args: argparse.Namespace) -> int:
    from service.webapp.archives import remove_archive

    settings: Settings = args.settings
    if not remove_archive(settings.data_dir, args.name):
        print(
            f"tampere basemap remove: no basemap {args.name!r} is imported (see `tampere basemap list`)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    _audit_import(settings, "basemap.remove", f"basemap:{args.name}", {"name": args.name})
    print(f"tampere basemap remove: {args.name} removed", file=sys.stderr)
    return EXIT_OK


# --- geocodes ----------------------------------------------------------------------------------


def _geocodes_import(args: argparse.Namespace) -> int:
    from service.geocodes import files as geocode_files

    if not args.file.exists():
        print(f"tampere geocodes import: cannot read {args.file}: no such file or folder", file=sys.stderr)
        return EXIT_UNREADABLE
    settings: Settings = args.settings
    try:
        summary = geocode_files.import_geocodes(
            args.scheme,
            args.file,
            settings.data_dir,
            code_field=args.code_field,
            name_field=args.name_field,
        )
    except (ValueError, OSError) as exc:
        print(f"tampere geocodes import: {exc}", file=sys.stderr)
        return EXIT_INVALID
    _audit_import(settings, "geocodes.import", f"geocodes:{summary['key']}", summary)
    print(json.dumps(summary, ensure_ascii=False))
    print(
        f"a running `tampere serve` picks it up within {settings.layer_check_seconds:g} s",
        file=sys.stderr,
    )
    return EXIT_OK


def _geocodes_list(args: argparse.Namespace) -> int:
    from service.geocodes import files as geocode_files

    for table in geocode_files.list_geocode_tables(args.settings.data_dir):
        print(json.dumps(table, ensure_ascii=False))
    return EXIT_OK


def _jsonable(value: Any) -> Any:
    from service.alerts.ingest import jsonable

    return jsonable(value)


if __name__ == "__main__":
    raise SystemExit(main())
