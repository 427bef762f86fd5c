"""Which device this kiosk is: the server says, from its token.

A device's token names its device on the server, and the server refuses every event stamped with
another name. kiosk.toml's `device` is only a guess made when the data dir was created (host name
plus random digits), so `kiosk run --server URL --token TOKEN` on a fresh data dir used to send
every event under a name the server did not know, and they all went to the rejected table without
a word. Before a kiosk with a server and a token starts syncing, it asks GET /api/v1/device once
per token and remembers the answer in the store's sync_state (key 'device_identity': the token's
sha256 and the name, never the token itself), so later starts need no network. It also remembers
the name the kiosk had used until then, so the events it recorded before it knew better are sent
under the confirmed name instead of being refused.

What the server answers decides what happens:
  the device's name    use it for this process and remember it
  401/403              refuse to start: nothing this kiosk records would be accepted
  404                  a server of the release before the endpoint: keep the configured name
  no answer            refuse to start, unless a name was confirmed for this token before
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

from offline_cache.store import Store

if TYPE_CHECKING:  # the transport (requests) only when the server is really asked: `kiosk status`
    from kiosk.transport import DeviceInfo  # reads the confirmed name and starts faster without it

log = logging.getLogger("kiosk.identity")

STATE_KEY = "device_identity"
CONFIRM_TIMEOUT = (5.0, 10.0)  # (connect, read) seconds: the kiosk's start waits on this


class IdentityRefused(Exception):
    """The kiosk must not start with this server and token; str() is the sentence for the operator."""


class DeviceLookup(Protocol):
    def fetch_device(self) -> DeviceInfo | None: ...


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def confirmed_name(settings: Any, store: Store) -> str | None:
    """The name the server confirmed for the configured token, if it did (no network)."""
    remembered = store.get_state(STATE_KEY)
    if not settings.token or not isinstance(remembered, dict):
        return None
    if remembered.get("token_sha256") != token_digest(settings.token):
        return None
    return remembered.get("name") or None


def names_recorded_before(settings: Any, store: Store) -> frozenset[str]:
    """The device name this kiosk's events carry from before the server confirmed its name (the
    one kiosk.toml was created with): sync sends them under the confirmed name. Only that one
    name: an event of any other device is not this kiosk's to relabel."""
    remembered = store.get_state(STATE_KEY)
    if confirmed_name(settings, store) is None or not remembered.get("recorded_as"):
        return frozenset()
    return frozenset({remembered["recorded_as"]})


def confirm_device_name(settings: Any, store: Store, transport: DeviceLookup | None = None) -> str:
    """Set settings.device to the name the server gives this token and return it. Does nothing for
    a kiosk without a server or a token (it syncs with nobody). Raises IdentityRefused."""
    if not settings.server_url or not settings.token:
        return settings.device
    remembered = confirmed_name(settings, store)
    if remembered:
        settings.device = remembered
        return remembered
    from kiosk.transport import AuthError, HttpTransport, TransportError

    owned = transport is None
    if owned:
        transport = HttpTransport(settings.server_url, settings.token, settings.data_path,
                                  timeout=CONFIRM_TIMEOUT)
    try:
        info = transport.fetch_device()
    except AuthError as exc:
        raise IdentityRefused(
            f"The server at {settings.server_url} does not know this token; issue one with "
            "`kiosk-server device add NAME` or `kiosk-server device rotate NAME`.") from exc
    except TransportError as exc:
        raise IdentityRefused(
            f"The server at {settings.server_url} could not be asked which device this token belongs "
            f"to ({exc}), and this kiosk has not confirmed its name before; without it the server "
            "would refuse every event it records. Start it again once the server is reachable.") from exc
    finally:
        if owned:
            transport.close()
    if info is None:
        log.warning("the server at %s does not say which device a token belongs to (a release before "
                    "GET /api/v1/device); keeping the configured device name %r", settings.server_url,
                    settings.device)
        return settings.device
    if info.name != settings.device:
        log.warning("this kiosk's token belongs to device %r on the server; using that name instead of "
                    "the configured %r", info.name, settings.device)
    state = {"token_sha256": token_digest(settings.token), "name": info.name}
    if info.name != settings.device and settings.device:
        state["recorded_as"] = settings.device  # this kiosk's events from before it knew its name
    store.set_state(STATE_KEY, state)
    settings.device = info.name
    return info.name
