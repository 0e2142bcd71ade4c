"""Past kills from the durable record: one line per kill, its details below, and the export.

The list reads ``KillRecord.history()`` (newest first): time, trigger, server, mode, verdict and
counts; a kill the app never finished shows as INTERRUPTED. Selecting a kill shows everything
recorded about it (``KillRecord.details``): each order's outcome with its reason, the server's
message, notes, timings and every request and reply (key removed). "Export CSV…" and "Export
JSON…" write every kill for an incident report; where to is asked through ``choose_path``
(``QFileDialog`` by default), so tests pass a function instead of a blocking dialog.
"""

from __future__ import annotations

import html
import sqlite3
import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.market_time import ist, ist_date_time
from core.orders import Order
from core.positions import Position
from core.record import KillDetails, KillRecord, KillState, KillSummary, Outcome

# (parent, caption, suggested file name, filter) -> chosen path, or "" when cancelled.
PathChooser = Callable[[QWidget, str, str, str], str]

COLUMNS = ("Time (IST)", "Trigger", "Server", "Mode", "Verdict", "Cancelled", "Failed", "Remaining")
MODE_COLUMN = COLUMNS.index("Mode")
HISTORY_LIMIT = 1000
MODE_NOT_KNOWN = "The server never said which mode it was in (unreachable, key rejected, or cut short)."

INTERRUPTED_DETAIL = (
    "Interrupted: the app stopped (closed or crashed) during this kill, so its outcome was never "
    "recorded — check the order book in OpenAlgo."
)

_OUTCOME_TITLES = {
    Outcome.REMAINING: "Still working at the end",
    Outcome.FAILED: "Failed to cancel",
    Outcome.ALREADY_FINISHED: "Already finished",
    Outcome.CANCELLED_BY_SWEEP: "Cancelled by the sweep",
    Outcome.CANCELLED_BY_SERVER: "Cancelled by the server",
    Outcome.MISSING: "Missing from the final read of the book",
    Outcome.POSITION_REMAINING: "Positions still open",
    Outcome.POSITION_CLOSED: "Positions closed",
    Outcome.GUARD_FAILED: "The guard could not undo",
    Outcome.GUARD_CANCELLED: "Cancelled by the guard (placed after the kill)",
    Outcome.GUARD_POSITION_CLOSED: "Positions the guard closed",
}
_POSITION_OUTCOMES = frozenset(
    {Outcome.POSITION_REMAINING, Outcome.POSITION_CLOSED, Outcome.GUARD_POSITION_CLOSED}
)


def ask_save_path(parent: QWidget, caption: str, suggested: str, file_filter: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, caption, suggested, file_filter)
    return path


def mode_text(mode: str) -> str:
    """LIVE, ANALYZE, or a dash for a kill that never learned its mode (the server did not answer
    with it: unreachable, a rejected key, or a kill cut short)."""
    return mode.upper() if mode in ("live", "analyze") else "—"


def verdict_text(summary: KillSummary) -> str:
    if summary.state is KillState.INTERRUPTED:
        return "INTERRUPTED"
    if summary.state is KillState.RUNNING:
        return "RUNNING"
    return (summary.verdict or "").replace("_", " ").upper()


