"""The interactive API reference at /docs: Swagger UI over /openapi.json, served from the
assets the flask-swagger-ui package ships (no CDN), with a strict Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Flask, Response, send_from_directory

ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
SERVED = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CRM suite API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    persistAuthorization: false
  });
};
"""
# Scripts and styles from this origin only; Swagger UI sets inline styles and data: images.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def register(app: Flask) -> None:
    def page(body: str, mimetype: str) -> Response:
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Security-Policy"] = DOCS_CSP
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/docs")
    def docs_page() -> Response:
        return page(PAGE, "text/html")

    @app.get("/docs/init.js")
    def docs_init() -> Response:
        return page(INIT, "text/javascript")

    @app.get("/docs/assets/<name>")
    def docs_asset(name: str) -> Response:
        if name not in SERVED:
            from gateway.errors import ApiError

            raise ApiError(404, f"no route for /docs/assets/{name}")
        response = send_from_directory(ASSETS, name, max_age=86400)
        response.headers["Content-Security-Policy"] = DOCS_CSP
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response
