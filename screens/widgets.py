"""Widgets every screen shares: text that shapes itself for its script, large buttons (the
on-screen keyboard is screens/keyboard.py), the PIN pad, a step image, the QR code and the base screen class."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from kivy.app import App
from kivy.core.image import Image as CoreImage
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from contract.guides import image_kind
from contract.icons import DIRECTIONAL, ICONS
from contract.images import ImageRefused, header_size
from kiosk.i18n import font_runs, is_rtl_text, mark_font_runs, wrap_rtl
from screens.theme import FONT_FOR_SCRIPT, font_for

log = logging.getLogger(__name__)

_measurers: dict[tuple[str, float, bool], CoreLabel] = {}


def line_width(font_name: str, font_size: float, bold: bool):
    """How wide a shaped line is drawn: its Arabic runs in `font_name`, its ASCII runs in the Latin
    font (as mark_font_runs draws them), in the label's weight. Measured any other way (regular for
    a bold label, the Arabic font's digits for the Latin font's) a line can come out wider than
    its box, and Kivy's own wrapping of the reordered line puts its last words on top."""
    def core(name: str) -> CoreLabel:
        key = (name, round(font_size, 1), bold)
        if key not in _measurers:
            _measurers[key] = CoreLabel(font_name=name, font_size=font_size, bold=bold)
        return _measurers[key]

    fonts = {"arabic": core(font_name), "latin": core(FONT_FOR_SCRIPT["latin"])}
    return lambda visual: sum(fonts[script].get_extents(run)[0] for script, run in font_runs(visual))


class ShapedText:
    """Set `raw` (the logical text); the widget picks the font that can draw it and, for Arabic,
    joins the letters, wraps and lays the lines out right to left, aligned right."""

    raw = StringProperty("")
    probe_id = StringProperty("")  # names the widget in the UI tests' probe file
    base_halign = OptionProperty("left", options=["left", "center", "right", "justify"])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # at once, never on a clock trigger: a probe or a test must never see stale text, and a
        # line broken for the old width or font size would be wrapped again by Kivy itself, which
        # (the line being reordered already) puts its last words on top
        for name in ("raw", "text_size", "font_size", "bold", "padding"):
            self.fbind(name, self._reshape)
        self._reshape()

    def _reshape(self, *_):
        raw = self.raw
        self.font_name = font_for(raw)
        if is_rtl_text(raw):
            self.halign = "right" if self.base_halign == "left" else self.base_halign
            width = self.text_size[0] if self.text_size and self.text_size[0] else 0
            pad = self.padding[0] + self.padding[2] if len(self.padding) == 4 else 0
            visual = wrap_rtl(raw, max(0, (width or 0) - pad - 4), line_width(self.font_name, self.font_size, self.bold))
            # The Arabic font has no Latin letters and no ASCII punctuation such as ( ) or "; any
            # ASCII run is drawn in the Latin font, or it would show as empty boxes.
            if any(ch.isascii() and ch.isprintable() and not ch.isspace() for ch in visual):
                self.markup = True
                self.text = mark_font_runs(visual, FONT_FOR_SCRIPT["latin"])
            else:
                self.markup = False
                self.text = visual
        else:
            self.halign = self.base_halign
            self.markup = False
            self.text = raw


class KLabel(ShapedText, Label):
    pass


ICON_DIR = Path(__file__).with_name("icons")  # scripts/build-icons renders them from contract/icons.py
_icon_textures: dict[str, Texture | None] = {}


def icon_texture(name: str) -> Texture | None:
    """The pictogram `name` as a texture (white on transparent, tinted where it is drawn), read
    once; None for a name the kiosk does not ship (validation refuses those, so only a store
    filled by an older validator can hold one: the button then shows its text alone)."""
    if name not in _icon_textures:
        path = ICON_DIR / f"{name}.png"
        texture = None
        if name in ICONS and path.is_file():
            texture = CoreImage(str(path), mipmap=True).texture
        else:
            log.warning("no icon named %r is shipped; drawn without it", name)
        _icon_textures[name] = texture
    return _icon_textures[name]


