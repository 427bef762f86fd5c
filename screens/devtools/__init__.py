"""Tools for tests and people, never used by a kiosk in service: the UI tests' probe, their slow
search and the screenshot tour. kiosk/cli.py attaches them (`kiosk run` with KIOSK_TEST_PROBE or
KIOSK_TEST_SEARCH_GATE set, `kiosk screenshots`); the App itself never imports this package."""
