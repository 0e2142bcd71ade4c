"""The X11 global hotkey: a passive key grab (XGrabKey) on the root window, via python-xlib.

Why a grab rather than pynput's listener (which observes through the RECORD extension):

* the chord is taken from the keyboard, so Ctrl+Alt+Shift+K does not also land in whatever
  trading screen has the focus;
* a chord another program already grabbed fails with BadAccess, which the capability check can
  report instead of the hotkey silently never firing;
* key down and key up both arrive, so hold-to-fire works, and no extension is needed (it works
  the same under Xvfb, Xorg and XWayland).

The grab is made once per combination of the lock modifiers (Caps Lock, Num Lock), since X
matches modifier state exactly. The thread owns its own X connection; nothing else uses it while
the thread runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Iterator
from typing import Any

from Xlib import XK, X
from Xlib import error as xerror
from Xlib.display import Display

from ui.hotkey import (
    NOT_STARTED,
    Callback,
    Chord,
    ChordError,
    HotkeyCapability,
)

# Key names in chords (pynput's) -> X keysym names, where they differ.
_KEYSYM_NAMES = {
    "enter": "Return",
    "tab": "Tab",
    "esc": "Escape",
    "backspace": "BackSpace",
    "delete": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "page_up": "Prior",
    "page_down": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pause": "Pause",
    "print_screen": "Print",
    "scroll_lock": "Scroll_Lock",
    "space": "space",
    "-": "minus",
    "=": "equal",
    "[": "bracketleft",
    "]": "bracketright",
    "\\": "backslash",
    ";": "semicolon",
    "'": "apostrophe",
    ",": "comma",
    ".": "period",
    "/": "slash",
    "`": "grave",
    "+": "plus",
}
_MODIFIER_KEYSYMS = {"alt": ("Alt_L", "Alt_R", "Meta_L"), "cmd": ("Super_L", "Super_R")}
_DEFAULT_MASKS = {"ctrl": X.ControlMask, "shift": X.ShiftMask, "alt": X.Mod1Mask, "cmd": X.Mod4Mask}
REPEAT_GAP_S = 0.03  # how long to wait for the KeyPress that pairs with an auto-repeat KeyRelease


class _Grab:
    """The keycode and modifier masks of a chord on one display."""

    def __init__(self, display: Display, chord: Chord) -> None:
        name = _KEYSYM_NAMES.get(
            chord.key, chord.key.upper() if chord.key.startswith("f") and len(chord.key) > 1 else chord.key
        )
        keysym = XK.string_to_keysym(name)
        self.keycode = display.keysym_to_keycode(keysym) if keysym else 0
        if not self.keycode:
            raise ChordError(f"This keyboard layout has no {chord.describe().rsplit('+', 1)[-1]} key.")
        masks = self._modifier_masks(display)
        self.modifiers = 0
        for modifier in chord.modifiers:
            self.modifiers |= masks[modifier]
        num_lock = masks.get("num_lock", X.Mod2Mask)
        self.variants = sorted(
            {self.modifiers | extra for extra in (0, X.LockMask, num_lock, X.LockMask | num_lock)}
        )
        self.relevant = X.ControlMask | X.ShiftMask | masks["alt"] | masks["cmd"]

    @staticmethod
    def _modifier_masks(display: Display) -> dict[str, int]:
        """Which ModN bit Alt, Super and Num Lock are on in this server's modifier map."""
        masks = dict(_DEFAULT_MASKS)
        wanted = {**_MODIFIER_KEYSYMS, "num_lock": ("Num_Lock",)}
        mapping = [set(keycodes) for keycodes in display.get_modifier_mapping()]
        for name, syms in wanted.items():
            ours = {display.keysym_to_keycode(XK.string_to_keysym(sym)) for sym in syms} - {0}
            for index in range(3, len(mapping)):  # Mod1..Mod5; Shift, Lock, Control are fixed
                if ours & mapping[index]:
                    masks[name] = 1 << index
                    break
        return masks


def _conflict_sentence(chord: Chord) -> str:
    return (
        f"Another program already uses {chord.describe()} as its shortcut, so this hotkey cannot "
        "take it; choose another chord in Settings."
    )


@contextlib.contextmanager
def _open_display(name: str | None) -> Iterator[Display]:
    display = Display(name)
    try:
        yield display
    finally:
        display.close()


