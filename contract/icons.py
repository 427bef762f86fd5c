"""The pictograms a library may name (`icon: baggage` on a guide or a `_library.yaml` category):
the one list that validation, the kiosk's drawing (screens/widgets.py IconLabel) and the build
script (scripts/build-icons) read.

Each name maps to the Google Material Symbols glyph drawn for it (Apache-2.0; the package, its
version and the licence: screens/icons/LICENSE and docs/ui.md). The names are this project's, in
the words an airport or a mall uses, so a library never depends on the font's own naming. Adding a
name is a new entry here and a run of scripts/build-icons; renaming or removing one would make
published libraries invalid, so names are only ever added.
"""

from __future__ import annotations

import difflib
from typing import Any

# name -> Material Symbols glyph. Airports (ISO 7001 style), malls, and what the guides are about.
ICONS: dict[str, str] = {
    "accessible": "accessible",
    "arrivals": "flight_land",
    "atm": "local_atm",
    "baby-change": "baby_changing_station",
    "baggage": "luggage",
    "baggage-claim": "conveyor_belt",
    "bus": "directions_bus",
    "cafe": "local_cafe",
    "car-rental": "car_rental",
    "charging": "battery_charging_full",
    "connection": "connecting_airports",
    "credit-card": "credit_card",
    "currency-exchange": "currency_exchange",
    "departures": "flight_takeoff",
    "directions": "directions",
    "elevator": "elevator",
    "escalator": "escalator",
    "family-toilet": "family_restroom",
    "flight": "flight",
    "gift": "redeem",
    "help": "help",
    "help-desk": "support_agent",
    "hotel": "hotel",
    "info": "info",
    "liquids": "water_drop",
    "lockers": "lock",
    "lost-found": "manage_search",
    "mail": "mail",
    "map": "map",
    "medical": "medical_services",
    "meeting-point": "groups",
    "no-smoking": "smoke_free",
    "parking": "local_parking",
    "passport": "passport",
    "payment": "payments",
    "pharmacy": "local_pharmacy",
    "phone": "call",
    "prayer-room": "mosque",
    "receipt": "receipt_long",
    "restaurant": "restaurant",
    "schedule": "schedule",
    "security": "security",
    "shop": "storefront",
    "shopping": "shopping_bag",
    "smoking": "smoking_rooms",
    "stairs": "stairs",
    "taxi": "local_taxi",
    "ticket": "airplane_ticket",
    "toilets": "wc",
    "train": "train",
    "translate": "translate",
    "wifi": "wifi",
}

# Pictograms that point a way: drawn mirrored in a right-to-left language (shared/STYLE.md,
# "icons that point flip too"). Every other icon keeps its drawing.
DIRECTIONAL: frozenset[str] = frozenset({"directions"})


def icon_problem(value: Any, what: str = "icon") -> str | None:
    """Why `value` is not an icon a kiosk can draw, or None: a plain sentence naming the nearest
    known names (a misspelling), else every known name."""
    if not isinstance(value, str) or not value.strip():
        return f"{what} must be the name of a shipped icon, like baggage or toilets"
    if value in ICONS:
        return None
    shown = value if len(value) <= 40 else value[:39] + "\u2026"
    near = difflib.get_close_matches(value.strip().lower().replace("_", "-"), ICONS, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(near)}?" if near else f"known: {', '.join(sorted(ICONS))}"
    return f"{what} '{shown}' is not a shipped icon; {hint}"
