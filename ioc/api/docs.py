"""`/docs` (Swagger UI) and `/redoc` that work on a closed network.

FastAPI's own pages load Swagger UI, ReDoc, their CSS, a favicon and Google fonts from
CDNs, so in an operations room without internet access `/docs` is a blank page. Here the
same pages are served with every asset from this process: the JavaScript and CSS come
from the PyPI package `fastapi-offline` (Swagger UI 5 and ReDoc 2 bundles, MIT,
maintained), mounted under `/docs-assets`; nothing is copied into this repository.

Only the package's static files are used, not its `FastAPIOffline()` factory, because
`create_app` builds its FastAPI itself; the app must be created with `docs_url=None,
redoc_url=None` so that FastAPI's CDN pages do not answer first.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"

# The pages may load nothing from elsewhere. ReDoc's side menu always shows the Redocly
# logo from its CDN (it hides it when the image fails); this policy keeps the browser
# from even asking. Both pages start themselves with an inline script, and ReDoc runs
# its search in a worker made from a blob.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    )
)


def assets_dir() -> Path:
    """Where the installed `fastapi-offline` keeps Swagger UI's and ReDoc's files."""
    path = Path(str(resources.files("fastapi_offline") / "static"))
    if not (path / "swagger-ui-bundle.js").is_file():  # pragma: no cover - a broken install
        raise RuntimeError(f"fastapi-offline's assets are missing from {path}; reinstall it")
    return path


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` and `/redoc` from local assets (the app has docs_url=None)."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the app with docs_url=None, redoc_url=None")
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = base(request)
        return _local_only(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                # No badge that asks validator.swagger.io about the schema.
                swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
            )
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = base(request)
        return _local_only(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
