"""The global hotkey behind a small interface, and the check that says whether it can work here.

``GlobalHotkey`` has three methods: ``start(chord, on_press, on_release)``, ``stop()`` and
``capability()``. Implementations:

* ``X11Hotkey`` (``ui.hotkey_x11``): ``XGrabKey`` on the root window through python-xlib. A grab,
  not a listener: the chord does not also reach the focused trading screen, a chord another
  program holds is detected (``BadAccess``), and it needs no RECORD extension.
* ``PynputHotkey``: Windows (low-level keyboard hook) and macOS (event tap; needs the
  Accessibility permission). pynput reports key down and key up, which hold-to-fire needs and
  ``RegisterHotKey`` does not give.
* ``FakeHotkey``: for tests; ``press()`` and ``release()`` stand in for the keyboard.

Callbacks arrive on the implementation's own thread. ``HotkeyBridge`` turns them into Qt signals
delivered on the UI thread, and ``ChordTrigger`` applies the firing policy (hold-to-fire means
holding the chord). Under the immediate policy a press needs no UI thread at all:
``ChordTrigger.press_now`` fires it from the hotkey's own thread (``Lanes.fire`` is thread-safe),
so the kill's request does not wait for the UI thread to wake and dispatch a queued signal.

Chords use pynput's syntax, as stored in settings: ``"<ctrl>+<alt>+<shift>+k"``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from core.settings import DEFAULT_HOTKEY, FiringPolicy

FALLBACK = (
    "Bind your desktop's own keyboard shortcut to the command 'killswitch trigger' instead; "
    "it fires this window."
)

MODIFIERS = ("ctrl", "alt", "shift", "cmd")  # the order chords are written and shown in
_MODIFIER_ALIASES = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "option": "alt",
    "shift": "shift",
    "cmd": "cmd",
    "super": "cmd",
    "win": "cmd",
    "meta": "cmd",
}
_MODIFIER_LABELS = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Super"}
if sys.platform == "darwin":
    _MODIFIER_LABELS.update(alt="Option", cmd="Cmd")
elif sys.platform == "win32":
    _MODIFIER_LABELS["cmd"] = "Win"

# Named keys a chord may end in (pynput's Key names), beyond letters, digits and punctuation.
FUNCTION_KEYS = frozenset(f"f{n}" for n in range(1, 21))
NAMED_KEYS = frozenset(
    FUNCTION_KEYS
    | {
        "space",
        "enter",
        "tab",
        "esc",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "page_up",
        "page_down",
        "up",
        "down",
        "left",
        "right",
        "pause",
        "print_screen",
        "scroll_lock",
    }
)
_PUNCTUATION = frozenset("`-=[]\\;',./")


class ChordError(ValueError):
    """A chord that cannot be used; the message is one sentence for the settings dialog."""


@dataclass(frozen=True, slots=True)
class Chord:
    """Modifiers plus one key. ``key`` is a lower-case character or a name from NAMED_KEYS."""

    modifiers: tuple[str, ...]
    key: str

    @classmethod
    def parse(cls, text: str) -> Chord:
        """Read pynput syntax ("<ctrl>+<alt>+k"); ChordError says what is wrong."""
        parts = [p.strip().lower() for p in text.strip().split("+")]
        if text.strip().endswith("++"):  # "<ctrl>++" means ctrl and the plus key
            parts = [*parts[:-2], "+"]
        modifiers: set[str] = set()
        keys: list[str] = []
        for part in parts:
            name = part[1:-1] if part.startswith("<") and part.endswith(">") and len(part) > 2 else part
            if name in _MODIFIER_ALIASES and (part != name or len(name) > 1):
                modifiers.add(_MODIFIER_ALIASES[name])
            elif (len(name) == 1 and name.isprintable() and name != " ") or name in NAMED_KEYS:
                keys.append(name)
            else:
                raise ChordError(f"'{part or text}' is not a key this hotkey understands.")
        if len(keys) != 1:
            raise ChordError("A hotkey is some modifiers and exactly one other key, like Ctrl+Alt+Shift+K.")
        chord = cls(tuple(m for m in MODIFIERS if m in modifiers), keys[0])
        if not set(chord.modifiers) - {"shift"} and chord.key not in FUNCTION_KEYS:
            raise ChordError(
                "A global hotkey needs Ctrl, Alt or Super with the key, or it would fire while typing."
            )
        return chord

    def to_pynput(self) -> str:
        key = f"<{self.key}>" if len(self.key) > 1 else self.key
        return "+".join([*(f"<{m}>" for m in self.modifiers), key])

    def describe(self) -> str:
        """How people write it: "Ctrl+Alt+Shift+K"."""
        key = self.key.upper() if len(self.key) == 1 else self.key.replace("_", " ").title()
        if self.key in FUNCTION_KEYS:
            key = self.key.upper()
        return "+".join([*(_MODIFIER_LABELS[m] for m in self.modifiers), key])


def describe_chord(text: str) -> str:
    """``Chord.parse(text).describe()``, or the text itself when it does not parse."""
    try:
        return Chord.parse(text).describe()
    except ChordError:
        return text


@dataclass(frozen=True, slots=True)
class HotkeyCapability:
    """Whether the global hotkey fires from everywhere here, in one sentence, and what to do if not."""

    ok: bool
    sentence: str
    fallback: str = ""

    @classmethod
    def works(cls, chord: Chord) -> HotkeyCapability:
        return cls(True, f"{chord.describe()} fires the kill from any application.")

    @classmethod
    def fails(cls, sentence: str) -> HotkeyCapability:
        return cls(False, sentence, FALLBACK)


NOT_STARTED = HotkeyCapability(False, "The global hotkey is off.", FALLBACK)

Callback = Callable[[], None]


class GlobalHotkey(Protocol):
    """A system-wide chord. Callbacks run on the implementation's thread, not the UI thread."""

    def start(self, chord: str, on_press: Callback, on_release: Callback) -> HotkeyCapability:
        """Grab ``chord`` (stopping any previous one); the capability says whether that worked."""
        ...

    def stop(self) -> None:
        """Release the chord and end the thread; idempotent."""
        ...

    def capability(self) -> HotkeyCapability:
        """How the last ``start`` went (NOT_STARTED before any, or after ``stop``)."""
        ...


