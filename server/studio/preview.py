"""The studio's preview of a step as customers see it (docs/studio.md, "Preview").

The phone: the mobile continue page's own template (server/templates/step.html, as server.mobile
draws it), filled from the draft, in a frame of a phone's size; its answers lead to the preview
of the next step. The kiosk: an approximation in HTML, drawn from the kiosk's own numbers
(contract/theme.py: its palettes, its sizes in millimetres on a 23.8-inch panel, the step
screen's proportions) at half the panel's pixels; it is labelled as approximate on the page. The
exact picture is the kiosk's (`kiosk screenshots`, Kivy), which a server never imports.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from contract import theme
from contract.guides import pick

ORIENTATIONS = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
SCALE = 0.5  # the preview's CSS pixels per panel pixel
# The step screen's bar (screens/step.kv StepBar), in the kiosk's English: its words are the
# kiosk's own translations, which the server does not carry.
BAR = ("Back", "Start over", "Home", "Read aloud", "Continue on your phone", "Accessibility")
# The mobile page's frame: a common phone's CSS viewport.
PHONE = {"portrait": (390, 844), "landscape": (844, 390)}


def kiosk_css() -> str:
    """The stylesheet of the kiosk preview, every number from contract.theme."""
    mm = theme.px_per_mm(ORIENTATIONS["landscape"], theme.DEFAULT_DIAGONAL_IN) * SCALE

    def size(value_mm: float) -> str:
        return f"{value_mm * mm:.2f}px"

    def palette(name: str) -> str:
        return "".join(f"--k-{key}: {value};" for key, value in theme.PALETTES[name].items())

    w, h = ORIENTATIONS["landscape"]
    rules = [
        (f".kiosk {{ {palette('normal')} background: var(--k-bg); color: var(--k-fg); box-sizing: border-box;"
        f" padding: {size(theme.PAD_MM)}; display: flex; flex-direction: column; gap: {size(theme.GAP_MM)};"
        f" font-family: 'Noto Sans', 'Noto Sans CJK SC', 'Noto Sans Arabic', sans-serif; overflow: hidden;"
        f" border: 3px solid #1b1f24; border-radius: 6px; line-height: 1.25; }}"),
        f".kiosk.contrast {{ {palette('contrast')} }}",
        f".kiosk.landscape {{ width: {w * SCALE:.0f}px; height: {h * SCALE:.0f}px; }}",
        f".kiosk.portrait {{ width: {h * SCALE:.0f}px; height: {w * SCALE:.0f}px; }}",
        (f".kiosk .k-head {{ display: flex; justify-content: space-between; gap: {size(theme.GAP_MM)};"
        f" color: var(--k-muted); font-size: {size(theme.font_mm('title'))};"
        f" padding-inline-end: {size(max(0.0, theme.STAFF_CORNER_MM - theme.PAD_MM))}; margin: 0; }}"),
        f".kiosk .k-count {{ font-size: {size(theme.font_mm('body'))}; white-space: nowrap; }}",
        f".kiosk .k-body {{ flex: 1; display: flex; gap: {size(2 * theme.GAP_MM)}; min-height: 0; }}",
        ".kiosk.portrait .k-body { flex-direction: column; justify-content: space-between; }",
        (f".kiosk .k-text {{ flex: 0 0 {theme.STEP_TEXT_SHARE_LANDSCAPE * 100:.0f}%; overflow: hidden;"
        f" display: flex; flex-direction: column; gap: {size(theme.GAP_MM)}; }}"),
        ".kiosk.portrait .k-text { flex: 0 1 auto; max-height: 50%; }",
        (f".kiosk .k-text p {{ margin: 0; font-weight: bold; font-size: {size(theme.font_mm('headline'))};"
        " overflow-wrap: anywhere; }"),
        (f".kiosk .k-img {{ height: {size(theme.STEP_IMAGE_MM['landscape'])}; max-width: 100%; object-fit: contain;"
        " align-self: flex-start; }"),
        f".kiosk.portrait .k-img {{ height: {size(theme.STEP_IMAGE_MM['portrait'])}; }}",
        (f".kiosk .k-choices {{ flex: 1; display: flex; flex-direction: column; gap: {size(theme.GAP_MM)};"
        " list-style: none; margin: 0; padding: 0; overflow: hidden; }"),
        ".kiosk.portrait .k-choices { flex: 0 1 auto; }",
        (f".kiosk .k-choice {{ display: flex; align-items: center; justify-content: center; text-align: center;"
        f" min-height: {size(theme.TARGET_MM)}; background: var(--k-accent); color: var(--k-accent_fg);"
        f" border: {size(theme.BORDER_MM[0])} solid var(--k-outline); font-size: {size(theme.font_mm('button'))};"
        f" text-decoration: none; padding: 0 {size(theme.GAP_MM)}; overflow-wrap: anywhere; }}"),
        f".kiosk.portrait .k-choice {{ min-height: {size(theme.TARGET_MM * theme.CHOICE_PORTRAIT_SCALE)}; }}",
        (f".kiosk .k-choice:focus-visible {{ outline: {size(theme.SELECTED_BORDER_MM)} solid var(--k-fg);"
        " outline-offset: 2px; }"),
        f".kiosk .k-outcome {{ font-size: {size(theme.font_mm('title'))}; color: var(--k-fg); margin: 0; }}",
        (f".kiosk .k-bar {{ display: grid; grid-template-columns: 1fr 1fr 1fr 1fr 1.5fr 1.2fr;"
        f" gap: {size(theme.GAP_MM)}; list-style: none; margin: 0; padding: 0; }}"),
        ".kiosk.portrait .k-bar { grid-template-columns: 1fr 1fr 1fr; }",
        (f".kiosk .k-bar li {{ display: flex; align-items: center; justify-content: center; text-align: center;"
        f" min-height: {size(theme.TARGET_MM)}; background: var(--k-button); color: var(--k-button_fg);"
        f" border: {size(theme.BORDER_MM[0])} solid var(--k-outline); font-size: {size(theme.font_mm('button'))}; }}"),
        f".kiosk.portrait .k-bar li {{ font-size: {size(theme.font_mm('small'))}; }}",
    ]
    rules += [f"iframe.phone.{name} {{ width: {w}px; height: {h}px; border: 3px solid #1b1f24; border-radius: 12px; }}"
              for name, (w, h) in PHONE.items()]
    return "\n".join(rules) + "\n"


def steps_before(doc: dict[str, Any], step_id: str) -> int:
    """How many steps a customer met before this one on the shortest way from the start (for the
    kiosk's "Step N" line); 0 when it cannot be reached."""
    steps = doc.get("steps") or {}
    seen, frontier, depth = {doc.get("start")}, [doc.get("start")], 0
    while frontier:
        if step_id in frontier:
            return depth
        nxt = []
        for sid in frontier:
            for c in (steps.get(sid) or {}).get("choices") or []:
                if c.get("next") in steps and c["next"] not in seen:
                    seen.add(c["next"])
                    nxt.append(c["next"])
        frontier, depth = nxt, depth + 1
    return 0


def step_view(doc: dict[str, Any], step_id: str, lang: str, link) -> dict[str, Any]:
    """What both previews show of one step in `lang` (falling back to the guide's default
    language, as kiosks and phones do): texts, answers each with its preview link, outcome."""
    default = doc.get("language") or "en"
    step = (doc.get("steps") or {}).get(step_id) or {}

    def text(value: Any) -> str:
        return pick(value, lang, default) if isinstance(value, dict) and value else ""

    choices = []
    for c in step.get("choices") or []:
        target = c.get("next")
        href = link(target) if target in (doc.get("steps") or {}) else None
        label = text(c.get("label")) or "(no label)"
        choices.append({"label": label + (f" → guide {c['guide']}" if c.get("guide") else ""), "href": href})
    return {"title": text(doc.get("title")) or str(doc.get("id")), "text": text(step.get("text")) or "(no text yet)",
            "alt": text(step.get("image_alt")), "choices": choices, "end": step.get("end"),
            "number": steps_before(doc, step_id) + 1}


def query(step: str, lang: str, orientation: str, contrast: bool = False) -> str:
    return urlencode({"step": step, "lang": lang, "orientation": orientation, **({"contrast": "1"} if contrast else {})})
