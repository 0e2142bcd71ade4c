"""Render the window, Settings and History into docs/ from the real app on the simulator.

Runs offscreen (no display needed):

* ``python -m tools.screenshot [OUT.png]`` writes the README's picture (docs/screenshot.png): the
  window on a 1366×768 laptop screen with the demo's orders and a finished kill.
* ``python -m tools.screenshot --all`` writes it and the first-hour pictures beside it: the window
  at 1280×680, the window while the server is unreachable, Settings (plain-http warning and hotkey
  hint; the demo's read-only server) and History.

The window is the real one, on real lanes, against the simulator on loopback; the kill is a real
kill (with one order that fills as it is cancelled and two stop orders the server's cancel-all
skips, so the results pane shows a failure and the sweep), after which new orders arrive, as on a
live desk.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QRect  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from core.record import KillRecord  # noqa: E402
from core.secrets import SessionKeyStore  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.simulator import Simulator  # noqa: E402
from core.simulator.quirks import Quirks  # noqa: E402
from ui.app import prepare_app  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.settings_dialog import SettingsDialog  # noqa: E402

DOCS = ROOT / "docs"
OUT = DOCS / "screenshot.png"
LAPTOP = QRect(0, 0, 1366, 728)  # a 1366×768 screen less a 40-pixel taskbar


def wait_for(app: QApplication, condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the expected state in time")
        app.processEvents()
        time.sleep(0.01)


def settle(app: QApplication, rounds: int = 20) -> None:
    for _ in range(rounds):
        app.processEvents()
        time.sleep(0.02)


def save(widget: QWidget, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    print(f"wrote {out}")
    return out


def the_app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    prepare_app(app)
    return app


def after_a_kill(
    app: QApplication, sim: Simulator, screen: QRect, record: KillRecord | None = None
) -> MainWindow:
    """The window on ``screen`` after a real kill of the demo-like book, with new orders since."""
    sim.add_finished_orders(6)
    stops = [sim.place_order(s, pricetype="SL-M", action="SELL") for s in ("RELIANCE", "INFY")]
    working = len(sim.working_orders())
    sim.quirks.already_executed = frozenset({str(sim.working_orders()[3]["orderid"])})
    store = SessionKeyStore()
    store.set(sim.url, sim.apikey)
    window = MainWindow(
        Settings(host=sim.url, poll_interval_s=0.5),
        store,
        apikey=sim.apikey,
        demo=True,
        persist=False,
        record=record,
        screen=lambda _point: screen,
    )
    window.show()
    window.start()
    wait_for(app, lambda: window.model.working_count() == working)
    assert window.lanes is not None
    finished: list[object] = []
    window.lanes.killFinished.connect(finished.append)
    window.fire("button")
    wait_for(app, lambda: bool(finished))
    assert all(s not in {str(o["orderid"]) for o in sim.working_orders()} for s in stops)
    # The market moves on: new orders arrive after the kill, as they would on a live desk.
    sim.add_random_orders(11)
    wait_for(app, lambda: window.model.working_count() == 11)
    window.table.selectRow(1)
    settle(app)
    return window


def render(out: Path = OUT) -> Path:
    """The README's picture."""
    app = the_app()
    sim = Simulator(orders=25, seed=2611, quirks=Quirks(cancelall_skips_pricetypes={"SL-M"})).start()
    window: MainWindow | None = None
    try:
        window = after_a_kill(app, sim, LAPTOP)
        return save(window, out)
    finally:
        if window is not None:
            window.close()
        sim.stop()


def render_first_hour(folder: Path = DOCS) -> None:
    """The pictures that show the first-hour fixes (issue 13)."""
    app = the_app()
    sim = Simulator(orders=25, seed=2611, quirks=Quirks(cancelall_skips_pricetypes={"SL-M"})).start()
    with (
        tempfile.TemporaryDirectory(prefix="killswitch-shots-") as tmp,
        KillRecord(Path(tmp) / "k.sqlite3") as record,
    ):
        window = after_a_kill(app, sim, QRect(0, 0, 1920, 1040), record)
        try:
            window.resize(1280, 680)
            settle(app, 30)
            save(window, folder / "window-1280x680.png")

            window.open_history()
            history = window.history_dialog
            assert history is not None
            history.resize(980, 560)
            settle(app)
            save(history, folder / "history.png")
            history.reject()

            every = frozenset({"cancelallorder", "orderbook", "cancelorder", "ping", "analyzer", "funds"})
            sim.quirks.html_error = every  # a tunnel whose OpenAlgo went away
            wait_for(app, lambda: window.button.headline() == "CANCEL ALL WORKING ORDERS")
            time.sleep(3)
            settle(app, 60)
            save(window, folder / "window-server-unreachable.png")
        finally:
            window.close()
            sim.stop()

    dialog = SettingsDialog(Settings(), SessionKeyStore(), current_key="in use")
    dialog.show()
    dialog.host_edit.setText("http://192.168.1.20:5000")
    dialog.hotkey_edit.problem.emit(
        "That chord has no modifier key; a global hotkey needs Ctrl, Alt or Super with a key, so it "
        "was not changed."
    )
    settle(app)
    save(dialog, folder / "settings-plain-http.png")
    dialog.reject()
    demo_server = "http://127.0.0.1:41234"
    demo = SettingsDialog(
        Settings(host=demo_server), SessionKeyStore(), current_key="in use", host_locked=True
    )
    demo.show()
    settle(app)
    save(demo, folder / "settings-demo.png")
    demo.reject()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--all"]:
        render()
        render_first_hour()
        return 0
    render(Path(argv[0]) if argv else OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