class FakeHotkey:
    """A stand-in keyboard for tests: ``press()``/``release()`` call the callbacks.

    ``refuse`` makes the next ``start`` fail with that sentence, as a conflict would.
    """

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.chord: str | None = None
        self._on_press: Callback | None = None
        self._on_release: Callback | None = None
        self._capability = NOT_STARTED

    def start(self, chord: str, on_press: Callback, on_release: Callback) -> HotkeyCapability:
        self.stop()
        try:
            parsed = Chord.parse(chord)
        except ChordError as exc:
            self._capability = HotkeyCapability.fails(str(exc))
            return self._capability
        if self.refuse:
            self._capability = HotkeyCapability.fails(self.refuse)
            return self._capability
        self.chord = parsed.to_pynput()
        self._on_press, self._on_release = on_press, on_release
        self._capability = HotkeyCapability.works(parsed)
        return self._capability

    def stop(self) -> None:
        self.chord = None
        self._on_press = self._on_release = None
        self._capability = NOT_STARTED

    def capability(self) -> HotkeyCapability:
        return self._capability

    @property
    def active(self) -> bool:
        return self.chord is not None

    def press(self) -> None:
        if self._on_press is not None:
            self._on_press()

    def release(self) -> None:
        if self._on_release is not None:
            self._on_release()


