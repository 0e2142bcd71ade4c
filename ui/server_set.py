"""Every enabled server's lanes, as the window sees them: one press fires them all at once.

Each server keeps its own :class:`~ui.lanes.Lanes` (poll lane and kill lane, each with its own
warm connection) and its own :class:`~ui.steps_lane.StepsLane` (the guard and the halt after its
kill), so a slow, hung or dead server never delays another's verdict: each server's report
arrives on its own (``serverFinished``), and the press ends once every server has its verdict
(``pressFinished``, with the overall verdict: ``core.report.PressReport``). A press while a press
runs joins it, server by server: on a server whose kill is still running it joins that kill, and
on one that has already answered it starts a new kill, which the press then waits for too -- the
press's verdict is always each server's latest. The kills of one press share a press id, so the
record keeps them together.

Signals (delivered on the UI thread; ``url`` names the server):
    bookChanged(url, OrderBook, BookChanges), positionsRead(url, PositionBook | ApiError),
    connectionChanged(url, ConnectionState), killStarted(trigger) once per press,
    killProgress(url, KillProgress), serverFinished(url, CancelReport),
    pressFinished(PressReport), guardStarted(url, seconds), guardTick(url, seconds left, working),
    caught(url, Catch), stepsFinished(url, CancelReport with guard and halt), resumed(url, HaltReport).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core.report import CancelReport, PressReport
from core.scope import KillScope
from core.settings import Server

if TYPE_CHECKING:  # loaded with the first server's lanes, after the window's first paint
    from core.one_kill import RunningKill
    from core.record import KillRecord
    from ui.lanes import Lanes
    from ui.steps_lane import StepsLane

log = logging.getLogger(__name__)

LanesFactory = Callable[[Server, str], "Lanes"]


@dataclass(eq=False)
class ServerLink:
    """One server's parts."""

    server: Server
    apikey: str = field(repr=False)
    lanes: Lanes
    steps: StepsLane


@dataclass(eq=False)
class _Press:
    trigger: str
    press_id: str
    waiting: set[str]  # servers whose kill has not reported yet
    kills: dict[str, RunningKill] = field(default_factory=dict)  # each server's kill for this press
    reports: dict[str, CancelReport] = field(default_factory=dict)
    announced: bool = False