class HistoryDialog(QDialog):
    """Past kills, their details, and the CSV/JSON export. Non-modal; :meth:`refresh` reloads."""

    def __init__(
        self,
        record: KillRecord,
        *,
        choose_path: PathChooser = ask_save_path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("historyDialog")
        self.setWindowTitle("Kill history")
        self.record = record
        self.choose_path = choose_path
        self.summaries: list[KillSummary] = []

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("historyTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_selected)

        self.details = QTextBrowser()
        self.details.setObjectName("historyDetails")
        self.details.setOpenLinks(False)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setSizes([260, 360])

        self.status = QLabel("")
        self.status.setObjectName("historyStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.setToolTip("Every kill, one row per order, for a spreadsheet")
        self.export_csv_button.clicked.connect(self.export_csv)
        self.export_json_button = QPushButton("Export JSON…")
        self.export_json_button.setObjectName("exportJsonButton")
        self.export_json_button.setToolTip("Every kill with every request and reply (key removed)")
        self.export_json_button.clicked.connect(self.export_json)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.export_csv_button)
        buttons.addWidget(self.export_json_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self.resize(980, 680)
        self.refresh()

    # -- the list -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the list from the record, keeping the selected kill selected."""
        selected = self.selected_kill()
        try:
            self.summaries = self.record.history(HISTORY_LIMIT)
        except sqlite3.Error as exc:
            self.status.setText(f"The kill record could not be read ({exc}).")
            return
        self.table.setRowCount(len(self.summaries))
        for row, summary in enumerate(self.summaries):
            when = ist(summary.started_at).strftime("%Y-%m-%d %H:%M:%S")
            cells = (
                when,
                summary.trigger,
                summary.server,
                mode_text(summary.mode),
                verdict_text(summary),
                str(summary.cancelled),
                str(summary.failed),
                str(summary.remaining),
            )
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, summary.kill_id)
                if column == MODE_COLUMN and value == "—":
                    item.setToolTip(MODE_NOT_KNOWN)
                if column >= 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        if not self.summaries:
            self.details.setHtml("<p>No kill has been recorded yet.</p>")
            return
        ids = [s.kill_id for s in self.summaries]
        self.table.selectRow(ids.index(selected) if selected in ids else 0)

    def selected_kill(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.summaries[rows[0].row()].kill_id

    def select_kill(self, kill_id: int) -> None:
        for row, summary in enumerate(self.summaries):
            if summary.kill_id == kill_id:
                self.table.selectRow(row)
                return

    def _show_selected(self) -> None:
        kill_id = self.selected_kill()
        if kill_id is None:
            return
        try:
            details = self.record.details(kill_id)
        except sqlite3.Error as exc:
            self.status.setText(f"The kill record could not be read ({exc}).")
            return
        if details is not None:
            self.details.setHtml(render_details(details))

    # -- export ---------------------------------------------------------------------------

    def export_csv(self) -> None:
        self._export("CSV", "csv", "CSV files (*.csv)")

    def export_json(self) -> None:
        self._export("JSON", "json", "JSON files (*.json)")

    def _export(self, kind: str, suffix: str, file_filter: str) -> None:
        suggested = f"killswitch-kills-{time.strftime('%Y%m%d-%H%M%S')}.{suffix}"
        path = self.choose_path(self, f"Export every kill as {kind}", suggested, file_filter)
        if not path:
            return
        try:
            if suffix == "csv":
                rows = self.record.export_csv(path)
                what = f"{rows} row{'s' if rows != 1 else ''}"
            else:
                kills = self.record.export_json(path)
                what = f"{kills} kill{'s' if kills != 1 else ''}"
        except OSError as exc:
            self.status.setText(
                f"The export could not be written to {path} ({exc.strerror or 'disk error'})."
            )
            return
        except sqlite3.Error as exc:
            self.status.setText(f"The kill record could not be read for the export ({exc}).")
            return
        self.status.setText(f"Exported {what} as {kind} to {path}.")


def render_details(details: KillDetails) -> str:
    """Everything recorded about one kill, as HTML; every recorded text is escaped."""
    s = details.summary
    e = html.escape
    when = ist_date_time(s.started_at)
    mode = s.mode.upper() if s.mode in ("live", "analyze") else "mode not known"
    parts = [f"<h3>Kill {s.kill_id} · {e(when)} · {e(verdict_text(s))}</h3>"]
    if s.state is KillState.INTERRUPTED:
        parts.append(
            f"<p style='background:#f9a825; color:#000000; padding:4px'><b>{e(INTERRUPTED_DETAIL)}</b></p>"
        )
    facts = [
        f"Trigger: {e(s.trigger)}" + (f" (+{details.joined} joined)" if details.joined else ""),
        f"Server: {e(s.server)} · {mode} · strategy {e(details.strategy) or '(not recorded)'}",
        f"Server said: {e(s.message) if s.message else '(nothing)'}",
    ]
    timings = []
    if details.trigger_to_response_ms is not None:
        timings.append(f"cancel-all answered {details.trigger_to_response_ms:.0f} ms after the trigger")
    if s.trigger_to_verified_ms is not None:
        timings.append(f"verified {s.trigger_to_verified_ms:.0f} ms after the trigger")
    if s.elapsed_ms is not None:
        timings.append(f"total {s.elapsed_ms:.0f} ms")
    if timings:
        facts.append("Timings: " + ", ".join(timings) + ".")
    parts += [f"<p style='margin:3px 0'>{line}</p>" for line in facts]
    if details.errors:
        parts.append(
            "<p><b>Notes</b></p><ul>" + "".join(f"<li>{e(n)}</li>" for n in details.errors) + "</ul>"
        )
    for outcome, title in _OUTCOME_TITLES.items():
        rows = [o for o in details.outcomes if o.outcome is outcome]
        if not rows:
            continue
        lines = []
        for o in rows:
            # As the results pane says it: "SELL 406 SBIN LIMIT @ 812.5 (#2611…)", never "406.0".
            if outcome in _POSITION_OUTCOMES:
                line = e(Position.from_json(o.order).describe())
            else:
                line = e(Order.from_json({**o.order, "orderid": o.orderid}).describe())
            if o.reason:
                line += f" — {e(o.reason)}"
            lines.append(f"<li>{line}</li>")
        parts.append(f"<p><b>{e(title)} ({len(rows)})</b></p><ul>{''.join(lines)}</ul>")
    if details.exchanges:
        items = []
        for x in details.exchanges:
            status = "no reply" if x.http_status is None else f"HTTP {x.http_status}"
            reply = x.reply if len(x.reply) <= 400 else x.reply[:400] + "…"
            line = f"{e(x.endpoint)} · {status} · {x.elapsed_ms:.0f} ms"
            if x.error:
                line += f" · {e(x.error)}"
            items.append(f"<li>{line}<br/><code>{e(reply)}</code></li>")
        parts.append(f"<p><b>Requests and replies ({len(items)})</b></p><ul>{''.join(items)}</ul>")
    return "".join(parts)
