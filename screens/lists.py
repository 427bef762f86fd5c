"""Lists that can grow (a category's guides, search results, staff lists): a RecycleView, so only
the rows on screen exist as widgets, whatever the list's length (issue 16: a category of 2,500
guides once built 2,500 buttons, froze the screen for seconds and kept a gigabyte).

A list is a list of plain dicts, one a row: `VirtualList.show(rows)`. A row is a button
(`ListRow`, a KButton: the theme's big target, its icon, its shaping for the script, high contrast
and large text all follow) unless it names `viewclass: "ListNote"` (a line of muted text). A
button's dict holds what a KButton is given (`raw`, `probe_id`, `icon`, `selected`, `primary`,
`font_size`, `base_halign`) and `action`, called with no argument when it is released.

Rows size themselves as a KButton does (the theme's button height, taller when the text wraps);
the list's layout learns each size when the row is first shown. In a right-to-left language the
scroll bar and the room kept for it move to the left; each row mirrors itself (widgets.kv).

Audio mode (screens/focus.py) sees only the rows on screen, as a person does: moving the focus
past the last one asks `step_from(row, +1)` for the next row, which scrolls it into view first.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty
from kivy.uix.recycleboxlayout import RecycleBoxLayout
from kivy.uix.recycleview import RecycleView
from kivy.uix.recycleview.views import RecycleDataViewBehavior

from screens.widgets import KButton, MutedLabel

# what a recycled row is given when its dict does not say: nothing of the row it showed before stays
_BUTTON_DEFAULTS = {"raw": "", "probe_id": "", "icon": "", "selected": None, "primary": False,
                    "base_halign": "left", "action": None}
_NOTE_DEFAULTS = {"raw": ""}


class _SelfSizing(RecycleDataViewBehavior):
    """A row that knows its own height once it has its width (the KButton / KLabel kv rules), and
    tells the list's layout when that differs from what the layout gave it."""

    index = NumericProperty(-1)
    recycled_row = True  # focus.py: the same widget may show another row after a scroll
    _defaults: ClassVar[dict] = {}

    def refresh_view_attrs(self, rv, index, data):
        self.index = index
        values = dict(self._defaults)
        values.update(data)
        values.pop("viewclass", None)
        if "font_size" not in values:
            # back to the kv rule's size (a staff list sets a smaller one)
            values["font_size"] = self._default_font_size()
        super().refresh_view_attrs(rv, index, values)

    def refresh_view_layout(self, rv, index, layout, viewport):
        super().refresh_view_layout(rv, index, layout, viewport)
        self.texture_update()  # now, for this width and this text: the height follows from it
        wanted = self.wanted_height()
        if abs(wanted - self.height) > 0.5:
            self.height = wanted  # the layout hears the change and places the rows below anew

    def _default_font_size(self) -> float:
        return App.get_running_app().theme.font_body


class ListRow(_SelfSizing, KButton):
    """A row that is a button: `action()` on release."""

    action = ObjectProperty(None, allownone=True)
    _defaults: ClassVar[dict] = _BUTTON_DEFAULTS

    def _default_font_size(self) -> float:
        return App.get_running_app().theme.font_button

    def wanted_height(self) -> float:
        theme = App.get_running_app().theme
        return max(theme.button_height, self.texture_size[1] + theme.mm * 2)

    def on_release(self):
        if self.action is not None:
            self.action()


class ListNote(_SelfSizing, MutedLabel):
    """A row that is a line of muted text ("Try another word, or pick a category:")."""

    _defaults: ClassVar[dict] = _NOTE_DEFAULTS

    def wanted_height(self) -> float:
        return max(self.texture_size[1], App.get_running_app().theme.mm * 2)


class ListLayout(RecycleBoxLayout):
    """The rows, top to bottom."""


class VirtualList(RecycleView):
    """A scrolling list of rows (see the module's words); `content_height` is the rows' whole
    height, so a layout can size the list to what it holds (portrait home)."""

    content_height = NumericProperty(0)
    empty = BooleanProperty(True)
    layout = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.layout = ListLayout()
        self.layout.fbind("height", lambda *_: setattr(self, "content_height", self.layout.height))
        self.add_widget(self.layout)

    def show(self, rows: list[dict]) -> None:
        """Replace the rows and show the top. The rows' widgets are made (or reused) for the rows on
        screen only, in this frame."""
        self.data = rows
        self.empty = not rows
        self.scroll_y = 1
        self.refresh_from_data()
        self.refresh_views()  # now, not on the next frame: a probe or a key never sees the old rows

    def clear(self) -> None:
        self.show([])

    def update_rows(self, change) -> None:
        """Call `change(row)` on each row's dict (a chosen folder lit, say) and redraw what shows."""
        for row in self.data:
            change(row)
        self.refresh_from_data()

    # --- for the focus (screens/focus.py) ------------------------------------------------------------

    def views(self) -> dict[int, object]:
        """{row index: its widget} of the rows that have one now (those on screen)."""
        manager = self.layout_manager
        return {index: view for view, index in (manager.view_indices.items() if manager else ())}

    def step_from(self, view, step: int):
        """The widget of the row `step` rows from `view`'s row, scrolled into view first; None past
        either end of the list."""
        index = self.views_index(view)
        if index is None:
            return None
        target = index + step
        if not 0 <= target < len(self.data):
            return None
        return self.view_at(target)

    def views_index(self, view) -> int | None:
        manager = self.layout_manager
        return manager.view_indices.get(view) if manager else None

    def view_at(self, index: int):
        """The widget of row `index`, the list scrolled (no animation) so that all of it shows."""
        view = self.views().get(index)
        if view is None or not self._fully_shown(view):
            self._scroll_to_row(index)
            view = self.views().get(index)
        return view

    def _fully_shown(self, view) -> bool:
        bottom = self.scroll_y * max(0.0, self.layout.height - self.height)  # the viewport, in the layout's terms
        y = view.y - self.layout.y
        return y >= bottom - 0.5 and y + view.height <= bottom + self.height + 0.5

    def _scroll_to_row(self, index: int) -> None:
        manager = self.layout_manager
        self.refresh_views()
        opts = manager.view_opts
        if index >= len(opts) or opts[index] is None:
            return
        y = opts[index]["pos"][1] - manager.y  # the row's bottom, in the layout's own coordinates
        height = opts[index]["size"][1]
        gap = App.get_running_app().theme.gap
        scrollable = self.layout.height - self.height
        if scrollable <= 0:
            return
        # the viewport's bottom, in the layout's coordinates, is scroll_y * scrollable
        bottom = self.scroll_y * scrollable
        if y - gap < bottom:  # below the viewport: bring it up to the bottom edge
            bottom = y - gap
        elif y + height + gap > bottom + self.height:  # above: bring it down to the top edge
            bottom = y + height + gap - self.height
        self.scroll_y = max(0.0, min(1.0, bottom / scrollable))
        self.refresh_from_viewport()
        self.refresh_views()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
