"""Render the window with the demo's orders and a finished kill into docs/screenshot.png.

Runs offscreen (no display needed): ``python -m tools.screenshot [OUT.png]``. The window is the
real one, on real lanes, against the simulator on loopback; the kill is a real kill (with one
order that fills as it is cancelled and two stop orders the server's cancel-all skips, so the
results pane shows a failure and the sweep), after which new orders arrive, as on a live desk.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from core.secrets import SessionKeyStore  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.simulator import Simulator  # noqa: E402
from core.simulator.quirks import Quirks  # noqa: E402
from ui.app import prepare_app  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

OUT = ROOT / "docs" / "screenshot.png"
SIZE = (1280, 820)


def wait_for(app: QApplication, condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the expected state in time")
        app.processEvents()
        time.sleep(0.01)


def render(out: Path = OUT) -> Path:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    prepare_app(app)
    sim = Simulator(orders=25, seed=2611, quirks=Quirks(cancelall_skips_pricetypes={"SL-M"})).start()
    window: MainWindow | None = None
    try:
        sim.add_finished_orders(6)
        stops = [sim.place_order(s, pricetype="SL-M", action="SELL") for s in ("RELIANCE", "INFY")]
        working = len(sim.working_orders())
        sim.quirks.already_executed = frozenset({str(sim.working_orders()[3]["orderid"])})
        store = SessionKeyStore()
        store.set(sim.url, sim.apikey)
        window = MainWindow(
            Settings(host=sim.url, poll_interval_s=0.5), store, apikey=sim.apikey, demo=True, persist=False
        )
        window.resize(*SIZE)
        window.show()
        window.start()
        wait_for(app, lambda: window is not None and window.model.working_count() == working)
        assert window.lanes is not None
        finished: list[object] = []
        window.lanes.killFinished.connect(finished.append)
        window.fire("button")
        wait_for(app, lambda: bool(finished))
        assert all(s not in {str(o["orderid"]) for o in sim.working_orders()} for s in stops)
        # The market moves on: new orders arrive after the kill, as they would on a live desk.
        sim.add_random_orders(11)
        wait_for(app, lambda: window is not None and window.model.working_count() == 11)
        window.table.selectRow(1)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise OSError(f"could not write {out}")
        return out
    finally:
        if window is not None:
            window.close()
        sim.stop()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    print(f"wrote {render(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
