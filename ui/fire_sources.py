"""Everything that fires the window from outside it: the global hotkey, the tray, the local socket.

One object wires them to a window that has ``fire(trigger)``, ``request_fire(trigger)``,
``settings`` (core.settings.Settings) and ``lanes`` (None while no key is set up):

* the hotkey, through ``HotkeyBridge`` and ``ChordTrigger`` (the firing policy: hold means
  holding the chord; confirm goes through ``request_fire``);
* the tray's Fire (``request_fire("tray")``), Show and Quit, and a notification per verdict;
* ``SingleInstance``'s "show" (bring the window forward) and "fire" (``fire("command line")``:
  running ``killswitch trigger`` is itself the deliberate act, as for ``cancel-all``).

The window passes each kill's report to ``kill_finished``, which answers waiting
``killswitch trigger`` callers and shows the tray notification.

The demo and the real window share one global chord, and only one program can hold it. The real
window always gets it: a demo leaves it alone while a real window is open (and lets go when one
opens), and a real window that finds the demo holding it takes it as soon as the demo lets go. A
chord pressed in panic must never fire the demo instead of the real account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from core.addresses import normalise_host
from core.report import CancelReport
from core.settings import Settings
from ui.hotkey import (
    NOT_STARTED,
    ChordTrigger,
    GlobalHotkey,
    HotkeyBridge,
    HotkeyCapability,
    describe_chord,
)

if TYPE_CHECKING:
    from ui.single_instance import SingleInstance
    from ui.tray import KillSwitchTray

log = logging.getLogger(__name__)

HOTKEY_OFF = "The global hotkey is off (Settings)."
PEER_CHECK_MS = 2000  # how often a demo looks for a real window, and a real window for the demo
DEMO_DEFERS = "Hotkey off in the demo: your Kill Switch window is open and keeps {chord} for real kills."
DEMO_CHORD_TAKEN = "Hotkey off in the demo: another program holds {chord}."
DEMO_HOLDS = "The Kill Switch demo holds {chord}; this window takes it as soon as the demo lets go."
DEMO_NO_TRIGGER = "This is the demo window; it takes no kills from the command line."


class FireSources(QObject):
    """The hotkey, tray and local socket, wired to one window.

    Signals:
        hotkeyChanged(object): the HotkeyCapability after each (re)bind; its sentence is also shown
            in the window's status bar (``hotkey_label``).
    """

    hotkeyChanged = Signal(object)  # noqa: N815 - Qt naming for signals

    def __init__(
        self,
        window: Any,
        *,
        instance: SingleInstance | None = None,
        hotkey: GlobalHotkey | None = None,
        tray: KillSwitchTray | None = None,
        use_tray: bool = True,
        demo: bool = False,
        peer_running: Callable[[], bool] | None = None,
        peer_check_ms: int = PEER_CHECK_MS,
        parent: QObject | None = None,
    ) -> None:
        """``peer_running()`` says whether the other kind of window is open: for a demo, a real
        window; for a real window, a demo (see the module docstring)."""
        super().__init__(parent if parent is not None else window)
        self.window = window
        self._demo = demo
        self._peer_running = peer_running or (lambda: False)
        self._peer_timer = QTimer(self)
        self._peer_timer.setInterval(peer_check_ms)
        self._peer_timer.timeout.connect(self._check_peer)
        settings: Settings = window.settings
        self.trigger = ChordTrigger(settings.firing_policy, settings.hold_ms, "hotkey", self)
        self.bridge = HotkeyBridge(
            hotkey, self, press_now=self._press_now, release_now=self.trigger.release_now
        )
        self.bridge.pressed.connect(self.trigger.press)
        self.bridge.released.connect(self.trigger.release)
        self.trigger.fire.connect(window.fire)
        self.trigger.confirm.connect(window.request_fire)
        self.capability: HotkeyCapability = NOT_STARTED
        self._chord: str | None = None

        self.hotkey_label = QLabel()
        self.hotkey_label.setObjectName("hotkeyStatus")
        if isinstance(window, QMainWindow):
            window.statusBar().addPermanentWidget(self.hotkey_label)

        # The tray icon is made in start(), so that a window start can put it off until the
        # window is on screen; the local socket is wired at once, so no "fire" it hears is lost.
        self._use_tray = use_tray
        self.tray: KillSwitchTray | None = None
        if tray is not None:
            self._attach_tray(tray)

        self.instance = instance
        if instance is not None:
            instance.showRequested.connect(self._bring_forward)
            instance.fireRequested.connect(window.fire)
            instance.set_fire_check(self._refuse_fire)
            instance.set_host(lambda: self.window.settings.host)

    def start(self) -> HotkeyCapability:
        """Bind the hotkey from the window's settings and show the tray icon (where there is one).

        Until then the hotkey and the tray do nothing; the local socket and the window work."""
        if self.tray is None and self._use_tray:
            from ui.tray import KillSwitchTray

            self._attach_tray(KillSwitchTray(parent=self))
        if self.tray is not None and not self.tray.show():
            log.info("%s", self.tray.sentence)
        return self.apply_settings(self.window.settings)

    def _attach_tray(self, tray: KillSwitchTray) -> None:
        self.tray = tray
        tray.fireRequested.connect(self.window.request_fire)
        tray.showRequested.connect(self._bring_forward)
        tray.quitRequested.connect(self.quit)

    def _bring_forward(self) -> None:
        from ui.tray import bring_forward

        bring_forward(self.window)

    def apply_settings(self, settings: Settings) -> HotkeyCapability:
        """Follow changed settings: chord, on/off, firing policy, always on top."""
        from ui.tray import set_always_on_top

        self.trigger.set_policy(settings.firing_policy, settings.hold_ms)
        set_always_on_top(self.window, settings.always_on_top)
        wanted = settings.hotkey if settings.hotkey_enabled else None
        if wanted == self._chord and self.capability is not NOT_STARTED:
            return self.capability
        self.bridge.stop()
        self._chord = wanted
        self._set_capability(self._bind(wanted))
        return self.capability

    def _bind(self, chord: str | None) -> HotkeyCapability:
        """Take the chord, unless this is a demo and the real window is open; watch the other
        window while it matters (module docstring)."""
        if chord is None:
            self._peer_timer.stop()
            return HotkeyCapability(False, HOTKEY_OFF, "")
        named = describe_chord(chord)
        if self._demo:
            self._peer_timer.start()  # a real window may open at any time: then let go
            if self._peer_running():
                return HotkeyCapability(False, DEMO_DEFERS.format(chord=named), "")
            capability = self.bridge.start(chord)
            if capability.ok:
                return capability
            return HotkeyCapability(False, DEMO_CHORD_TAKEN.format(chord=named), "")
        capability = self.bridge.start(chord)
        if not capability.ok and self._peer_running():
            self._peer_timer.start()  # the demo lets go when it sees this window: try again
            return HotkeyCapability(False, DEMO_HOLDS.format(chord=named), capability.fallback)
        self._peer_timer.stop()
        return capability

    def _check_peer(self) -> None:
        chord = self._chord
        if chord is None:
            self._peer_timer.stop()
            return
        if self._demo and self.capability.ok and self._peer_running():
            self.bridge.stop()  # a real window opened: the chord is for real kills
            self._set_capability(HotkeyCapability(False, DEMO_DEFERS.format(chord=describe_chord(chord)), ""))
        elif not self.capability.ok:
            self.bridge.stop()
            self._set_capability(self._bind(chord))

    def _set_capability(self, capability: HotkeyCapability) -> None:
        self.capability = capability
        self._show_capability(self._chord)
        self.hotkeyChanged.emit(capability)

    def kill_finished(self, report: CancelReport) -> None:
        """Each kill's report: answer waiting ``killswitch trigger`` callers, notify from the tray."""
        if self.instance is not None:
            self.instance.deliver_report(report)
        if self.tray is not None:
            self.tray.notify(report)

    def stop(self) -> None:
        """Release the hotkey, remove the tray icon and close the socket; idempotent."""
        self._peer_timer.stop()
        self.bridge.stop()
        if self.tray is not None:
            self.tray.hide()
        if self.instance is not None:
            self.instance.close()

    def quit(self) -> None:
        self.window.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def _show_capability(self, chord: str | None) -> None:
        if chord is None:
            self.hotkey_label.setText("Hotkey: off")
            self.hotkey_label.setToolTip(HOTKEY_OFF)
        elif self.capability.ok:
            self.hotkey_label.setText(f"Hotkey: {describe_chord(chord)}")
            self.hotkey_label.setToolTip(self.capability.sentence)
        else:
            self.hotkey_label.setText(self.capability.sentence)
            self.hotkey_label.setToolTip(self.capability.fallback)

    def _press_now(self) -> bool:
        """The hotkey's own thread: under the immediate policy, straight into every server's kill
        lane (``ServerSet.fire`` is thread-safe). Without lanes (no key yet) the press goes to the
        window on the UI thread, which says what is missing."""
        servers = getattr(self.window, "servers", None)
        lanes = servers if servers is not None and servers.links else None
        if lanes is None:
            return False
        return self.trigger.press_now(lanes.fire)

    def _refuse_fire(self, request: dict[str, Any]) -> str | None:
        if self._demo:
            return DEMO_NO_TRIGGER
        if getattr(self.window, "closing", False):
            return "The window is closing, so it did not fire."
        if getattr(self.window, "lanes", None) is None:
            return "The window has no API key set up, so it cannot fire."
        settings: Settings = self.window.settings
        asked = request.get("hosts") or ([request["host"]] if request.get("host") else [])
        if asked:
            named = {normalise_host(str(h)) or str(h) for h in asked}
            current = {server.url for server in settings.enabled_servers()}
            if named != current:
                return (
                    f"The window is on {', '.join(sorted(current))}, not {', '.join(sorted(named))}, "
                    "so it did not fire."
                )
        scope = request.get("scope")
        if isinstance(scope, dict) and scope != settings.scope().to_json():
            return (
                "The window is set to another kill scope "
                f"({' · '.join(settings.scope().steps())}), so it did not fire."
            )
        return None