def _grab_on(display: Display, chord: Chord) -> tuple[_Grab | None, str | None]:
    """Grab ``chord`` on ``display``: (the grab, None) or (None, why not)."""
    try:
        grab = _Grab(display, chord)
    except ChordError as exc:
        return None, str(exc)
    root = display.screen().root
    catcher = xerror.CatchError(xerror.BadAccess)
    for modifiers in grab.variants:
        root.grab_key(grab.keycode, modifiers, False, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
    display.sync()
    if catcher.get_error() is not None:
        # Some variants may have succeeded; give those back so nothing is left half-grabbed.
        for modifiers in grab.variants:
            root.ungrab_key(grab.keycode, modifiers)
        display.sync()
        return None, _conflict_sentence(chord)
    return grab, None


def xwayland_sentence(chord: Chord) -> str:
    return (
        f"This is a Wayland session: {chord.describe()} only fires while an X11 (XWayland) window "
        "has the focus, not from everywhere."
    )


def _cannot_open(display_name: str | None, exc: Exception) -> str:
    shown = display_name or os.environ.get("DISPLAY") or "(none)"
    return f"Could not open the X11 display {shown} ({exc}), so the global hotkey cannot work here."


def probe_grab(chord: Chord, display_name: str | None = None) -> str | None:
    """Grab and release ``chord`` once: None if it is free, else the sentence why not."""
    try:
        display = Display(display_name)
    except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
        return _cannot_open(display_name, exc)
    try:
        grab, problem = _grab_on(display, chord)
        if grab is not None:
            root = display.screen().root
            for modifiers in grab.variants:
                root.ungrab_key(grab.keycode, modifiers)
            display.sync()
        return problem
    finally:
        display.close()


class X11Hotkey:
    """GlobalHotkey for X11. ``display`` defaults to $DISPLAY."""

    def __init__(self, display: str | None = None) -> None:
        self.display_name = display
        self._capability = NOT_STARTED
        self._thread: threading.Thread | None = None
        self._display: Display | None = None
        self._grab: _Grab | None = None
        self._wake: tuple[int, int] | None = None

    def capability(self) -> HotkeyCapability:
        return self._capability

    def start(self, chord: str, on_press: Callback, on_release: Callback) -> HotkeyCapability:
        self.stop()
        try:
            parsed = Chord.parse(chord)
        except ChordError as exc:
            self._capability = HotkeyCapability.fails(str(exc))
            return self._capability
        try:
            display = Display(self.display_name)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            self._capability = HotkeyCapability.fails(_cannot_open(self.display_name, exc))
            return self._capability
        grab, problem = _grab_on(display, parsed)
        if grab is None:
            display.close()
            self._capability = HotkeyCapability.fails(problem or "The hotkey could not be grabbed.")
            return self._capability
        self._display, self._grab = display, grab
        self._wake = os.pipe()
        self._thread = threading.Thread(
            target=self._run,
            args=(display, grab, self._wake[0], on_press, on_release),
            name="x11-hotkey",
            daemon=True,
        )
        self._thread.start()
        self._capability = HotkeyCapability.works(parsed)
        if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland":
            # Grabbed on XWayland: it fires only while an X11 window has the focus. Say so.
            self._capability = HotkeyCapability.fails(xwayland_sentence(parsed))
        return self._capability

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None and self._wake is not None:
            os.write(self._wake[1], b"x")
            thread.join(5.0)
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        display, self._display = self._display, None
        if display is not None:
            with contextlib.suppress(xerror.XError, xerror.ConnectionClosedError, OSError):
                if self._grab is not None:
                    root = display.screen().root
                    for modifiers in self._grab.variants:
                        root.ungrab_key(self._grab.keycode, modifiers)
                    display.sync()
            with contextlib.suppress(xerror.XError, xerror.ConnectionClosedError, OSError):
                display.close()
        self._grab = None
        self._capability = NOT_STARTED

    def _run(
        self, display: Display, grab: _Grab, wake: int, on_press: Callback, on_release: Callback
    ) -> None:
        held = False
        backlog: list[Any] = []
        try:
            while True:
                if backlog:
                    event = backlog.pop(0)
                else:
                    if not display.pending_events():
                        ready, _, _ = select.select([display.fileno(), wake], [], [])
                        if wake in ready:
                            return
                        if not display.pending_events():
                            continue
                    event = display.next_event()
                if event.type == X.KeyPress:
                    chord_down = (
                        event.detail == grab.keycode and event.state & grab.relevant == grab.modifiers
                    )
                    if chord_down and not held:
                        held = True
                        on_press()
                elif event.type == X.KeyRelease and held:
                    if event.detail == grab.keycode:
                        following = self._next_soon(display)
                        if following is not None and _repeats(event, following):
                            continue  # key repeat while held: not a release
                        if following is not None:
                            backlog.append(following)
                    held = False
                    on_release()
        except (xerror.ConnectionClosedError, OSError):
            self._capability = HotkeyCapability.fails(
                "The connection to the X11 display was lost, so the global hotkey stopped."
            )
            if held:
                on_release()

    @staticmethod
    def _next_soon(display: Display) -> Any:
        """The next event if it arrives within REPEAT_GAP_S, else None."""
        if not display.pending_events():
            select.select([display.fileno()], [], [], REPEAT_GAP_S)
        return display.next_event() if display.pending_events() else None


def _repeats(release: Any, following: Any) -> bool:
    """Key repeat sends KeyRelease and KeyPress for the same key with one timestamp."""
    return bool(
        following.type == X.KeyPress and following.detail == release.detail and following.time == release.time
    )
