"""/docs: the OpenAPI browser, from a vendored Swagger UI (server/static/swagger-ui, pinned in its
VERSION file) instead of FastAPI's default, which loads it from a CDN and shows a blank page on a
server with no internet. ReDoc, FastAPI's second browser, is switched off rather than vendored twice;
/openapi.json is the machine-readable contract either way."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from server.dashboard.render import SERVER_DIR

ASSETS_DIR = SERVER_DIR / "static" / "swagger-ui"
# Only these files are served: the route takes a name, never a path.
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
ASSETS_URL = "/static/swagger-ui"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Guide kiosk server — API",
                               swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                               swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
                               # Swagger UI would ask validator.swagger.io about the spec: no call out
                               swagger_ui_parameters={"validatorUrl": None})


@router.get(ASSETS_URL + "/{name}")
def swagger_asset(name: str) -> FileResponse:
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(404, "no such file")
    return FileResponse(ASSETS_DIR / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400"})
