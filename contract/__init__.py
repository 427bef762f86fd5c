"""What the kiosk and the server must agree on, defined once: the guide model, YAML reading and
validation, bundles, the event schema and comment scrubbing, handoff URLs, canonical JSON for
signatures, the language table, the heartbeat and the protocol version.

No Kivy and no FastAPI here: both the kiosk core and the server depend on this package, and on
nothing of each other.
"""