class PynputHotkey:
    """Windows and macOS: a pynput keyboard listener that tracks the chord's keys down and up.

    pynput is imported on ``start`` only: on X11 it connects to the display at import time.
    """

    def __init__(self) -> None:
        self._listener: Any = None
        self._capability = NOT_STARTED

    def start(self, chord: str, on_press: Callback, on_release: Callback) -> HotkeyCapability:
        self.stop()
        try:
            parsed = Chord.parse(chord)
        except ChordError as exc:
            self._capability = HotkeyCapability.fails(str(exc))
            return self._capability
        try:
            from pynput import keyboard
        except Exception as exc:  # pynput's backends raise assorted errors when they cannot load
            self._capability = HotkeyCapability.fails(f"The keyboard hook could not load ({exc}).")
            return self._capability
        wanted = set(keyboard.HotKey.parse(parsed.to_pynput()))
        down: set[Any] = set()
        held = threading.Event()

        def key_down(key: Any) -> None:
            key = listener.canonical(key)
            if key in wanted:
                down.add(key)
                if down >= wanted and not held.is_set():
                    held.set()
                    on_press()

        def key_up(key: Any) -> None:
            key = listener.canonical(key)
            if key in wanted:
                down.discard(key)
                if held.is_set():
                    held.clear()
                    on_release()

        listener = keyboard.Listener(on_press=key_down, on_release=key_up)
        listener.start()
        listener.wait()
        self._listener = listener
        if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
            self._capability = HotkeyCapability.fails(ACCESSIBILITY_SENTENCE)
        else:
            self._capability = _probe_windows_conflict(parsed) or HotkeyCapability.works(parsed)
        return self._capability

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
            listener.join(2.0)
        self._capability = NOT_STARTED

    def capability(self) -> HotkeyCapability:
        return self._capability


ACCESSIBILITY_SENTENCE = (
    "macOS has not given this app Accessibility permission, so the global hotkey cannot see the "
    "keyboard; allow it in System Settings > Privacy & Security > Accessibility and restart."
)


def make_hotkey(display: str | None = None) -> GlobalHotkey:
    """The implementation for this platform (X11 for Linux and the BSDs)."""
    if sys.platform in ("win32", "darwin"):
        return PynputHotkey()
    from ui.hotkey_x11 import X11Hotkey

    return X11Hotkey(display)


def check_hotkey_capability(
    chord: str = DEFAULT_HOTKEY, env: Mapping[str, str] | None = None
) -> HotkeyCapability:
    """Can ``chord`` work as a global hotkey here? Probes without keeping anything grabbed.

    Checks, in order: the chord itself, a Wayland session (no program may watch the keyboard),
    an X11 display to connect to, and whether another program already grabbed the chord
    (X11 and Windows); on macOS, the Accessibility permission.
    """
    env = os.environ if env is None else env
    try:
        parsed = Chord.parse(chord)
    except ChordError as exc:
        return HotkeyCapability.fails(str(exc))
    if sys.platform == "win32":
        return _probe_windows_conflict(parsed) or HotkeyCapability.works(parsed)
    if sys.platform == "darwin":
        trusted = _macos_trusted()
        if trusted is False:
            return HotkeyCapability.fails(ACCESSIBILITY_SENTENCE)
        return HotkeyCapability.works(parsed)
    display = env.get("DISPLAY", "")
    wayland = env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(env.get("WAYLAND_DISPLAY"))
    if not display:
        if wayland:
            return HotkeyCapability.fails(
                "This is a Wayland session without X11, and Wayland lets no application watch "
                "the keyboard, so the global hotkey cannot work here."
            )
        return HotkeyCapability.fails(
            "There is no X11 display (DISPLAY is not set), so the global hotkey cannot work here."
        )
    from ui.hotkey_x11 import probe_grab, xwayland_sentence

    problem = probe_grab(parsed, display)
    if problem is not None:
        return HotkeyCapability.fails(problem)
    if wayland:
        return HotkeyCapability.fails(xwayland_sentence(parsed))
    return HotkeyCapability.works(parsed)


