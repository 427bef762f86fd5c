"""Content for the kiosks: the server's public key, the signed manifest, guide documents, images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from contract.guides import GUIDE_ID
from server import publish
from server.content import IMMUTABLE, image_response, manifest_response
from server.deps import ContextDep, DeviceDep
from server.params import MAX_INT, whole
from server.routes import API
from server.signing import public_key_b64

router = APIRouter(prefix=API, tags=["content"])


class ServerKey(BaseModel):
    algorithm: str
    public_key: str


@router.get("/server-key", response_model=ServerKey)
def server_key(ctx: ContextDep) -> ServerKey:
    return ServerKey(algorithm="ed25519", public_key=public_key_b64(ctx.signing_key))


@router.get("/content/manifest",
            responses={200: {"description": "the signed manifest"}, 304: {"description": "unchanged"},
                       404: {"description": "nothing published yet"}})
def manifest(request: Request, device: DeviceDep) -> Response:
    return manifest_response(request, device)


@router.get("/content/delta/{since}",
            responses={200: {"description": "the signed delta from `since`, or the full signed manifest "
                                            "when no delta from it can be made"},
                       304: {"description": "unchanged"}, 404: {"description": "nothing published yet"}})
def delta(request: Request, device: DeviceDep,
          since: Annotated[int, PathParam(ge=1, le=MAX_INT), whole(1, MAX_INT, "the content version")],
          epoch: Annotated[int, Query(ge=0, le=MAX_INT), whole(0, MAX_INT, "the epoch")] = 0) -> Response:
    """Protocol 4 (docs/api.md): what changed since content version `since`, which the kiosk has
    with epoch `epoch`."""
    return manifest_response(request, device, since, epoch)


@router.get("/content/guides/{guide_id}/{version}",
            responses={200: {"description": "the guide's canonical JSON", "content": {"application/json": {}}}})
def guide(ctx: ContextDep, device: DeviceDep,
          guide_id: Annotated[str, PathParam(max_length=80, pattern=GUIDE_ID.pattern)],
          version: Annotated[int, PathParam(ge=1, le=MAX_INT), whole(1, MAX_INT, "the version")]) -> Response:
    body = publish.guide_document(ctx.engine, guide_id, version)
    if body is None:
        return JSONResponse({"detail": f"no guide '{guide_id}' version {version}"}, status_code=404)
    return Response(body, media_type="application/json", headers={"Cache-Control": IMMUTABLE})


@router.get("/content/images/{sha256}",
            responses={200: {"description": "the image bytes"}, 206: {"description": "a byte range"}})
def image(request: Request, device: DeviceDep, sha256: Annotated[str, PathParam(max_length=64)]) -> Response:
    """An image of a published content version (a kiosk fetches those its manifest names); one only
    in a studio draft is not served."""
    return image_response(request, sha256, published_only=True)