class ServerSet(QObject):
    """The servers a press reaches (module docstring)."""

    bookChanged = Signal(str, object, object)  # noqa: N815
    positionsRead = Signal(str, object)  # noqa: N815
    connectionChanged = Signal(str, object)  # noqa: N815
    killStarted = Signal(str)  # noqa: N815
    killProgress = Signal(str, object)  # noqa: N815
    serverFinished = Signal(str, object)  # noqa: N815
    pressFinished = Signal(object)  # noqa: N815
    guardStarted = Signal(str, float)  # noqa: N815
    guardTick = Signal(str, float, int)  # noqa: N815
    caught = Signal(str, object)
    stepsFinished = Signal(str, object)  # noqa: N815
    resumed = Signal(str, object)

    def __init__(
        self,
        lanes_factory: LanesFactory,
        *,
        scope: KillScope | None = None,
        record: KillRecord | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = lanes_factory
        self.scope = scope or KillScope()
        self.record = record
        self.links: dict[str, ServerLink] = {}
        self._press: _Press | None = None
        # Each server's last reported kill and its report: a press that joins a kill which has
        # already reported takes that report instead of waiting for one that never comes.
        self._latest: dict[str, tuple[RunningKill | None, CancelReport]] = {}
        self._lock = threading.Lock()
        self._started = False
        self._stopping = False
        self._retired: list[ServerLink] = []  # dropped while a kill still ran: stopped at stop()

    # -- the set ---------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return list(self.links)

    def lanes(self, url: str) -> Lanes | None:
        link = self.links.get(url)
        return link.lanes if link is not None else None

    @property
    def kill_in_flight(self) -> bool:
        return any(link.lanes.kill_in_flight for link in self.links.values())

    @property
    def guarding(self) -> bool:
        return any(link.steps.guarding for link in self.links.values())

    def set_servers(self, servers: list[tuple[Server, str]]) -> None:
        """Follow the enabled servers and their keys: new ones get lanes, gone ones are stopped,
        changed ones are pointed at their new key, label or strategy (a running kill finishes)."""
        wanted = {server.url: (server, key) for server, key in servers}
        for url in [u for u in self.links if u not in wanted]:
            self._drop(url)
        for url, (server, key) in wanted.items():
            link = self.links.get(url)
            if link is None:
                self._add(server, key)
            elif (server, key) != (link.server, link.apikey):
                link.server, link.apikey = server, key
                link.lanes.reconfigure(
                    url, key, server.strategy, link.lanes.poll_interval_s, link.lanes.deadline_s
                )
                link.steps.configure(url, key, server.strategy)
        # Keep the settings' order.
        self.links = {url: self.links[url] for url in wanted if url in self.links}

    def set_scope(self, scope: KillScope) -> None:
        self.scope = scope
        for link in self.links.values():
            link.lanes.set_scope(scope)

    def adopt(self, server: Server, key: str, lanes: Lanes) -> None:
        """Take lanes made elsewhere (a test's, the caller's) as this server's."""
        self._add(server, key, lanes)

    def _add(self, server: Server, key: str, lanes: Lanes | None = None) -> None:
        url = server.url
        from core.client import make_http_client
        from ui.steps_lane import StepsLane

        if lanes is None:
            lanes = self._factory(server, key)
        lanes.setParent(self)
        steps = StepsLane(make_http_client(), self.record)
        steps.configure(url, key, server.strategy)
        link = ServerLink(server, key, lanes, steps)
        self.links[url] = link
        lanes.bookChanged.connect(lambda book, changes, u=url: self.bookChanged.emit(u, book, changes))
        lanes.positionsRead.connect(lambda book, u=url: self.positionsRead.emit(u, book))
        lanes.connectionChanged.connect(lambda state, u=url: self.connectionChanged.emit(u, state))
        lanes.killStarted.connect(self._kill_started)
        lanes.killProgress.connect(lambda progress, u=url: self.killProgress.emit(u, progress))
        lanes.killFinished.connect(lambda report, u=url: self._server_done(u, report))
        steps.guardStarted.connect(lambda seconds, u=url: self.guardStarted.emit(u, seconds))
        steps.guardTick.connect(lambda left, working, u=url: self.guardTick.emit(u, left, working))
        steps.caught.connect(lambda catch, u=url: self.caught.emit(u, catch))
        steps.finished.connect(lambda report, u=url: self.stepsFinished.emit(u, report))
        steps.resumed.connect(lambda outcome, u=url: self.resumed.emit(u, outcome))
        lanes.set_scope(self.scope)
        lanes.want_positions(True)  # the positions tab, and the button's count of them
        if self._started:
            lanes.start()

    def _drop(self, url: str) -> None:
        """Stop a server that left the settings. A kill running on it is reported now, as
        interrupted (the press then has its verdict); nothing here waits for its threads."""
        link = self.links[url]
        if link.lanes.kill_in_flight:
            link.lanes.interrupt(
                "The server was removed from the settings during the kill, before its verdict: "
                "check its order book"
            )
        del self.links[url]
        link.steps.release("the server was removed from the settings")
        link.steps.stop(0.0)
        if link.lanes.stop(0.0):
            link.lanes.deleteLater()
        else:  # its kill thread still talks to the server: kept until the window stops
            self._retired.append(link)
        with self._lock:
            press = self._press
            if press is not None:
                press.waiting.discard(url)
        if press is not None:
            self._maybe_done(press)

    def start(self) -> None:
        self._started = True
        for link in self.links.values():
            link.lanes.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop every server's lanes, waiting about ``timeout_s`` in all."""
        self._stopping = True
        links = [*self.links.values(), *self._retired]
        share = timeout_s / max(1, len(links))
        for link in links:
            link.steps.release("the window closed")
        for link in links:
            link.lanes.stop(share)
            link.steps.stop(0.05)

    # -- pressing --------------------------------------------------------------------------

    def fire(self, trigger: str, *, absent: Sequence[CancelReport] = ()) -> bool:
        """Fire every server at once (a press during a press joins it). Safe from any thread.

        ``absent``: the reports of servers the press should reach but cannot (no lanes: no key
        yet); they count in its verdict and are shown as each server's result."""
        links = list(self.links.items())
        with self._lock:
            press = self._press
            if press is None:
                press_id = uuid.uuid4().hex[:16] if len(links) + len(absent) > 1 else ""
                press = self._press = _Press(trigger, press_id, {url for url, _ in links})
            new = [r for r in absent if r.server not in press.reports]
            for report in new:
                press.reports[report.server] = report
        for report in new:
            self.serverFinished.emit(report.server, report)
        fired = False
        for url, link in links:
            kill = link.lanes.fire(trigger, press=press.press_id)
            fired = fired or kill is not None
            with self._lock:
                if kill is None:  # its lanes have stopped: this press will hear nothing new from it
                    if url not in press.kills:
                        press.waiting.discard(url)
                elif press.kills.get(url) is not kill:  # a kill this press has not waited on yet
                    press.kills[url] = kill
                    latest = self._latest.get(url)
                    if latest is not None and latest[0] is kill:  # it has already reported
                        press.reports[url] = latest[1]
                        press.waiting.discard(url)
                    else:
                        press.waiting.add(url)
        self._maybe_done(press)
        return fired

    def interrupt(self, reason: str) -> None:
        """The window is closing during a press: every running kill is reported as it stands."""
        for link in self.links.values():
            if link.lanes.kill_in_flight:
                link.lanes.interrupt(reason)

    def release_guards(self, why: str) -> None:
        for link in self.links.values():
            link.steps.release(why)

    def resume_live(self, url: str) -> None:
        link = self.links.get(url)
        if link is not None:
            link.steps.resume_live()

    def _kill_started(self, trigger: str) -> None:
        press = self._press
        if press is not None and not press.announced:
            press.announced = True
            self.killStarted.emit(trigger)

    def _server_done(self, url: str, report: CancelReport) -> None:
        link = self.links.get(url)
        # The kill this report is from: Lanes sets last_kill just before it emits the report.
        kill = link.lanes.last_kill if link is not None else None
        self.serverFinished.emit(url, report)
        if link is not None and not report.interrupted and not self._stopping:
            link.steps.after(report, self.scope, kill.kill_id if kill is not None else None)
        with self._lock:
            self._latest[url] = (kill, report)
            press = self._press
            ours = press is not None and kill is not None and press.kills.get(url) is kill
            if ours:
                assert press is not None
                press.reports[url] = report
                press.waiting.discard(url)
        if ours:
            assert press is not None
            self._maybe_done(press)
        elif press is None or kill is None:  # fired on this server's lanes alone
            self.pressFinished.emit(PressReport((report,), report.trigger))
        # Otherwise a press runs that has not taken this kill yet: its fire() takes the report.

    def _maybe_done(self, press: _Press) -> None:
        with self._lock:
            if press.waiting or self._press is not press:
                return
            self._press = None
        if not press.reports:  # nothing was fired: there is no verdict to give
            return
        ordered = tuple(press.reports[u] for u in self.links if u in press.reports)
        ordered += tuple(r for u, r in press.reports.items() if u not in self.links)
        self.pressFinished.emit(PressReport(ordered, press.trigger))
