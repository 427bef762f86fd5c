"""Guide step: the step's text and image, its choices as large buttons, Back, Start over, Home,
read aloud, and "Continue on your phone". Outcome steps go to the outcome screen instead."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from screens.widgets import Grid, KButton, KioskScreen


class StepBar(Grid):
    """The bar under a step and an outcome (one row; two rows of three in portrait). A button this
    kiosk cannot offer is left out of the row, so the others share its width: Read aloud without espeak-ng, and Continue on your phone
    on a kiosk no server knows (no token or no public address, kiosk/handoff.py)."""

    def on_kv_post(self, _base_widget):
        app = App.get_running_app()
        for button, offered in ((self.ids.speak, app.can_speak), (self.ids.handoff, app.can_hand_off)):
            if not offered:
                self.remove_widget(button)


class GuideProgress(Widget):
    """A bar: how far through the guide (StepView.progress), filled from the reading side."""

    value = NumericProperty(0.0)


class ChoiceButton(KButton):
    """An answer: the primary target of a step (taller in portrait, where there is room)."""


class StepScreen(KioskScreen):
    view = ObjectProperty(None, allownone=True)  # kiosk.engine.StepView
    step_count = StringProperty("")
    icon = StringProperty("")  # the guide's pictogram beside its title, "" for none

    def show(self, view) -> None:
        app = App.get_running_app()
        self.view = view
        self.heading = view.guide_title
        self.icon = app.guide_icon(view.guide_id)
        self.step_count = app.t("Step {n}").format(n=view.depth)
        self.ids.progress.value = view.progress
        self.ids.text.raw = view.text
        self.ids.image.show(app.image_for(view), view.image_alt)
        box = self.ids.choices
        box.clear_widgets()
        for index, label in enumerate(view.choices):
            box.add_widget(ChoiceButton(raw=label, probe_id=f"choice:{index}",
                                   on_release=lambda _b, i=index: app.choose(i)))
        box.do_layout()  # placed now, not on a trigger (see HomeScreen._settle)
        self.ids.text_scroll.scroll_y = 1
        self.ids.choice_scroll.scroll_y = 1

    def refresh(self) -> None:
        app = App.get_running_app()
        if app.engine.position is not None and self.view is not None:
            self.show(app.engine.current())


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
