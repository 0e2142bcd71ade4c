"""Each kill of the session, newest on top: verdict, trigger, the server's message, every order
cancelled (by the server or by the sweep), every failure with its reason, every order still
working at the end, and the timings. Read-only, selectable and copyable."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QTextBrowser, QWidget

from core.kill import CancelReport, Verdict
from core.orders import Order

_VERDICT_CSS = {
    Verdict.FLAT: ("#2e7d32", "#ffffff"),
    Verdict.ORDERS_REMAIN: ("#f9a825", "#000000"),
    Verdict.UNVERIFIED: ("#f9a825", "#000000"),
    Verdict.REFUSED: ("#b71c1c", "#ffffff"),
    Verdict.UNREACHABLE: ("#b71c1c", "#ffffff"),
}

_EMPTY = (
    "<p style='color:#8a93a3'>No kill yet this session. Each kill's verdict, every order it "
    "cancelled, every failure with its reason and every order still working will appear here.</p>"
)


class ResultsPane(QTextBrowser):
    """The session's kills as selectable text; ``reports`` holds them, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsPane")
        self.setAccessibleName("resultsPane")
        self.setAccessibleDescription("Results of each kill this session, newest first")
        self.setOpenLinks(False)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.reports: list[CancelReport] = []
        self.notices: list[str] = []
        self.setHtml(_EMPTY)

    def add_notice(self, sentence: str) -> None:
        """Show a warning (e.g. a kill interrupted by a crash) above everything else."""
        self.notices.append(sentence)
        self._insert_on_top(
            "<table width='100%' cellpadding='6' style='background:#f9a825; color:#000000'><tr>"
            f"<td><b>{html.escape(sentence)}</b></td></tr></table>"
        )

    def add_report(self, report: CancelReport, known: Mapping[str, Order] | None = None) -> None:
        """Show a finished kill above the earlier ones. ``known`` describes orders by id."""
        self.reports.append(report)
        self._insert_on_top(render_report(report, known or {}, len(self.reports)))

    def _insert_on_top(self, block: str) -> None:
        if len(self.reports) + len(self.notices) == 1:
            self.setHtml(block)
        else:
            # Insert above the earlier kills rather than rebuilding the whole document, so a
            # session of big kills does not get slower to show with every kill.
            cursor = QTextCursor(self.document())
            cursor.movePosition(QTextCursor.MoveOperation.Start)
            cursor.insertHtml(block + "<hr/>")
            self.moveCursor(QTextCursor.MoveOperation.Start)
        self.verticalScrollBar().setValue(0)


def _describe(orderid: str, known: Mapping[str, Order]) -> str:
    order = known.get(orderid)
    if order is None:
        return f"#{html.escape(orderid)}"
    return html.escape(order.describe())


def _rows(title: str, colour: str, lines: list[str]) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{line}</li>" for line in lines)
    return (
        f"<p style='margin:8px 0 2px 0; color:{colour}; font-weight:bold'>{html.escape(title)}</p>"
        f"<ul style='margin-top:0'>{items}</ul>"
    )


def render_report(report: CancelReport, known: Mapping[str, Order], number: int) -> str:
    """One kill as HTML; every piece of server text is escaped."""
    bg, fg = _VERDICT_CSS[report.verdict]
    when = time.strftime("%H:%M:%S", time.localtime(report.started_at))
    mode = report.mode.upper() if report.mode in ("live", "analyze") else "MODE UNKNOWN"
    head = (
        f"<table width='100%' cellpadding='6' style='background:{bg}; color:{fg}'><tr>"
        f"<td><b>Kill {number} · {when} · {html.escape(report.verdict.headline)}</b></td></tr></table>"
    )
    facts = [
        f"Trigger: {html.escape(report.trigger)}"
        + (f" (+{report.joined} joined)" if report.joined else "")
        + f" · {html.escape(report.server)} · {mode} · strategy {html.escape(report.strategy)}",
        f"Server said: {html.escape(report.message) if report.message else '(nothing)'}",
        html.escape(report.summary()),
    ]
    body = "".join(f"<p style='margin:4px 0'>{line}</p>" for line in facts)

    # What still needs the trader comes first: orders still working, then failures.
    label = "Still working at the end" if report.remaining_verified else "Last seen working (not re-checked)"
    remaining = [
        f"{html.escape(o.describe())} [{html.escape(o.status) or 'no status'}]" for o in report.remaining
    ]
    body += _rows(f"{label} ({len(remaining)})", "#ffb74d", remaining)

    failed = [
        f"{_describe(f.orderid, known) if f.orderid else 'order id not given'} — "
        f"{html.escape(f.reason) if f.reason else 'the server gave no reason'}"
        for f in report.failures
    ]
    body += _rows(f"Failed to cancel ({len(failed)})", "#ef9a9a", failed)

    finished = [
        f"{_describe(o, known)} — already finished when the sweep reached it" for o in report.already_finished
    ]
    body += _rows(f"Already finished ({len(finished)})", "#b0bec5", finished)

    cancelled = [f"{_describe(o, known)} — by the sweep" for o in report.canceled_by_sweep]
    cancelled += [f"{_describe(o, known)} — by the server" for o in report.canceled_by_server]
    body += _rows(f"Cancelled ({len(cancelled)})", "#81c784", cancelled)

    body += _rows("Notes", "#b0bec5", [html.escape(e) for e in report.errors])

    timings = []
    if report.trigger_to_response_ms is not None:
        timings.append(f"cancel-all answered {report.trigger_to_response_ms:.0f} ms after the trigger")
    if report.trigger_to_verified_ms is not None:
        timings.append(f"verified {report.trigger_to_verified_ms:.0f} ms after the trigger")
    timings.append(f"total {report.elapsed_ms:.0f} ms")
    if report.sweep_rounds:
        timings.append(f"{report.sweep_rounds} sweep round{'s' if report.sweep_rounds > 1 else ''}")
    body += f"<p style='margin:6px 0; color:#8a93a3'>Timings: {', '.join(timings)}.</p>"
    return head + body
