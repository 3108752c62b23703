"""The browser app over HTTP: its page at `/` in the reader's language, its hashed assets,
its service worker, and the base map it draws: country boundaries generalised for the zoom, or
the PMTiles archives an operator imported (served in byte ranges), or, where there is internet,
the style at TAMPERE_MAP_STYLE_URL (`GET /api/v1/basemap` tells the page which).

Everything the page loads comes from this origin (the contract) unless a map style URL is
configured; the page's Content-Security-Policy makes the browser hold it to that as well, and
names the style's origin only when one is set.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from geo.gazetteer import natural_earth_version
from service.bbox import bbox_geometry, parse_bbox
from service.errors import Invalid, NotFound, Unavailable
from service.http import RevalidatedAnswers
from service.runtime import RuntimeDep
from service.settings import Settings
from service.webapp.archives import MEDIA_TYPE as PMTILES_MEDIA_TYPE
from service.webapp.archives import archive_path, list_archives
from service.webapp.basemap import MAX_ZOOM, band_of, countries_geojson, country_index
from service.webapp.page import LANGUAGES, Page, language_of
from service.webapp.ranges import RangeFileResponse

RULE_NOT_BUILT = "webapp.not-built"
RULE_BBOX_REQUIRED = "basemap.bbox.required"
RULE_BBOX_TOO_LARGE = "basemap.bbox.too-large"
RULE_ARCHIVE_UNKNOWN = "basemap.archive.unknown"
# The largest box of the detailed band: a map at zoom 5 shows ~45 by 30 degrees on a wide screen;
# the world in detail (1.6 MB gzipped) is never one answer.
MAX_BOX_DEGREES = (120.0, 80.0)

ASSETS_URL = "/assets"
# Vite names every asset by a hash of its content: a name never changes meaning, so browsers
# and proxies may keep it a year without asking again (RFC 8246 immutable).
IMMUTABLE = "public, max-age=31536000, immutable"
# The page and the service worker are asked for again on every load (answered 304 when
# unchanged), so a new build reaches every browser at its next visit.
REVALIDATE = "no-cache"
# The base map changes only with the installed Natural Earth package: a day, then revalidate.
BASEMAP_CACHE = "public, max-age=86400"
# The files at the root of the built app (web/public): the service worker must be served from
# the root to control the whole origin (Service Workers §scope).
ROOT_FILES = {
    "sw.js": "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "favicon.svg": "image/svg+xml",
}
# An imported archive may be replaced under the same name: asked again (304 when unchanged), so
# a browser never mixes ranges of two versions (the pmtiles reader also checks the ETag).
ARCHIVE_CACHE = "no-cache"


def content_security_policy(style_origin: str | None = None) -> str:
    """The page may load from its own origin only, and from the map style's origin when one is
    configured (MapLibre fetches a style, its tiles, glyphs and sprites with fetch(), and images
    from it). MapLibre draws in a Web Worker it starts from a blob: URL, and makes its canvas
    patterns as data: images; styles set by script are inline."""
    extra = f" {style_origin}" if style_origin else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{extra}; worker-src 'self' blob:; child-src blob:; "
        f"connect-src 'self'{extra}; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


# Boxes of the detailed band kept ready (the views of the last visitors).
BOXES_KEPT = 64


class ImmutableAssets(StaticFiles):
    """The hashed build assets, with the year-long cache header their names allow."""

    def file_response(
        self, full_path: str | Path, stat_result: object, scope: Scope, status_code: int = 200
    ) -> Response:
        """The file, cacheable for a year."""
        response = super().file_response(full_path, stat_result, scope, status_code)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = IMMUTABLE
        return response


class BaseMapCache:
    """Base map answers already made: each world band once, the last boxes of the detailed one."""

    def __init__(self) -> None:
        self._made: OrderedDict[tuple[int, str | None], bytes] = OrderedDict()

    def get(self, key: tuple[int, str | None]) -> bytes | None:
        """A made answer, freshened."""
        body = self._made.get(key)
        if body is not None:
            self._made.move_to_end(key)
        return body

    def put(self, key: tuple[int, str | None], body: bytes) -> None:
        """Keep an answer, forgetting the oldest box past BOXES_KEPT."""
        self._made[key] = body
        self._made.move_to_end(key)
        while len(self._made) > BOXES_KEPT + 8:
            self._made.popitem(last=False)


def add_webapp(app: FastAPI, settings: Settings) -> None:
    """Serve the built app (`/`, `/assets/...`, the service worker) and the base map API."""
    web_dir = settings.resolved_web_dir()
    assets = ImmutableAssets(directory=web_dir / "assets", check_dir=False)
    app.mount(ASSETS_URL, assets, name="webapp-assets")
    app.include_router(webapp_router(web_dir, settings))


def webapp_router(web_dir: Path, settings: Settings) -> APIRouter:
    """The page, its root files and the base map routes, reading the build in `web_dir` and the
    imported archives in the data directory."""
    router = APIRouter()
    made = BaseMapCache()
    answers = RevalidatedAnswers()
    policy = content_security_policy(settings.map_style_origin())
    data_dir = settings.data_dir

    def built(name: str) -> Path:
        path = web_dir / name
        if not path.is_file():
            raise Unavailable.one(
                RULE_NOT_BUILT,
                f"the web app is not built ({path} is missing): run `npm ci && npm run build` in web/ "
                "(dev/setup does), or set TAMPERE_WEB_DIR to a build",
            )
        return path

    async def page(
        request: Request,
        lang: Annotated[str | None, Query(max_length=35, description="ar, zh, en, fr, ru or es")] = None,
    ) -> Response:
        """The app, in `?lang=` or the browser's language (Accept-Language), English by default."""
        html = await anyio.Path(built("index.html")).read_bytes()
        language = language_of(lang, request.headers.get("accept-language"))
        headers = {
            "Cache-Control": REVALIDATE,
            "Content-Language": language,
            # The page differs by language: a cache must not give a French reader the Arabic one.
            "Vary": "Accept-Language",
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        return answers.answer(
            request, Page(html).render(language), media_type="text/html; charset=utf-8", headers=headers
        )

    router.add_api_route(
        "/",
        page,
        methods=["GET"],
        tags=["web app"],
        summary=f"The web app ({', '.join(LANGUAGES)})",
        response_class=Response,
        responses={
            200: {"content": {"text/html": {}}},
            503: {"description": "The web app is not built"},
        },
    )

    def root_file(name: str, media_type: str) -> None:
        async def serve() -> FileResponse:
            return FileResponse(
                built(name),
                media_type=media_type,
                headers={"Cache-Control": REVALIDATE, "X-Content-Type-Options": "nosniff"},
            )

        router.add_api_route(f"/{name}", serve, methods=["GET"], include_in_schema=False)

    for name, media_type in ROOT_FILES.items():
        root_file(name, media_type)

    async def basemap_countries(
        request: Request,
        runtime: RuntimeDep,
        zoom: Annotated[float, Query(ge=0, le=MAX_ZOOM, description="The map's zoom level")] = 0,
        bbox: Annotated[
            str | None,
            Query(max_length=200, description="west,south,east,north: required from zoom 5 (a box is sent)"),
        ] = None,
    ) -> Response:
        """Country boundaries (Natural Earth, public domain) generalised for the zoom: whole
        below zoom 5, cut to `bbox` from there (detailed boundaries of the world are 1.6 MB)."""
        band = band_of(zoom)
        box = None
        if not band.world:
            if not bbox:
                raise Invalid.one(
                    RULE_BBOX_REQUIRED,
                    f"from zoom {band.min_zoom} the boundaries are sent for a box: "
                    "give bbox=west,south,east,north",
                    "?bbox",
                )
            west, south, east, north = parse_bbox(bbox)
            # RFC 7946 §5: west > east across the antimeridian.
            width = east - west if west <= east else 360 - (west - east)
            if width > MAX_BOX_DEGREES[0] or north - south > MAX_BOX_DEGREES[1]:
                raise Invalid.one(
                    RULE_BBOX_TOO_LARGE,
                    f"from zoom {band.min_zoom} a box spans at most {MAX_BOX_DEGREES[0]:g} degrees of "
                    f"longitude and {MAX_BOX_DEGREES[1]:g} of latitude; "
                    f"this one {width:g} by {north - south:g}",
                    "?bbox",
                )
            box = (west, south, east, north)
        key = (band.min_zoom, None if box is None else ",".join(f"{v:g}" for v in box))
        body = made.get(key)
        if body is None:
            geometry = None if box is None else bbox_geometry(box)
            reference = runtime.reference
            body = await anyio.to_thread.run_sync(
                lambda: countries_geojson(band, box=geometry, reference=reference)
            )
            made.put(key, body)
        headers = {"Cache-Control": BASEMAP_CACHE, "X-Zoom-Band": str(band.min_zoom)}
        return answers.answer(request, body, media_type="application/geo+json", headers=headers)

    router.add_api_route(
        "/api/v1/basemap/countries",
        basemap_countries,
        methods=["GET"],
        tags=["web app"],
        summary="Country boundaries for the map, generalised for the zoom",
        response_class=Response,
        responses={200: {"content": {"application/geo+json": {}}}},
    )

    async def basemap(request: Request) -> Response:
        """What the map draws on: the configured style URL, else the imported PMTiles archives
        (oldest import at the bottom), else (both empty) the built-in country boundaries."""
        archives = await anyio.to_thread.run_sync(lambda: list_archives(data_dir))
        body = orjson.dumps(
            {
                "style": settings.map_style_url or None,
                "archives": [archive.as_json() for archive in archives],
                "countries": "/api/v1/basemap/countries",
                # What the built-in boundaries are, for the map's attribution.
                "countries_source": {"name": "Natural Earth", "version": natural_earth_version()},
            }
        )
        return answers.answer(
            request, body, media_type="application/json", headers={"Cache-Control": REVALIDATE}
        )

    router.add_api_route(
        "/api/v1/basemap",
        basemap,
        methods=["GET"],
        tags=["web app"],
        summary="What the map draws on: a style URL, imported PMTiles archives, or the countries",
        response_class=Response,
        responses={200: {"content": {"application/json": {}}}},
    )

    async def archive(name: str) -> Response:
        """An imported PMTiles archive, whole or in byte ranges (RFC 9110 §14): 206 with
        Content-Range, 416 when no range asked for lies in the file, 200 without Range."""
        path = archive_path(data_dir, name)
        try:
            if path is not None:
                return RangeFileResponse(path, media_type=PMTILES_MEDIA_TYPE, cache_control=ARCHIVE_CACHE)
        except FileNotFoundError:
            pass  # removed a moment ago (`tampere basemap remove`)
        raise NotFound.one(
            RULE_ARCHIVE_UNKNOWN,
            f"no basemap archive {name[:64]!r} is imported (tampere basemap list)",
            "/name",
        )

    # HEAD too (a reader may ask for the length first), answered by the same function.
    router.add_api_route("/api/v1/basemap/{name}.pmtiles", archive, methods=["HEAD"], include_in_schema=False)
    router.add_api_route(
        "/api/v1/basemap/{name}.pmtiles",
        archive,
        methods=["GET"],
        tags=["web app"],
        summary="An imported PMTiles basemap, served in byte ranges",
        response_class=Response,
        responses={
            200: {"content": {PMTILES_MEDIA_TYPE: {}}, "description": "The whole archive"},
            206: {"description": "The ranges asked for (Range: bytes=...)"},
            304: {"description": "Unchanged (If-None-Match)"},
            404: {"description": "No archive of that name"},
            416: {"description": "No range asked for lies within the archive"},
        },
    )

    async def countries(runtime: RuntimeDep) -> JSONResponse:
        """Every country of the base map: alpha-3, alpha-2, English name, ITU-D region."""
        reference = runtime.reference
        rows = await anyio.to_thread.run_sync(lambda: country_index(reference))
        return JSONResponse({"countries": rows}, headers={"Cache-Control": BASEMAP_CACHE})

    router.add_api_route(
        "/api/v1/countries", countries, methods=["GET"], tags=["web app"], summary="The countries of the map"
    )
    return router
