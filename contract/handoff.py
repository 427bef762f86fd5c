"""QR handoff: a short URL that lets a customer carry the guide they are in on to their phone.

The URL names the kiosk, the guide, its version, the current step, the path of choices so far, the
(random, not personal) session id, the language and the time the link was made (`t`, unix seconds
by the kiosk's clock, so the server can let it expire), and carries an HMAC so a phone cannot be
sent to a made-up step or given a newer time. The kiosk signs with its handoff key, which the server
also holds for that device, so it needs no network to make one: the phone brings its own.

A link from a kiosk built before links expired has no `t`; it is signed as before ("v1"), and the
server decides how long it still accepts those (server setting phone_legacy_links_until).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from contract.params import BadValue, whole_number

SIG_BYTES = 16
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass(frozen=True)
class Handoff:
    device: str
    guide: str
    version: int
    step: str
    path: tuple[int, ...]
    session: str
    lang: str
    issued: int | None = None  # unix seconds when the link was made (the signer's clock); None: a v1 link


def handoff_key(token: str) -> bytes:
    """The device's signing key, derived from its token: the server computes it once when the
    device is added and keeps it; the kiosk derives it from the token in its config."""
    return hmac.new(token.encode(), b"guide-kiosk handoff v1", hashlib.sha256).digest()


def _message(h: Handoff) -> bytes:
    path = ".".join(map(str, h.path))
    fields = f"{h.device}|{h.guide}|{h.version}|{h.step}|{path}|{h.session}|{h.lang}"
    return (f"v1|{fields}" if h.issued is None else f"v2|{fields}|{h.issued}").encode()


def query(h: Handoff, signature: str) -> str:
    """The link's query string: path, session, language, signature and (when set) issue time."""
    path = ".".join(map(str, h.path)) or "-"
    issued = "" if h.issued is None else f"&t={h.issued}"
    return f"p={path}&s={h.session}&l={h.lang}&k={signature}{issued}"


def sign(h: Handoff, key: bytes) -> str:
    mac = hmac.new(key, _message(h), hashlib.sha256).digest()[:SIG_BYTES]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_url(base_url: str, h: Handoff, key: bytes) -> str:
    return (f"{base_url.rstrip('/')}/c/{quote(h.device)}/{h.guide}/{h.version}/{quote(h.step)}"
            f"?{query(h, sign(h, key))}")


class BadHandoff(ValueError):
    """The URL is malformed or its signature does not match."""


def parse_url(url: str) -> tuple[Handoff, str]:
    """Split a handoff URL into its fields and signature (not yet verified)."""
    parts = urlsplit(url)
    segs = parts.path.strip("/").split("/")
    if len(segs) < 5 or segs[-5] != "c":
        raise BadHandoff("not a handoff link")
    _, device, guide, version, step = segs[-5:]
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parse_fields(device, guide, version, step, q.get("p", ""), q.get("s", ""), q.get("l", ""), q.get("k", ""),
                        t=q.get("t", ""))


def parse_fields(device: str, guide: str, version: str, step: str, p: str, s: str, lang: str,
                 k: str, t: str = "") -> tuple[Handoff, str]:
    for value in (device, guide, step, s, lang, k):
        if not _SAFE.match(value or ""):
            raise BadHandoff("malformed link")
    try:  # ASCII digits only: "²" passes str.isdigit() and then int() refuses it
        number = whole_number(version, 1, 2**31 - 1)
        issued = whole_number(t, 0, 10**12 - 1) if t else None
    except BadValue:
        raise BadHandoff("malformed link") from None
    if p in ("", "-"):
        path: tuple[int, ...] = ()
    else:
        if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){0,199}", p):
            raise BadHandoff("malformed link")
        path = tuple(int(x) for x in p.split("."))
    return Handoff(device, guide, number, step, path, s, lang, issued), k


def verify(h: Handoff, signature: str, key: bytes) -> bool:
    return hmac.compare_digest(sign(h, key), signature)
