"""Each kill of the session, newest on top: verdict, trigger, the server's message, the orders
cancelled (by the server or by the sweep), the failures with their reasons, the orders still
working at the end, and the timings. Read-only, selectable and copyable.

Each list shows at most ``MAX_LISTED`` orders and says how many more there are and where the full
list is (History and its export, when the window keeps a kill record): a kill of 10,000 orders
must not stall the window for seconds while Qt lays out 10,000 lines. Adding a kill costs only
that kill (its block is inserted above the earlier ones, which are never re-rendered).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Final, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QTextBrowser, QWidget

from core.market_time import ist_clock
from core.orders import Order
from core.report import CancelReport, Verdict

T = TypeVar("T")

MAX_LISTED: Final = 50  # orders listed per section of a kill; the rest are counted
WITH_HISTORY: Final = "full list in History / Export"
WITHOUT_HISTORY: Final = "not listed here"

_VERDICT_CSS = {
    Verdict.FLAT: ("#2e7d32", "#ffffff"),
    Verdict.ORDERS_REMAIN: ("#f9a825", "#000000"),
    Verdict.POSITIONS_REMAIN: ("#f9a825", "#000000"),
    Verdict.UNVERIFIED: ("#f9a825", "#000000"),
    Verdict.REFUSED: ("#b71c1c", "#ffffff"),
    Verdict.UNREACHABLE: ("#b71c1c", "#ffffff"),
}

_EMPTY = (
    "<p style='color:#8a93a3'>No kill yet this session. Each kill's verdict, every order it "
    "cancelled, every failure with its reason and every order still working will appear here.</p>"
)


class ResultsPane(QTextBrowser):
    """The session's kills as selectable text; ``reports`` holds them, oldest first.

    ``history`` says whether the full lists can be found in the window's History (a kill
    record is kept); the pane says where the orders it does not list are.
    """

    def __init__(self, parent: QWidget | None = None, *, history: bool = True) -> None:
        super().__init__(parent)
        self.history = history
        self.setObjectName("resultsPane")
        self.setAccessibleName("resultsPane")
        self.setAccessibleDescription("Results of each kill this session, newest first")
        self.setOpenLinks(False)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        # Lists indented by a bullet's width, not Qt's 40 px: the pane sits beside the order book
        # and every pixel of it is for the orders' lines.
        self.document().setIndentWidth(14)
        self.document().setDocumentMargin(6)
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

    def add_steps(self, report: CancelReport) -> None:
        """What the guard and the halt did after a kill's verdict (they run on after it)."""
        body = steps_html(
            replace(report, flatten=None, flatten_skipped=""),
            WITH_HISTORY if self.history else WITHOUT_HISTORY,
        )
        if body:
            head = f"<p style='margin:4px 0'><b>After the kill on {html.escape(report.server)}:</b></p>"
            self.notices.append(head)
            self._insert_on_top(head + body)

    def add_report(self, report: CancelReport, known: Mapping[str, Order] | None = None) -> None:
        """Show a finished kill above the earlier ones. ``known`` describes orders by id."""
        self.reports.append(report)
        more = WITH_HISTORY if self.history else WITHOUT_HISTORY
        self._insert_on_top(render_report(report, known or {}, len(self.reports), more=more))

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


def _rows(
    title: str,
    colour: str,
    items: Sequence[T],
    line: Callable[[T], str],
    more: str,
    *,
    total: int | None = None,
) -> str:
    """A titled list of ``total`` items (all of ``items`` unless given; the title counts them
    all); only the first ``MAX_LISTED`` of ``items`` are formatted and listed, then one line says
    how many more and where they are."""
    count = len(items) if total is None else total
    if not count:
        return ""
    lines = [line(item) for item in items[:MAX_LISTED]]
    if count > MAX_LISTED:
        lines.append(f"<i>… and {count - MAX_LISTED:,} more ({html.escape(more)})</i>")
    listed = "".join(f"<li>{text}</li>" for text in lines)
    return (
        f"<p style='margin:8px 0 2px 0; color:{colour}; font-weight:bold'>"
        f"{html.escape(title)} ({count:,})</p>"
        f"<ul style='margin-top:0'>{listed}</ul>"
    )


def counts_sentence(report: CancelReport) -> str:
    """What the kill did, in counts; the verdict and the server's words are said elsewhere."""
    parts = []
    if report.interrupted:
        parts.append("The kill was interrupted before its verdict: check the order book in OpenAlgo.")
    parts.append(
        f"{len(report.canceled_by_server):,} cancelled by the server, {len(report.canceled_by_sweep):,} by "
        "the sweep" + (f", {len(report.failures):,} failed" if report.failures else "") + "."
    )
    if report.remaining:
        seen = "still working" if report.remaining_verified else "last seen working (not re-checked)"
        parts.append(f"{len(report.remaining):,} {seen}.")
    if report.missing:
        parts.append(f"{len(report.missing):,} known orders were missing from the final read.")
    return " ".join(parts)