# A system framework, named through a constant so that PyInstaller does not try to bundle it (it
# scans ctypes calls for library names and warns about this path in every Windows build log).
_APPLICATION_SERVICES = "/System/Library/Frameworks/ApplicationServices.framework/ApplicationServices"


def _macos_trusted() -> bool | None:
    """AXIsProcessTrusted(), or None when it cannot be asked."""
    try:
        import ctypes

        services = ctypes.cdll.LoadLibrary(_APPLICATION_SERVICES)
        services.AXIsProcessTrusted.restype = ctypes.c_bool
        return bool(services.AXIsProcessTrusted())
    except (OSError, AttributeError):
        return None


# Windows virtual-key codes for the named keys; letters and digits are their ASCII upper case.
_WIN_VK = {
    "space": 0x20,
    "enter": 0x0D,
    "tab": 0x09,
    "esc": 0x1B,
    "backspace": 0x08,
    "delete": 0x2E,
    "insert": 0x2D,
    "home": 0x24,
    "end": 0x23,
    "page_up": 0x21,
    "page_down": 0x22,
    "up": 0x26,
    "down": 0x28,
    "left": 0x25,
    "right": 0x27,
    "pause": 0x13,
    "print_screen": 0x2C,
    "scroll_lock": 0x91,
    **{f"f{n}": 0x6F + n for n in range(1, 21)},
}
_WIN_MOD = {"alt": 0x1, "ctrl": 0x2, "shift": 0x4, "cmd": 0x8}
_WIN_HOTKEY_ALREADY_REGISTERED = 1409


def _probe_windows_conflict(chord: Chord) -> HotkeyCapability | None:
    """On Windows, RegisterHotKey fails for a chord another program registered; else None."""
    if sys.platform != "win32":
        return None
    import ctypes

    vk = _WIN_VK.get(chord.key) or (ord(chord.key.upper()) if chord.key.isalnum() else None)
    if vk is None:
        return None
    mods = 0x4000  # MOD_NOREPEAT
    for modifier in chord.modifiers:
        mods |= _WIN_MOD[modifier]
    user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    probe_id = 0xBEEF
    if user32.RegisterHotKey(None, probe_id, mods, vk):
        user32.UnregisterHotKey(None, probe_id)
        return None
    if ctypes.get_last_error() == _WIN_HOTKEY_ALREADY_REGISTERED:  # type: ignore[attr-defined,unused-ignore]
        return HotkeyCapability.fails(
            f"Another program already uses {chord.describe()} as its shortcut; choose another in Settings."
        )
    return None


class HotkeyBridge(QObject):
    """Runs a GlobalHotkey and re-emits its callbacks as signals on the UI thread.

    Signals:
        pressed(): the chord went down (once per press; key repeat does not re-emit), unless
            ``press_now`` handled the press on the hotkey's thread.
        released(): the chord came up (any of its keys let go).
        capabilityChanged(object): a HotkeyCapability after every start/stop.

    The hotkey's thread emits on this QObject, which lives on the UI thread, so Qt queues each
    emission to the receivers there; no Qt object is touched from the hotkey thread.
    ``press_now`` and ``release_now``, when given, run first on the hotkey's thread and must be
    thread-safe (``ChordTrigger.press_now``/``release_now``); ``press_now`` returns True when it
    handled the press.
    """

    pressed = Signal()
    released = Signal()
    capabilityChanged = Signal(object)  # noqa: N815 - Qt naming for signals

    def __init__(
        self,
        hotkey: GlobalHotkey | None = None,
        parent: QObject | None = None,
        *,
        press_now: Callable[[], bool] | None = None,
        release_now: Callback | None = None,
    ) -> None:
        super().__init__(parent)
        self._hotkey = hotkey
        self.press_now = press_now
        self.release_now = release_now
        self._capability = NOT_STARTED

    @property
    def hotkey(self) -> GlobalHotkey:
        """The hotkey given, or this platform's, made on first use (on X11 that imports Xlib,
        which a window start need not wait for)."""
        if self._hotkey is None:
            self._hotkey = make_hotkey()
        return self._hotkey

    def _on_press(self) -> None:  # the hotkey's thread
        if self.press_now is None or not self.press_now():
            self.pressed.emit()

    def _on_release(self) -> None:  # the hotkey's thread
        if self.release_now is not None:
            self.release_now()
        self.released.emit()

    def start(self, chord: str) -> HotkeyCapability:
        self._capability = self.hotkey.start(chord, self._on_press, self._on_release)
        self.capabilityChanged.emit(self._capability)
        return self._capability

    def stop(self) -> None:
        if self._hotkey is not None:  # never started: nothing to release, nothing to import
            with contextlib.suppress(RuntimeError):
                self._hotkey.stop()
        self._capability = NOT_STARTED
        self.capabilityChanged.emit(self._capability)

    def capability(self) -> HotkeyCapability:
        return self._capability


