"""Whether this kiosk can offer "Continue on your phone", and the signed link its QR code holds.

A handoff link is only worth showing when a server will open it: it must point at the server's
public address (`public_url`, else `server_url`) and be signed with the key the server derived
from this device's token. A kiosk with no token or no address offers no handoff at all, rather
than a QR code no server can open. A configured kiosk that is offline still offers it: the link
is made without the network, and the phone brings its own. The link carries the time it was made,
so the server lets it expire (by the server's clock, corrected with this kiosk's clock offset) -
once the server has said, at a sync, that it speaks the protocol that reads that time: the previous
release's server would refuse a link carrying it (shared/DESIGN.md, "Mixed fleets keep working").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from contract.handoff import Handoff, handoff_key, make_url
from contract.protocol import LINK_TIME_PROTOCOL
from kiosk.engine import Position
from kiosk.settings import Settings


class HandoffUnavailable(Exception):
    """This kiosk has no device token or no public server address, so no server could open a link."""


def public_address(settings: Settings) -> str:
    """The server's address as a phone reaches it ('' when none is configured)."""
    return (settings.public_url or settings.server_url).strip()


class HandoffLinks:
    """Reads the settings at each call, so a device name or token set after start is used."""

    def __init__(self, settings: Settings, server_protocol: Callable[[], int | None] = lambda: None):
        self.settings = settings
        self.server_protocol = server_protocol  # what the server announced at the last sync

    @property
    def available(self) -> bool:
        return bool(self.settings.token and public_address(self.settings))

    def url_for(self, position: Position, session: str, lang: str) -> str:
        if not self.available:
            raise HandoffUnavailable("no device token or no public server address: no server could open a handoff")
        handoff = Handoff(device=self.settings.device, guide=position.guide_id, version=position.guide_version,
                          step=position.step_id, path=position.path, session=session, lang=lang,
                          issued=int(time.time()) if self._server_reads_link_time() else None)
        return make_url(public_address(self.settings), handoff, handoff_key(self.settings.token))

    def _server_reads_link_time(self) -> bool:
        """The link's time is this kiosk's clock (the server corrects it with the kiosk's offset)."""
        return (self.server_protocol() or 1) >= LINK_TIME_PROTOCOL
