"""Window and input set-up: a full-screen, cursor-less window on the whole X screen. Everything
here must run before kivy.core.window is first imported."""

from __future__ import annotations

import os

from kivy.config import Config

from kiosk.settings import Settings


def x11_screen_size() -> tuple[int, int] | None:
    """The X screen's size in pixels, or None when there is no X display (e.g. Wayland)."""
    import ctypes
    import ctypes.util

    if not os.environ.get("DISPLAY"):
        return None
    name = ctypes.util.find_library("X11")
    if not name:
        return None
    try:
        x11 = ctypes.cdll.LoadLibrary(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in (x11.XDefaultScreen, x11.XCloseDisplay):
            fn.argtypes = [ctypes.c_void_p]
        x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        display = x11.XOpenDisplay(None)
        if not display:
            return None
        screen = x11.XDefaultScreen(display)
        size = x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen)
        x11.XCloseDisplay(display)
        return size
    except (OSError, AttributeError):
        return None


def configure_kivy(settings: Settings) -> None:
    """Window and input settings; must run before kivy.core.window is first imported."""
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")  # our own keyboard, never Kivy's pop-up one
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red multitouch dots on right click
    Config.set("graphics", "show_cursor", "0")
    size = os.environ.get("KIOSK_WINDOW_SIZE")
    screen = x11_screen_size() if settings.fullscreen else None
    if settings.fullscreen and screen:
        # A window exactly the screen's size at its corner, made fullscreen once it exists
        # (build): SDL's fullscreen alone needs a window manager to take effect, and many kiosks
        # run X with none, where it would stay 800x600.
        size = f"{screen[0]}x{screen[1]}"
        Config.set("graphics", "fullscreen", "0")
    else:
        Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    if size and (not settings.fullscreen or screen):
        width, height = size.lower().split("x")
        Config.set("graphics", "width", width)
        Config.set("graphics", "height", height)
        # at the screen's top-left corner, so window and screen coordinates agree (UI tests)
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
