"""The studio's edits of one guide document (the library-format mapping a guide file reads as), as
plain functions over a copy of it: the JSON API (autosave) and the pages' forms (no JavaScript)
both turn what they received into one of these operations, so there is one meaning of each edit.

An edit never judges the result: contract.validation does that after every edit (server.drafts),
and what is wrong is shown on its step. An edit only refuses what has no meaning at all (a step
that does not exist, an id that is not an id).
"""

from __future__ import annotations

import copy
from typing import Any

from contract.guides import GUIDE_ID, LANGUAGE, OUTCOMES, STEP_ID


class EditRefused(ValueError):
    """An edit that means nothing for this document, in a sentence."""


def blank_guide(guide_id: str, title: str, language: str = "en") -> dict[str, Any]:
    """A new guide from scratch: a title, one question step with no answers yet (which the live
    check reports until the author adds answers or an outcome)."""
    if not GUIDE_ID.match(guide_id or ""):
        raise EditRefused("A guide id is lower-case letters, digits and dashes, starting with a letter or digit.")
    if not LANGUAGE.match(language or ""):
        raise EditRefused("The default language is a code like en or es.")
    return {"id": guide_id, "language": language, "title": {language: title.strip()},
            "category": {language: "General"}, "keywords": {}, "start": "start",
            "steps": {"start": {"text": {language: ""}}}}


def copy_guide(source: dict[str, Any], guide_id: str) -> dict[str, Any]:
    if not GUIDE_ID.match(guide_id or ""):
        raise EditRefused("A guide id is lower-case letters, digits and dashes, starting with a letter or digit.")
    doc = copy.deepcopy(source)
    doc["id"] = guide_id
    return doc


def _texts(value: Any) -> dict[str, str]:
    """Per-language text as sent: empty ones are dropped (a missing translation, not an empty one)."""
    if not isinstance(value, dict):
        raise EditRefused("A text is given per language, like {\"en\": \"...\"}.")
    out = {}
    for lang, text in value.items():
        if not isinstance(lang, str) or not LANGUAGE.match(lang):
            raise EditRefused(f"'{lang}' is not a language code like en or pt-BR.")
        if not isinstance(text, str):
            raise EditRefused("A text is words, not a number or a list.")
        if text.strip():
            out[lang] = text
    return out


def _step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    steps = doc.setdefault("steps", {})
    if step_id not in steps:
        raise EditRefused(f"There is no step '{step_id}' in this guide.")
    return steps[step_id]


def _choice(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise EditRefused("An answer has a label per language and a next step or another guide.")
    label = _texts(raw.get("label") or {})
    out: dict[str, Any] = {"label": label}
    if raw.get("guide"):
        out["guide"] = str(raw["guide"])
    else:
        out["next"] = str(raw.get("next") or "")
    return out


def set_step(doc: dict[str, Any], step_id: str, text: Any, end: Any = None, choices: Any = (),
             image: Any = None, image_alt: Any = None) -> str:
    """Replace one step's texts, outcome, answers, image (a path the guide's image map or the
    library's images know: server.studio.images) and the image's words per language (image_alt,
    kept only with an image). Returns what changed, in words."""
    step = _step(doc, step_id)
    step["text"] = _texts(text)
    if end not in (None, "", *OUTCOMES):
        raise EditRefused("An outcome is resolved or escalate.")
    new_choices = [_choice(c) for c in choices or []]
    alt = _texts(image_alt or {})
    for key in ("end", "choices", "image", "image_alt"):
        step.pop(key, None)
    if end:
        step["end"] = end
    if new_choices:
        step["choices"] = new_choices
    if image:
        step["image"] = str(image)
        if alt:
            step["image_alt"] = alt
    return f"step '{step_id}'"


def set_image(doc: dict[str, Any], step_id: str, image: Any = None) -> str:
    """Only the step's image (an upload, or one picked from the library); its words are kept
    while it has an image."""
    step = _step(doc, step_id)
    if image:
        step["image"] = str(image)
    else:
        step.pop("image", None)
        step.pop("image_alt", None)
    return f"step '{step_id}': image {image or 'removed'}"


def add_step(doc: dict[str, Any], step_id: str, language: str | None = None) -> str:
    if not isinstance(step_id, str) or not STEP_ID.match(step_id):
        raise EditRefused("A step id is letters, digits, dashes or underscores, starting with a letter or digit.")
    steps = doc.setdefault("steps", {})
    if step_id in steps:
        raise EditRefused(f"The guide already has a step '{step_id}'.")
    steps[step_id] = {"text": {language or doc.get("language") or "en": ""}}
    return f"added step '{step_id}'"


def delete_step(doc: dict[str, Any], step_id: str) -> str:
    _step(doc, step_id)
    del doc["steps"][step_id]
    return f"deleted step '{step_id}'"


def move_step(doc: dict[str, Any], step_id: str, by: int) -> str:
    """Move a step up (by < 0) or down in the guide's list of steps (the order the file lists them)."""
    _step(doc, step_id)
    order = list(doc["steps"])
    at = order.index(step_id)
    to = max(0, min(len(order) - 1, at + (1 if by > 0 else -1)))
    order.insert(to, order.pop(at))
    doc["steps"] = {sid: doc["steps"][sid] for sid in order}
    return f"moved step '{step_id}' {'down' if by > 0 else 'up'}"


def set_guide(doc: dict[str, Any], title: Any = None, category: Any = None, start: Any = None,
              language: Any = None, help: Any = None, icon: Any = None) -> str:
    """The guide's own fields: title, category and help (where a person who can help is found)
    per language, the start step, the default language, the icon (a name of contract/icons.py;
    "" removes it; the live check names one it does not know)."""
    if icon is not None:
        if not isinstance(icon, str):
            raise EditRefused("An icon is given by its name, like baggage.")
        doc.pop("icon", None)
        if icon.strip():
            doc["icon"] = icon.strip()
    if title is not None:
        doc["title"] = _texts(title)
    if help is not None:
        doc.pop("help", None)
        if said := _texts(help):
            doc["help"] = said
    if category is not None:
        doc["category"] = _texts(category)
    if start:
        doc["start"] = str(start)
    if language:
        if not LANGUAGE.match(str(language)):
            raise EditRefused("The default language is a code like en or es.")
        doc["language"] = str(language)
    return "the guide's title, category, help, icon and start"


OPERATIONS = {"set_step": set_step, "set_image": set_image, "add_step": add_step, "delete_step": delete_step, "move_step": move_step,
              "set_guide": set_guide}


def apply(doc: dict[str, Any], op: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A changed copy of `doc` and what changed, for one operation {"op": name, ...arguments}."""
    name = op.get("op")
    if name not in OPERATIONS:
        raise EditRefused(f"Unknown edit '{name}' (known: {', '.join(OPERATIONS)}).")
    args = {k: v for k, v in op.items() if k != "op"}
    if "step" in args:
        args["step_id"] = args.pop("step")
    changed = copy.deepcopy(doc)
    try:
        said = OPERATIONS[name](changed, **args)
    except TypeError as exc:
        raise EditRefused(f"The edit '{name}' was sent with the wrong fields ({exc}).") from None
    return changed, said
