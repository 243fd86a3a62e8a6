"""An interactive API reference served by the gateway itself, from its own OpenAPI document."""

from __future__ import annotations

import re

import requests


def test_the_reference_page_loads_swagger_ui_from_the_gateway_and_points_at_openapi_json(partner):
    page = requests.get(partner.base + "/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), "no asset from another origin"
    for path in re.findall(r"(?:src|href)=\"(/docs/[^\"]+)\"", page.text):
        asset = requests.get(partner.base + path, timeout=5)
        assert asset.status_code == 200, path
        assert len(asset.content) > 0
    init = requests.get(partner.base + "/docs/init.js", timeout=5).text
    assert 'url: "/openapi.json"' in init
    bundle = requests.get(partner.base + "/docs/assets/swagger-ui-bundle.js", timeout=5)
    assert "SwaggerUIBundle" in bundle.text and "javascript" in bundle.headers["Content-Type"]
    spec = requests.get(partner.base + "/openapi.json", timeout=5).json()
    assert spec["openapi"] == "3.1.0" and "/v1/apiKeys" in spec["paths"]


def test_only_the_listed_assets_are_served(partner):
    for path in ("/docs/assets/index.html", "/docs/assets/..%2f..%2fapp.py", "/docs/assets/VERSION"):
        response = requests.get(partner.base + path, timeout=5)
        assert response.status_code == 404
        assert response.json()["error"]["status"] == "NOT_FOUND"
