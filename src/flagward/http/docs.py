"""``/docs``: Swagger UI for ``/openapi.json``, its JavaScript, CSS and icon served by flagward itself
from the ``swagger-ui-bundle-v2`` package (Swagger UI's own distribution files, Apache-2.0), so the page
works on a host without internet access. FastAPI's default page loads them from a public CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"


def install(app: FastAPI, *, openapi_url: str) -> None:
    """Serve the page at ``/docs`` and Swagger UI's files under ``/docs/assets``."""
    app.mount(ASSETS_URL, StaticFiles(directory=Path(swagger_ui_path)), name="swagger-ui")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
        )
