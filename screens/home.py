"""Home: the language picker, category tiles, popular guides, and search as you type on the
on-screen keyboard, with a "no results" state that still offers the categories."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, OptionProperty, StringProperty

from kiosk.i18n import NATIVE_NAMES
from screens.background import LatestOnly
from screens.keyboard import OnScreenKeyboard  # noqa: F401 (home.kv draws it)
from screens.lists import VirtualList  # noqa: F401 (home.kv draws it)
from screens.widgets import KButton, KioskScreen, LanguageButton

# A search with no results is recorded once the customer has stopped typing for this long.
NO_RESULT_PAUSE = 1.5


class CategoryTile(KButton):
    """A category on home: half as tall again in portrait, which has the room (home.kv)."""


class HomeScreen(KioskScreen):
    mode = OptionProperty("browse", options=["browse", "search", "category"])
    query = StringProperty("")
    composing = StringProperty("")  # pinyin letters on the keyboard, not yet a character
    category_name = StringProperty("")
    keyboard_open = BooleanProperty(False)
    hits = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Every rebuild of the lists goes through one trigger, so it happens at most once per
        # frame: two rebuilds of the same ScrollView within a frame left it drawn empty.
        self._rebuild_trigger = Clock.create_trigger(self._rebuild, -1)
        self._search_trigger = Clock.create_trigger(lambda *_: self._rebuild_trigger(), 0.05)
        self._chrome_dirty = True
        self._record_trigger = Clock.create_trigger(self._record_no_results, NO_RESULT_PAUSE)
        self._recorded: set[str] = set()
        # The search runs off the UI thread, newest query only: a keystroke never waits for the
        # search of the one before (a large library, a slow disk), and its results are drawn on
        # the clock once they come, unless the traveller has typed on since.
        self._searches = LatestOnly("search")

    # --- lifecycle ---------------------------------------------------------------------------

    def on_activate(self) -> None:
        self.refresh()

    def on_deactivate(self) -> None:
        self._record_trigger.cancel()

    def reset(self) -> None:
        """A new customer: no query, no category, keyboard closed."""
        self.query = ""
        self.mode = "browse"
        self.keyboard_open = False
        self.category_name = ""
        self._recorded.clear()
        # The last customer's results go too, now, not at the next rebuild: the screenshot tour,
        # which starts a session and types within one frame, showed German results under the
        # next customer's Arabic query until that query's own search came back.
        self._searches.cancel()
        self.hits = []
        self.suggestion = None
        if "results" in self.ids:
            self.ids.list_title.raw = ""
            self.ids.results.clear()
        if "keyboard" in self.ids:
            self.ids.keyboard.reset()

    def refresh(self) -> None:
        self._chrome_dirty = True
        self._rebuild_trigger()

    def _rebuild(self, *_):
        app = App.get_running_app()
        if self._chrome_dirty:
            self._chrome_dirty = False
            self._fill_languages(app)
            self._fill_categories(app)
        if self.mode == "search":
            self._run_search()
        elif self.mode == "category":
            self._fill_category(app, self._category_id)
        else:
            self._fill_popular(app)

    # --- filling -------------------------------------------------------------------------------

    def _fill_languages(self, app) -> None:
        box = self.ids.languages
        box.clear_widgets()
        for code in app.languages:
            box.add_widget(LanguageButton(raw=NATIVE_NAMES.get(code, code), code=code, probe_id=f"lang:{code}",
                                          on_release=lambda _b, c=code: app.set_language(c)))

    def _fill_categories(self, app) -> None:
        grid = self.ids.categories
        grid.clear_widgets()
        for cat in app.categories():
            grid.add_widget(CategoryTile(raw=cat.name, probe_id=f"category:{cat.id}", icon=cat.icon or "",
                                         on_release=lambda _b, c=cat: self.show_category(c.id, c.name)))

    def _guide_rows(self, app, items: list[tuple[str, str]], via: str, lang: str | None = None) -> list[dict]:
        """The rows of a list of guides (screens/lists.py): plain dicts, made for thousands at once;
        the buttons exist only for the rows on screen. A guide not written in this language shows in
        its own, tagged with that language's name; ShapedText aligns and shapes the title for its
        own script, not the screen's."""
        icons = app.store.guide_icons()  # one dict for the whole list, not a query a row
        rows = []
        for gid, title in items:
            own = app.untranslated_language(gid, lang)
            rows.append({"raw": f"{title} \u00b7 {NATIVE_NAMES.get(own, own)}" if own else title,
                         "probe_id": f"guide:{gid}", "icon": icons.get(gid, ""),
                         "action": partial(self.open_guide, gid, via)})
        return rows

    def _category_rows(self, app) -> list[dict]:
        return [{"raw": cat.name, "probe_id": f"category:{cat.id}", "icon": cat.icon or "", "base_halign": "center",
                 "action": partial(self.show_category, cat.id, cat.name)} for cat in app.categories()]

    def _fill_list(self, title: str, items: list[tuple[str, str]], via: str, extra: list[dict] = ()) -> None:
        self.ids.list_title.raw = title
        self._show_rows(self._guide_rows(App.get_running_app(), items, via) + list(extra))

    def _show_rows(self, rows: list[dict]) -> None:
        """Show these rows from the top, laid out now: waiting for the layout trigger sometimes left
        a rebuilt list unplaced (seen with Arabic titles while typing fast)."""
        self.ids.results.show(rows)

    def _fill_popular(self, app) -> None:
        self._fill_list(app.t("Popular guides"), [(g.id, g.title) for g in app.popular_guides()], "popular")

    _category_id = ""

    def _fill_category(self, app, category_id: str) -> None:
        """The category's guides, read and made into rows off the UI thread (a category can hold
        thousands: the read alone took 40 ms of 2,500), drawn once they come unless the traveller
        has moved on; the list is empty meanwhile, under the category's name."""
        self.ids.list_title.raw = self.category_name
        self.ids.results.clear()
        lang = app.lang

        def rows() -> list[dict]:
            guides = app.guides_in(category_id, lang)
            return self._guide_rows(app, [(g.id, g.title) for g in guides], "category", lang)

        def show(made: list[dict]) -> None:
            if self.mode == "category" and self._category_id == category_id and app.lang == lang:
                self._show_rows(made)

        self._searches.submit(rows, show)

    # --- actions -------------------------------------------------------------------------------

    def show_category(self, category_id: str, name: str) -> None:
        self._category_id = category_id
        self.category_name = name
        self.mode = "category"
        self.keyboard_open = False
        self._rebuild_trigger()

    def show_browse(self) -> None:
        self.mode = "browse"
        self.query = ""
        self.keyboard_open = False
        self.ids.keyboard.clear()
        self._rebuild_trigger()

    def open_search(self) -> None:
        self.keyboard_open = True
        self.mode = "search"
        self._rebuild_trigger()

    def on_key(self, char: str) -> None:
        """Text from the on-screen keyboard (a letter, a word from the pinyin bar, "" when only
        the composition changed) or "\\b" to delete one character."""
        if char == "\b":
            self.query = self.query[:-1]
        elif char:
            self.query = (self.query + char)[:60]
        self.mode = "search"
        self._search_trigger()

    def on_keyboard_action(self, action: str) -> None:
        """Search: the results now, with the keyboard out of their way; Hide: the keyboard only
        (tapping the search field brings it back)."""
        self.keyboard_open = False
        if action == "enter":
            self._search_trigger.cancel()
            self.mode = "search"
            self._rebuild_trigger()

    def set_composing(self, letters: str) -> None:
        self.composing = letters
        if self.keyboard_open:
            self.mode = "search"
            self._search_trigger()

    def typed(self) -> str:
        """What the search runs on: the field's text, pinyin letters being composed included."""
        return (self.query + self.composing).strip()

    def clear_query(self) -> None:
        self.query = ""
        self.ids.keyboard.clear()
        self._search_trigger()

    def _run_search(self):
        app = App.get_running_app()
        text = self.typed()
        self._record_trigger.cancel()
        if not text:
            self._searches.cancel()
            self.hits = []
            self.ids.list_title.raw = app.t("Type what you need help with")
            self.ids.results.clear()
            return
        lang = app.lang
        self._searches.submit(lambda: app.search_results(text, lang),
                              lambda results: self._show_results(text, lang, results))

    def _show_results(self, text: str, lang: str, results) -> None:
        """The results of the newest search, on the UI thread; dropped if the screen moved on."""
        app = App.get_running_app()
        if self.mode != "search" or self.typed() != text or app.lang != lang:
            return
        hits = results.hits
        self.hits = [(h.guide_id, h.title) for h in hits]
        self.suggestion = results.suggestion
        if hits and results.suggestion:
            # Only a correction found these: say what was searched for, and let a tap take it.
            take = {"raw": app.t("Search for \u201c{query}\u201d").format(query=results.suggestion),
                    "probe_id": "did-you-mean", "base_halign": "center", "action": self.take_suggestion}
            self._fill_list(app.t("Did you mean \u201c{query}\u201d?").format(query=results.suggestion),
                            list(self.hits), "search", extra=[take])
            self._record_trigger()
        elif hits:
            self._fill_list(app.t("Results for \u201c{query}\u201d").format(query=text),
                            list(self.hits), "search")
        else:
            self.ids.list_title.raw = app.t("No guides match \u201c{query}\u201d").format(query=text)
            self._show_rows([{"viewclass": "ListNote", "raw": app.t("Try another word, or pick a category:")},
                             *self._category_rows(app)])
            self._record_trigger()

    def _record_no_results(self, *_):
        text = self.typed()
        if text and not self.hits and text not in self._recorded:
            self._recorded.add(text)
            App.get_running_app().record_search(text, 0)
        elif text and self.suggestion and text not in self._recorded:
            # "Did you mean" shown and the traveller paused: offered, not (yet) taken.
            self._recorded.add(text)
            App.get_running_app().record_search(text, 0, suggestion=self.suggestion,
                                                suggestion_hits=len(self.hits))

    suggestion: str | None = None

    def take_suggestion(self) -> None:
        """"Did you mean X?" tapped: recorded as taken, and X becomes the query."""
        App.get_running_app().record_search(self.typed(), 0, suggestion=self.suggestion,
                                            suggestion_hits=len(self.hits), suggestion_taken=True)
        if self.suggestion:
            self.ids.keyboard.clear()  # pinyin letters being composed are part of what it replaces
            self.query = self.suggestion
        self._recorded.add(self.query)
        self._search_trigger()

    def open_guide(self, guide_id: str, via: str) -> None:
        app = App.get_running_app()
        if via == "search" and self.typed():
            if self.suggestion:  # the hits came from the correction: opening one takes it
                app.record_search(self.typed(), 0, suggestion=self.suggestion,
                                  suggestion_hits=len(self.hits), suggestion_taken=True)
            else:
                app.record_search(self.typed(), len(self.hits))
        app.open_guide(guide_id, via)

    def on_keyboard_open(self, *_):
        pass


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
