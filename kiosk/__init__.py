"""The kiosk core (no Kivy): session engine, settings, sync client, status, the `kiosk` command."""

__version__ = "0.1.0"
