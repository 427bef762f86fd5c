"""The guide kiosk: guide format, session engine, settings, sync client, QR handoff, the `kiosk` command."""

__version__ = "0.1.0"
