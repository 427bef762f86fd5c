"""What a device may ask about itself. A kiosk learns its device name from its token here, so the
name it stamps on its events is the one the server accepts (a name kept from a generated kiosk.toml
once sent every event to the rejected table)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from server.deps import DeviceDep
from server.routes import API

router = APIRouter(prefix=API, tags=["devices"])


class DeviceInfo(BaseModel):
    name: str
    location: str | None


@router.get("/device", response_model=DeviceInfo,
            responses={401: {"description": "unknown or revoked device token"}})
def this_device(device: DeviceDep) -> DeviceInfo:
    return DeviceInfo(name=device.name, location=device.location)