def unsaid_notes(report: CancelReport) -> list[str]:
    """The report's notes that the server's message does not already say: one sentence once (a
    502 is both the message "Cancel-all was not sent: <why>" and the note "<why>")."""
    return [note for note in report.errors if note not in report.message]


def steps_html(report: CancelReport, more: str) -> str:
    """The positions, the guard and the halt of one kill, when its scope asked for them."""
    body = ""
    flatten = report.flatten
    if flatten is not None:
        body += _rows(
            "Positions still open",
            "#ffb74d",
            flatten.remaining,
            lambda left: f"{html.escape(left.position.describe())} — {html.escape(left.reason)}",
            more,
        )
        closed = [(p, "closeposition") for p in flatten.closed_by_server]
        closed += [(p, "its own closing order") for p in flatten.closed_by_sweep]
        body += _rows(
            "Positions closed", "#81c784", closed, lambda c: f"{html.escape(c[0].describe())} — {c[1]}", more
        )
    elif report.flatten_skipped:
        body += f"<p style='margin:4px 0; color:#ffb74d'>{html.escape(report.flatten_skipped)}</p>"
        body += _rows(
            "Positions still open",
            "#ffb74d",
            report.open_positions,
            lambda p: html.escape(p.describe()),
            more,
        )
    guard = report.guard
    if guard is not None:
        ended = f" (released early: {html.escape(guard.stopped_early)})" if guard.stopped_early else ""
        body += (
            f"<p style='margin:4px 0'>Held flat {guard.ran_s:.0f} of {guard.seconds:.0f} s{ended}: "
            f"caught {len(guard.caught)} orders and {len(guard.positions_closed)} positions; at most "
            f"{guard.max_working_seen} working at once; at the end {guard.outcome.replace('_', ' ')}.</p>"
        )
        body += _rows(
            "The guard could not undo",
            "#ef9a9a",
            guard.failures,
            lambda c: f"{html.escape(c.what)} — {html.escape(c.reason)}",
            more,
        )
    if report.halt is not None:
        colour = "#ef5350" if report.halt.halted else "#b0bec5"
        body += f"<p style='margin:4px 0; color:{colour}'><b>{html.escape(report.halt.reason)}</b></p>"
    return body


def render_report(
    report: CancelReport, known: Mapping[str, Order], number: int, *, more: str = WITH_HISTORY
) -> str:
    """One kill as HTML; every piece of server text is escaped, and each sentence is said once.
    Each list names at most ``MAX_LISTED`` orders; ``more`` says where the rest are."""
    bg, fg = _VERDICT_CSS[report.verdict]
    when = ist_clock(report.started_at)
    mode = report.mode.upper() if report.mode in ("live", "analyze") else "mode not known"
    head = (
        f"<table width='100%' cellpadding='6' style='background:{bg}; color:{fg}'><tr>"
        f"<td><b>Kill {number} · {when} · {html.escape(report.verdict.headline)}</b></td></tr></table>"
    )
    facts = [
        f"Fired by {html.escape(report.trigger)}"
        + (f" (+{report.joined} joined)" if report.joined else "")
        + f" · {mode} · strategy {html.escape(report.strategy)} · {html.escape(report.server)}",
        f"Server said: {html.escape(report.message) if report.message else '(nothing)'}",
        html.escape(counts_sentence(report)),
    ]
    body = "".join(f"<p style='margin:4px 0'>{line}</p>" for line in facts)
    refusal = report.message

    def reason(text: str) -> str:
        if not text:
            return "the server gave no reason"
        # A refused kill fails every order with the refusal the server said once above.
        return "refused, as the server said above" if text == refusal else html.escape(text)

    # What still needs the trader comes first: orders still working, then failures.
    label = "Still working at the end" if report.remaining_verified else "Last seen working (not re-checked)"
    body += _rows(
        label,
        "#ffb74d",
        report.remaining,
        lambda o: f"{html.escape(o.describe())} [{html.escape(o.status) or 'no status'}]",
        more,
    )
    body += _rows(
        "Failed to cancel",
        "#ef9a9a",
        report.failures,
        lambda f: (
            f"{_describe(f.orderid, known) if f.orderid else 'order id not given'} — {reason(f.reason)}"
        ),
        more,
    )
    body += _rows(
        "Already finished",
        "#b0bec5",
        report.already_finished,
        lambda o: f"{_describe(o, known)} — already finished when the sweep reached it",
        more,
    )
    # Two lists, as History has them: each line is then just the order, short enough not to
    # wrap in a pane beside the order book.
    body += _rows(
        "Cancelled by the sweep", "#81c784", report.canceled_by_sweep, lambda o: _describe(o, known), more
    )
    body += _rows(
        "Cancelled by the server", "#81c784", report.canceled_by_server, lambda o: _describe(o, known), more
    )
    body += steps_html(report, more)
    body += _rows("Notes", "#b0bec5", unsaid_notes(report), html.escape, more)

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