class ChordTrigger(QObject):
    """The firing policy for a held chord, on the UI thread.

    Connect ``HotkeyBridge.pressed``/``released`` to ``press``/``release``. Then:

    * immediate: ``fire`` on press;
    * hold: ``holdStarted(hold_ms)`` on press, ``fire`` once the chord has been held ``hold_ms``,
      ``holdCancelled`` if it comes up sooner;
    * confirm: ``confirm`` on press (the window asks, as for the button).

    Signals carry the trigger name ("hotkey"). ``press_now``/``release_now`` are the same policy
    for the hotkey's own thread (give them to ``HotkeyBridge``): under the immediate policy the
    press fires there at once; under the others it goes on to ``press`` on the UI thread.
    """

    fire = Signal(str)
    confirm = Signal(str)
    holdStarted = Signal(int)  # noqa: N815 - Qt naming for signals
    holdCancelled = Signal()  # noqa: N815

    def __init__(
        self,
        policy: FiringPolicy = FiringPolicy.HOLD,
        hold_ms: int = 600,
        trigger: str = "hotkey",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.policy = policy
        self.hold_ms = hold_ms
        self.trigger = trigger
        self._lock = threading.Lock()  # _down is also set and cleared from the hotkey's thread
        self._down = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._held_long_enough)

    def set_policy(self, policy: FiringPolicy, hold_ms: int) -> None:
        self.policy = policy
        self.hold_ms = hold_ms

    @property
    def holding(self) -> bool:
        return self._timer.isActive()

    def press_now(self, fire: Callable[[str], bool]) -> bool:
        """On the hotkey's thread: under the immediate policy, fire through ``fire`` (thread-safe,
        True when the press went somewhere) and return True; otherwise False, and the press
        should go on to :meth:`press` on the UI thread. A repeat of a press it fired returns
        True and fires nothing."""
        with self._lock:
            if self.policy is not FiringPolicy.IMMEDIATE:
                return False
            if self._down:
                return True  # key repeat, or a second press event for the same press
            self._down = True
        if fire(self.trigger):
            return True
        with self._lock:
            self._down = False
        return False

    def release_now(self) -> None:
        """On the hotkey's thread, as the chord comes up (``release`` follows on the UI thread)."""
        with self._lock:
            self._down = False

    def press(self) -> None:
        with self._lock:
            if self._down:
                return  # key repeat, or a second press event for the same hold
            self._down = True
        if self.policy is FiringPolicy.IMMEDIATE:
            self.fire.emit(self.trigger)
        elif self.policy is FiringPolicy.CONFIRM:
            self.confirm.emit(self.trigger)
        else:
            self._timer.start(self.hold_ms)
            self.holdStarted.emit(self.hold_ms)

    def release(self) -> None:
        with self._lock:
            self._down = False
        if self._timer.isActive():
            self._timer.stop()
            self.holdCancelled.emit()

    def _held_long_enough(self) -> None:
        if self._down:
            self.fire.emit(self.trigger)
