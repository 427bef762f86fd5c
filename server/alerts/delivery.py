"""Where alerts go besides the dashboard: e-mail over SMTP (smtplib: STARTTLS or TLS, and a login)
and a webhook (JSON that Slack's incoming webhooks take: {"text": ...}, plus the alert's fields for
anything else that reads it). Each channel that is configured gets every message; what happened
is returned per channel, in words, and never includes the SMTP password or the webhook's URL."""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

from server.config import Config

log = logging.getLogger(__name__)
TIMEOUT = 20  # seconds per channel: a dead relay must not hold the next round for long


@dataclass(frozen=True)
class Message:
    """One alert's opening or resolution, as the channels send it."""

    event: str  # "opened" | "resolved" | "test"
    kind: str
    title: str  # the kind in words
    subject: str
    sentence: str
    link: str  # an absolute URL when public_url is set, else the path
    at: str  # when, in the site's time zone

    @property
    def headline(self) -> str:
        prefix = {"opened": "Alert", "resolved": "Resolved", "test": "Test"}[self.event]
        return f"[{prefix}] {self.title}: {self.subject}"

    def text(self) -> str:
        done = " (resolved)" if self.event == "resolved" else ""
        return f"{self.headline}\n{self.sentence}{done}\n{self.at}\n{self.link}"

    def json(self) -> dict:
        return {"text": self.text(), "alert": {"event": self.event, "kind": self.kind, "title": self.title,
                                               "subject": self.subject, "sentence": self.sentence,
                                               "link": self.link, "at": self.at}}


def full_link(config: Config, path: str) -> str:
    return config.public_url.rstrip("/") + path if config.public_url else path


def channels(config: Config) -> list[str]:
    """The configured channels' names."""
    return [name for name, on in (("e-mail", bool(config.smtp_host)), ("webhook", bool(config.webhook_url))) if on]


def send(config: Config, message: Message) -> dict[str, str]:
    """Send to every configured channel: {channel: "sent ..." or "failed: ..."}."""
    out = {}
    if config.smtp_host:
        out["e-mail"] = _try(send_email, config, message)
    if config.webhook_url:
        out["webhook"] = _try(send_webhook, config, message)
    return out


def _try(channel, config: Config, message: Message) -> str:
    try:
        return channel(config, message)
    except (OSError, smtplib.SMTPException, ssl.SSLError, ValueError) as exc:
        log.warning("alert %s not delivered by %s: %s", message.headline, channel.__name__, exc)
        return f"failed: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the SMTP server refused the login ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the SMTP server said {exc.smtp_code} {exc.smtp_error.decode(errors='replace')[:200]}"
    if isinstance(exc, urllib.error.HTTPError):
        return f"the webhook answered HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"the webhook cannot be reached: {exc.reason}"
    return str(exc)[:300] or type(exc).__name__


def succeeded(results: dict[str, str]) -> bool:
    return any(r.startswith("sent") for r in results.values())


def _tls_context(config: Config) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.smtp_ca_file or None)


def send_email(config: Config, message: Message) -> str:
    mail = EmailMessage()
    mail["Subject"] = message.headline
    mail["From"] = config.alert_from
    mail["To"] = ", ".join(config.alert_recipients)
    mail.set_content(message.text() + "\n\n-- \nGuide kiosk server alerts (docs/alerts.md)\n")
    if config.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=TIMEOUT,
                                              context=_tls_context(config))
    else:
        smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT)
    with smtp:
        if config.smtp_security == "starttls":
            smtp.starttls(context=_tls_context(config))
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password)
        refused = smtp.send_message(mail)
    to = [a for a in config.alert_recipients if a not in refused]
    return f"sent to {', '.join(to)}" + (f"; refused by the server for {', '.join(refused)}" if refused else "")


def send_webhook(config: Config, message: Message) -> str:
    if not config.webhook_url.startswith(("https://", "http://")):
        raise ValueError("webhook_url must start with https:// or http://")
    request = urllib.request.Request(config.webhook_url, data=json.dumps(message.json()).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "guide-kiosk-server alerts"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
        return f"sent (HTTP {reply.status})"