class IconLabel(Widget):
    """A pictogram (contract/icons.py) in the colour of the text beside it, `icon_size` square (mm
    from the theme), so it follows the modes as text does. It is never mirrored in a right-to-left
    language unless it points a way (contract.icons.DIRECTIONAL; `mirrored` is set in widgets.kv)."""

    name = StringProperty("")
    color = ListProperty([0, 0, 0, 1])
    texture = ObjectProperty(None, allownone=True)
    directional = BooleanProperty(False)
    mirrored = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # drawn here, not in kv: a Rectangle given a texture takes the texture's corners (an
        # image's are flipped upright), and only then may they be swapped for a mirrored one
        with self.canvas:
            self._tint = Color(0, 0, 0, 0)
            self._rect = Rectangle()
        for name in ("pos", "x", "y", "size", "color", "texture", "mirrored"):
            self.fbind(name, self._redraw)
        self._redraw()

    def on_name(self, *_):
        self.texture = icon_texture(self.name) if self.name else None
        self.directional = self.name in DIRECTIONAL

    def _redraw(self, *_):
        texture = self.texture
        self._tint.rgba = self.color if texture else (0, 0, 0, 0)
        self._rect.pos, self._rect.size = self.pos, self.size
        if texture is None:
            self._rect.texture = None
            return
        self._rect.texture = texture
        u0, v0, u1, v1, u2, v2, u3, v3 = texture.tex_coords  # bottom-left, -right, top-right, -left
        self._rect.tex_coords = (u1, v1, u0, v0, u3, v3, u2, v2) if self.mirrored else texture.tex_coords


class KButton(ShapedText, Button):
    """A large touch target, with a pictogram at its reading side's start when `icon` names one."""

    primary = BooleanProperty(False)  # the strong target of its screen, drawn filled
    # a control that is chosen or not (a switch, the chosen language, a given star): True or False,
    # drawn as a shape (widgets.kv) and said as its state in audio mode ("selected"); None for a
    # plain button
    selected = ObjectProperty(None, allownone=True)
    icon = StringProperty("")  # a name from contract/icons.py; "" for none
    icon_widget = ObjectProperty(None, allownone=True)
    # where the icon's left edge goes: the reading side's start, 3 mm in (widgets.kv; a kv rule,
    # so the language's direction is followed without the theme holding on to every button)
    icon_x = NumericProperty(0)

    def __init__(self, **kwargs):
        icon = kwargs.pop("icon", "")  # set once the widget has its canvas, which the icon joins
        super().__init__(**kwargs)
        self.icon = icon

    def on_icon(self, *_):
        if self.icon and self.icon_widget is None:
            icon = IconLabel()
            self.add_widget(icon)
            # a Button does not lay out children: the icon follows the button (x, not pos: a
            # mirrored layout moves its children by x, which pos observers do not hear), its text
            # colour (normal, pressed, every mode) and the side the kv rule computes (icon_x)
            for name in ("x", "y", "width", "height", "color", "icon_x"):
                self.fbind(name, self._place_icon)
            icon.fbind("size", self._place_icon)
            self.icon_widget = icon
        if self.icon_widget is not None:
            self.icon_widget.name = self.icon
            self._place_icon()

    def _place_icon(self, *_):
        icon = self.icon_widget
        icon.color = self.color
        icon.pos = self.icon_x, self.center_y - icon.height / 2


class MutedLabel(KLabel):
    """Secondary text, in the theme's muted colour (a kv rule, so it follows a theme switch)."""


class LanguageButton(KButton):
    """A language by its own name; the customer's language is drawn selected."""

    code = StringProperty("")


class AccessButton(KButton):
    """"Accessibility": low on every screen (the attract loop too), it opens the AccessPanel."""

    def on_release(self):
        AccessPanel().open(animation=False)


class AccessPanel(ModalView):
    """Larger text, High contrast and Lower layout, each a switch that shows whether it is on,
    along the bottom of the screen, where a seated person reaches them (EN 301 549 §8.3)."""


