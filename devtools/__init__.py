"""Tools for developers and tests, not for production: the simulated dashboard history, the
dashboard screenshot tour, and the helpers that start a real server on loopback and wait for it.
Anything may be imported here; no production package (contract, kiosk, screens, offline_cache,
server) imports devtools."""
