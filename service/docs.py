"""The API's human-readable documentation: Swagger UI at /docs and ReDoc at /redoc, their scripts,
styles and icon served by this service, so both render on a machine without internet (no CDN)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# The assets come from a PyPI package, never from our tree: fastapi-offline ships Swagger UI's
# dist (swagger-ui-bundle.js, swagger-ui.css; Apache-2.0), ReDoc's standalone bundle
# (redoc.standalone.js; MIT) and FastAPI's favicon (MIT) in one 2.8 MB wheel, re-vendored from
# swagger-ui-dist@5 and redoc@2 (the majors FastAPI itself links) at each release. Only its
# static/ folder is used, not its FastAPIOffline factory: the app and these pages stay ours. The
# alternatives: swagger-ui-bundle has no ReDoc and stopped at Swagger UI 4, which cannot read
# OpenAPI 3.1; npm's swagger-ui-dist and redoc would need Node to install the service.
ASSETS_PACKAGE = "fastapi_offline"
ASSETS_URL = "/docs/assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

# Swagger UI sends the schema to validator.swagger.io unless told not to.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
# The pages may load nothing from another origin (ARCHITECTURE: "/docs and /redoc likewise"), and
# the browser holds them to it. FastAPI's pages start the UIs with an inline script; ReDoc parses
# the schema in a blob: worker.
CONTENT_SECURITY_POLICY = "default-src 'self' 'unsafe-inline' data: blob:"
# ReDoc's side menu always shows Redocly's logo from cdn.redoc.ly (no option turns it off). Even
# refused by the policy it is a request the browser starts, to a host a disaster zone cannot
# reach; so the bundle is served with that one address made an empty data: image, which fails to
# load at once, and ReDoc's own onError then leaves the logo out.
REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_LOGO = b"data:,"


def add_documentation(app: FastAPI) -> None:
    """Serve /docs (Swagger UI, with its OAuth2 redirect page), /redoc (ReDoc) and their assets;
    the app is built with `docs_url=None, redoc_url=None`, so these replace FastAPI's CDN pages."""
    # Before the mount, which would otherwise answer with the package's file as it is.
    app.add_api_route(
        f"{ASSETS_URL}/{REDOC_JS}", redoc_script, methods=["GET", "HEAD"], include_in_schema=False
    )
    app.mount(ASSETS_URL, StaticFiles(packages=[(ASSETS_PACKAGE, "static")]), name="docs-assets")
    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    if app.swagger_ui_oauth2_redirect_url:
        app.add_api_route(
            app.swagger_ui_oauth2_redirect_url, swagger_ui_redirect, methods=["GET"], include_in_schema=False
        )
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)


async def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive documentation (Swagger UI)."""
    app: FastAPI = request.app
    root = _root_path(request)
    redirect = app.swagger_ui_oauth2_redirect_url
    page = get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=_asset(root, SWAGGER_JS),
        swagger_css_url=_asset(root, SWAGGER_CSS),
        swagger_favicon_url=_asset(root, FAVICON),
        oauth2_redirect_url=f"{root}{redirect}" if redirect else None,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS},
    )
    return _this_origin_only(page)


async def swagger_ui_redirect() -> HTMLResponse:
    """The page an OAuth2 provider sends the browser back to from Swagger UI's Authorize."""
    return _this_origin_only(get_swagger_ui_oauth2_redirect_html())


async def redoc(request: Request) -> HTMLResponse:
    """The reference documentation (ReDoc), without Google Fonts."""
    app: FastAPI = request.app
    root = _root_path(request)
    page = get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=_asset(root, REDOC_JS),
        redoc_favicon_url=_asset(root, FAVICON),
        with_google_fonts=False,
    )
    return _this_origin_only(page)


async def redoc_script(request: Request) -> Response:
    """ReDoc's bundle without the one address it would fetch from another host."""
    body, etag = _redoc_bundle()
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@cache
def _redoc_bundle() -> tuple[bytes, str]:
    bundle = (resources.files(ASSETS_PACKAGE) / "static" / REDOC_JS).read_bytes()
    body = bundle.replace(REDOCLY_LOGO, NO_LOGO)
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _root_path(request: Request) -> str:
    # Behind a proxy that mounts the service under a prefix, as FastAPI's own pages do.
    return str(request.scope.get("root_path", "")).rstrip("/")


def _this_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def _asset(root: str, name: str) -> str:
    return f"{root}{ASSETS_URL}/{name}"
