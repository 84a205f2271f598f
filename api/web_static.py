"""The dashboard's static files beside the API in `lake serve`: `/` the app, `/v1/...` the API.

The app is built from `web/` by npm (`make web`: `npm ci && npm run build` into `web/dist`, not
committed). `/config.json` tells it how to sign in (locally: a pasted `lake token`, or the token
`lake serve --open` hands over in the URL fragment) and where the API is. In AWS the same build
is served from S3 behind CloudFront (infra/web.py) with a Cognito config.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
DIST_ENV = "LAKE_WEB_DIST"
# The app loads only its own scripts and styles and talks only to its own origin (the API is
# /v1 on the same origin locally and behind the same CloudFront distribution in AWS); the
# Cognito token endpoint is added in AWS (infra/web.py).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'{extra}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
NOT_BUILT = ("<!DOCTYPE html><title>dashboard not built</title><h1>The dashboard is not built</h1>"
             "<p>Build it once with <code>make web</code> (runs <code>npm ci &amp;&amp; npm run build</code> in "
             "<code>web/</code>; needs Node.js 20.19+), then reload. The API is at <a href=\"/v1/docs\">/v1/docs</a>."
             "</p>")


def dist_dir() -> Path:
    """Where the built app is: $LAKE_WEB_DIST, else web/dist of this checkout."""
    return Path(os.environ.get(DIST_ENV) or WEB_DIR / "dist")


def mount_dashboard(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the built app at `/` (after the API's routes, so `/v1/...` stays the API's)."""
    dist = dist or dist_dir()
    index = dist / "index.html"
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY.format(extra=""), "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        if not index.exists():
            return HTMLResponse(NOT_BUILT, status_code=503)
        return FileResponse(index, headers=headers)

    @app.get("/config.json", include_in_schema=False)
    def config() -> Response:
        return Response(json.dumps({"auth": "local", "api": "/v1"}), media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    app.mount("/assets", StaticFiles(directory=dist / "assets", check_dir=False), name="dashboard-assets")