class Mirrored:
    """A layout that mirrors its children in a right-to-left language (app.theme.rtl): each child's
    box is placed at the same distance from the right edge as it would have from the left, so a
    row runs right to left, and nested rows mirror in turn. Every screen is built from these
    (`Box`, `Grid` in the .kv files), so a screen is written once, in reading order."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        app = App.get_running_app()
        if app is not None and getattr(app, "theme", None) is not None:
            app.theme.fbind("rtl", self._trigger_layout)

    def do_layout(self, *args, **kwargs):
        super().do_layout(*args, **kwargs)
        app = App.get_running_app()
        if app is not None and getattr(app, "theme", None) is not None and app.theme.rtl:
            for child in self.children:
                child.x = 2 * self.x + self.width - child.x - child.width


class Box(Mirrored, BoxLayout):
    """A BoxLayout, mirrored in right-to-left languages."""


class Grid(Mirrored, GridLayout):
    """A GridLayout, mirrored in right-to-left languages."""


class Spacer(Widget):
    pass


class Hideable(Box):
    """A box that can step aside: when `shown` is False it takes no room, draws nothing and lets
    every touch through. (Kivy's `disabled` would swallow touches, even on children that overflow
    a zero-height box, and cover the controls beneath.)"""

    shown = BooleanProperty(True)
    full_height = ObjectProperty(None, allownone=True)  # the height when shown; None: size_hint

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch):
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch):
        return super().on_touch_up(touch) if self.shown else False


class StepImage(Widget):
    """An image from the store's bytes (PNG or JPEG), decoded in memory: no temp files."""

    texture = ObjectProperty(None, allownone=True)
    alt = StringProperty("")  # the guide's image_alt in the customer's language: what audio mode says

    def show(self, data: bytes | None, alt: str = "") -> None:
        self.texture = None
        self.alt = alt
        if not data:
            return
        try:
            # Every image was decoded where its library entered; the header check here keeps a
            # store filled before those checks from decoding a bomb (at most 4096x4096, 64 MB).
            header_size(data)
        except ImageRefused as exc:
            log.warning("a step image was not shown: it %s", exc)
            return
        try:
            self.texture = CoreImage(io.BytesIO(data), ext=image_kind(data) or "png").texture
        except Exception:  # a broken image must not take the step with it
            log.exception("could not decode a step image")


class QRCode(Widget):
    """A QR code as a texture: one texel per module, scaled with nearest-neighbour filtering so it
    stays sharp at any size (as Electrum's qrcodewidget does). No Pillow, no image file."""

    data = StringProperty("")
    texture = ObjectProperty(None, allownone=True)
    modules = ObjectProperty(0)

    def on_data(self, *_):
        if not self.data:
            self.texture = None
            return
        import qrcode
        from qrcode.constants import ERROR_CORRECT_M

        qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
        qr.add_data(self.data)
        qr.make(fit=True)
        matrix = qr.get_matrix()  # includes the quiet zone
        n = len(matrix)
        dark, light = b"\x00\x00\x00\xff", b"\xff\xff\xff\xff"
        # GL textures start at the bottom row
        buf = b"".join(dark if cell else light for row in reversed(matrix) for cell in row)
        tex = Texture.create(size=(n, n), colorfmt="rgba")
        tex.mag_filter = "nearest"
        tex.min_filter = "nearest"
        tex.blit_buffer(buf, colorfmt="rgba", bufferfmt="ubyte")
        self.modules = n
        self.texture = tex


class KeyButton(KButton):
    value = StringProperty("")


class PinKey(KeyButton):
    """A key of the staff PIN pad: a big target (the pad is used standing, often in a hurry)."""

    masked_entry = True  # audio mode names the key when focused, never again when pressed


class NumberPad(GridLayout):
    """A large 0-9 pad for the staff PIN."""

    key_handler = ObjectProperty(None)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.build_keys()
        App.get_running_app().fbind("lang", lambda *_: self.build_keys())

    def build_keys(self):
        self.clear_widgets()
        app = App.get_running_app()
        for value in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "\b", "0", "\n"]:
            label = {"\b": app.t("Delete"), "\n": app.t("OK")}.get(value, value)
            pid = {"\b": "pin:delete", "\n": "pin:ok"}.get(value, f"pin:{value}")
            self.add_widget(PinKey(raw=label, value=value, probe_id=pid, on_release=self._press))

    def _press(self, button):
        if self.key_handler:
            self.key_handler(button.value)


class KioskScreen(Screen):
    """The common frame: a heading, and in the reach layout an empty top third. Screens override
    on_activate / on_deactivate (called by the App when they come and go)."""

    heading = StringProperty("")

    def on_activate(self) -> None:
        pass

    def on_deactivate(self) -> None:
        pass

    def refresh(self) -> None:
        """Redraw for a new language or new content."""


class IdleOverlay(ModalView):
    """"Are you still there?": big text, a bar that runs down with the countdown, "More time" and
    "End now" (screens/idle.py runs it)."""

    remaining = ObjectProperty(0)
    fraction = NumericProperty(1.0)  # of the countdown left, for the bar


Builder.load_file(str(Path(__file__).with_name("widgets.kv")))
