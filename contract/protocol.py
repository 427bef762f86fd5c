"""The kiosk–server protocol version (shared/DESIGN.md, "Mixed fleets keep working").

Every kiosk request carries it in PROTOCOL_HEADER. A request without the header is a kiosk of the
release before the header existed (protocol 1), and the server keeps answering it as it did.
Bump PROTOCOL_VERSION when the kiosk starts relying on something the previous server lacks, and
keep the previous protocol served.
"""

from __future__ import annotations

from contract.params import BadValue, whole_number

PROTOCOL_HEADER = "X-Kiosk-Protocol"
PROTOCOL_VERSION = 4  # 2: the header itself, GET /api/v1/device, rejected_events in the heartbeat
# 3: QR links may carry their signed issue time (t=), which the previous server cannot verify
# 4: GET /api/v1/content/delta/{since}: the signed delta from the content version a kiosk has
LINK_TIME_PROTOCOL = 3  # a kiosk stamps its QR links with a time only once its server speaks this
DELTA_PROTOCOL = 4  # a kiosk asks for deltas only once its server speaks this
# 4: event batches and heartbeats may be sent with Content-Encoding: gzip
GZIP_PROTOCOL = 4  # a kiosk compresses its batches only once its server's replies announce this
OLDEST_SUPPORTED = 1


def parse_version(value: str | None) -> int | None:
    """The protocol a request speaks: 1 when it sent no header, None when the header is garbage."""
    if value is None:
        return 1
    try:
        return whole_number(value.strip(), 1, 1000)
    except BadValue:
        return None


def server_protocol(value: str | None) -> int | None:
    """The protocol a server's reply announces in PROTOCOL_HEADER; None when it sent none (a server
    of the release before the header) or garbage."""
    return None if value is None else parse_version(value)
