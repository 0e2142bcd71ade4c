"""The big red button: its live blast radius, its mode band, hold-to-fire, progress and verdict.

The button only *asks* to fire: it emits ``fireRequested`` once the gesture its firing policy
wants is complete (a click for immediate and confirm, a full hold for hold-to-fire). The main
window decides what happens next (the confirm dialog, then the kill lane).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QElapsedTimer, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.market_time import ist_clock
from core.report import CancelReport, KillProgress, Verdict
from core.settings import FiringPolicy

FIRE_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter)

# Colours, named for what they mean. LIVE and ANALYZE must never be mistaken for each other:
# LIVE is hazard amber with black text, ANALYZE (OpenAlgo's sandbox) is a calm blue.
RED = QColor("#c62828")
RED_HOVER = QColor("#d32f2f")
RED_DOWN = QColor("#8e1b1b")
RED_FILL = QColor("#ff5252")
RED_BUSY = QColor("#6d1f1f")
LIVE_BAND = QColor("#ffb300")
ANALYZE_BAND = QColor("#1e88e5")
UNKNOWN_BAND = QColor("#616161")
WARN_BG = QColor(20, 0, 0, 170)
VERDICT_COLOURS = {
    Verdict.FLAT: QColor("#2e7d32"),
    Verdict.ORDERS_REMAIN: QColor("#f9a825"),
    Verdict.POSITIONS_REMAIN: QColor("#f9a825"),
    Verdict.UNVERIFIED: QColor("#f9a825"),
    Verdict.REFUSED: QColor("#b71c1c"),
    Verdict.UNREACHABLE: QColor("#b71c1c"),
}
VERDICT_TEXT_DARK = {Verdict.ORDERS_REMAIN, Verdict.POSITIONS_REMAIN, Verdict.UNVERIFIED}


def verdict_colour(verdict: Verdict) -> QColor:
    return QColor(VERDICT_COLOURS[verdict])


def mode_band(mode: str) -> tuple[QColor, QColor, str]:
    """Background, text colour and words of the band that says LIVE or ANALYZE."""
    if mode == "live":
        return LIVE_BAND, QColor("black"), "LIVE — REAL ORDERS AT THE BROKER"
    if mode == "analyze":
        return ANALYZE_BAND, QColor("white"), "ANALYZE — OpenAlgo sandbox, no real orders"
    return UNKNOWN_BAND, QColor("white"), "MODE NOT KNOWN YET"


class PanicButton(QAbstractButton):
    """The panic button. Reachable from the keyboard (Space or Enter; held, under hold-to-fire).

    Signals:
        fireRequested(): the firing gesture is complete; the owner applies the rest of the policy.
    """

    fireRequested = Signal()  # noqa: N815 -- Qt signal naming

    HOLD_TICK_MS = 15
    PAINT_HELD_MS = 50  # the longest a press holds the button's repaint back (see hold_paint)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panicButton")
        self.setAccessibleName("panicButton")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover, True)

        self._count: int | None = None
        self._server = ""
        self._mode = "unknown"
        self._policy = FiringPolicy.HOLD
        self._hold_ms = 600
        self._warning = ""
        self._killing = False
        self._scope_line = ""
        self._elapsed = ""
        self._progress: KillProgress | None = None
        self._report: CancelReport | None = None
        self._report_time = ""
        self._hint = ""
        self._demo = False
        self._strip_key = ""
        self._strip_cache: _StripFonts | None = None
        self._headline_cache: dict[tuple[str, str, float, float], tuple[QFont, int, QFont, QFontMetrics]] = {}
        self._headline_hint: float | None = None
        self._refresh_pending = False  # a progress refresh waits for the next turn
        self._background_key: tuple[object, ...] = ()
        self._background_pixmap: QPixmap | None = None

        self._holding = False
        self._hold_fired = False
        self._released_fire = False  # this mouse release already fired; its clicked must not
        self._hold_clock = QElapsedTimer()
        self._hold_timer = QTimer(self)
        self._hold_timer.setInterval(self.HOLD_TICK_MS)
        self._hold_timer.timeout.connect(self._hold_tick)
        self._paint_timer = QTimer(self)
        self._paint_timer.setSingleShot(True)
        self._paint_timer.setInterval(self.PAINT_HELD_MS)
        self._paint_timer.timeout.connect(self._release_paint)
        self.clicked.connect(self._on_clicked)
        self._refresh()

    # -- what the button shows -----------------------------------------------------------

    def set_blast_radius(self, count: int | None, server: str, mode: str) -> None:
        """How many working orders a kill would cancel right now, where, and in which mode."""
        self._count = count
        self._server = server
        self._mode = mode if mode in ("live", "analyze") else "unknown"
        self._refresh()

    def set_policy(self, policy: FiringPolicy, hold_ms: int) -> None:
        self._policy = policy
        self._hold_ms = max(1, hold_ms)
        self._cancel_hold()
        self._hint = ""
        self._refresh()

    def set_scope_line(self, line: str) -> None:
        """What a press does beyond this server's orders ("Cancel 37 orders on 3 servers · close 3
        positions · hold 5 min"): shown in place of the server line when there is more to say."""
        if line != self._scope_line:
            self._scope_line = line
            self._refresh()

    def set_warning(self, warning: str) -> None:
        """A problem a trader must see before pressing (server down, key rejected, Semi-Auto)."""
        self._warning = warning
        self._refresh()

    def set_demo(self, demo: bool) -> None:
        self._demo = demo
        self._refresh()

    def hold_paint(self) -> None:
        """A kill is being sent: no repaint of the button until its cancel-all is on the wire
        (:meth:`kill_started`), or :data:`PAINT_HELD_MS` at most.

        The repaint a press sets off (the button coming back up) is 1-2 ms of Python on the UI
        thread, holding the interpreter lock that the kill thread needs to write the request;
        a frame later, after the request, nobody sees the difference."""
        if self.updatesEnabled():
            self.setUpdatesEnabled(False)
            self._paint_timer.start()

    def _release_paint(self) -> None:
        self._paint_timer.stop()
        if not self.updatesEnabled():
            self.setUpdatesEnabled(True)  # and one repaint of the whole button

    def kill_started(self) -> None:
        self._release_paint()
        self._killing = True
        self._progress = None
        self._elapsed = ""
        self._cancel_hold()
        self._refresh()

    def set_elapsed(self, elapsed: str) -> None:
        """How long the running kill has taken so far ("3.2 s so far"), shown with its progress."""
        if self._killing and elapsed != self._elapsed:
            self._elapsed = elapsed
            self._refresh()

    def kill_progress(self, progress: KillProgress) -> None:
        # A sweep's progress arrives in bursts (dozens in one event-loop turn when the UI thread
        # was kept waiting): what the button says is worked out once per turn, for the last one.
        self._progress = progress
        if not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self, self._refresh_now)

    def _refresh_now(self) -> None:
        if self._refresh_pending:
            self._refresh()

    def kill_finished(self, report: CancelReport) -> None:
        self._killing = False
        self._progress = None
        self._report = report
        self._report_time = ist_clock(report.started_at)
        self._refresh()

    # -- read back (tests, accessibility, the screenshot) ----------------------------------

    @property
    def policy(self) -> FiringPolicy:
        return self._policy

    @property
    def killing(self) -> bool:
        return self._killing

    @property
    def holding(self) -> bool:
        return self._holding

    def hold_fraction(self) -> float:
        if not self._holding:
            return 1.0 if self._hold_fired else 0.0
        return min(1.0, self._hold_clock.elapsed() / self._hold_ms)

    def headline(self) -> str:
        if self._killing:
            return "CANCELLING ALL ORDERS…"
        if self._count is None:
            return "CANCEL ALL WORKING ORDERS"
        if self._count == 0:
            return "CANCEL ALL ORDERS · NONE WORKING NOW"
        noun = "ORDER" if self._count == 1 else "ORDERS"
        return f"CANCEL ALL {self._count} WORKING {noun}"

    def how_to_fire(self) -> str:
        if self._hint:
            return self._hint
        if self._policy is FiringPolicy.HOLD:
            return f"Press and hold (mouse, Space or Enter) for {self._hold_ms / 1000:.1f} s to fire"
        if self._policy is FiringPolicy.CONFIRM:
            return "Click or press Space, then confirm"
        return "Click or press Space to fire at once"

    def detail_line(self) -> str:
        if self._killing:
            doing = self._progress.text if self._progress else "Sending cancel-all…"
            return f"{doing} · {self._elapsed}" if self._elapsed else doing
        if self._scope_line:
            return self._scope_line
        return f"on {self._server}" if self._server else "no server set"

    def verdict_line(self) -> str:
        if self._report is None:
            return ""
        return f"Last kill {self._report_time} · {self._report.verdict.headline}"

    def description(self) -> str:
        """Everything the button says, as one line (accessible description and tooltip)."""
        parts = [self.headline(), self.detail_line(), mode_band(self._mode)[2]]
        if self._warning:
            parts.append(self._warning)
        if not self._killing:
            parts.append(self.how_to_fire())
        if self._report is not None:
            parts.append(self.verdict_line())
        return " · ".join(p for p in parts if p)

    def sizeHint(self) -> QSize:  # noqa: N802 -- Qt override
        return QSize(760, 250)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 -- Qt override
        return QSize(420, 200)

    # -- the firing gesture --------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 -- Qt override
        if self._policy is FiringPolicy.HOLD and event.button() == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self._start_hold()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 -- Qt override
        if self._policy is FiringPolicy.HOLD and event.button() == Qt.MouseButton.LeftButton:
            self._end_hold()
            event.accept()
            return
        if (
            event.button() == Qt.MouseButton.LeftButton
            and self.isDown()
            and self.hitButton(event.position().toPoint())
        ):
            # Qt repaints the button (this class's whole paintEvent) before it emits clicked;
            # the trigger goes first, and the repaint runs while the request is on its way.
            self._released_fire = True
            try:
                self.fireRequested.emit()
                super().mouseReleaseEvent(event)
            finally:
                self._released_fire = False
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 -- Qt override
        if event.key() not in FIRE_KEYS:
            super().keyPressEvent(event)
            return
        event.accept()
        if event.isAutoRepeat():  # a held key repeats; only the first press counts
            return
        if self._policy is FiringPolicy.HOLD:
            self._start_hold()
        else:
            self.click()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 -- Qt override
        if event.key() not in FIRE_KEYS:
            super().keyReleaseEvent(event)
            return
        event.accept()
        if event.isAutoRepeat():
            return
        if self._policy is FiringPolicy.HOLD:
            self._end_hold()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 -- Qt override
        if self._holding:
            self._end_hold()
        super().focusOutEvent(event)

    def _on_clicked(self) -> None:
        if self._policy is not FiringPolicy.HOLD and not self._released_fire:
            self.fireRequested.emit()

    def _start_hold(self) -> None:
        if self._holding:
            return
        self._holding = True
        self._hold_fired = False
        self._hint = ""
        self.setDown(True)
        self._hold_clock.start()
        self._hold_timer.start()
        self._refresh()

    def _end_hold(self) -> None:
        if not self._holding and not self._hold_fired:
            return
        early = self._holding and not self._hold_fired
        self._cancel_hold()
        if early:
            self._hint = f"Released early: nothing was sent. Hold for {self._hold_ms / 1000:.1f} s to fire"
        self._refresh()

    def _cancel_hold(self) -> None:
        self._holding = False
        self._hold_fired = False
        self._hold_timer.stop()
        self.setDown(False)

    def _hold_tick(self) -> None:
        if not self._holding:
            self._hold_timer.stop()
            return
        if self._hold_clock.elapsed() >= self._hold_ms and not self._hold_fired:
            self._hold_fired = True
            self._holding = False
            self._hold_timer.stop()
            self.update()
            self.fireRequested.emit()
            return
        self.update()

    def _refresh(self) -> None:
        self._refresh_pending = False
        description = self.description()
        self.setText(self.headline())
        self.setAccessibleDescription(description)
        self.setToolTip(description)
        self.update()

    # -- painting --------------------------------------------------------------------------

    # Fonts are built and measured once per base font and headline/space, not on every paint: a
    # paint that fitted the headline from scratch built up to 28 fonts (9-13 ms during a kill).

    def _strip_fonts(self) -> _StripFonts:
        key = self.font().key()
        if self._strip_key != key or self._strip_cache is None:
            self._strip_key, self._strip_cache = key, _strip_fonts(self.font())
        return self._strip_cache

    def _headline_fonts(
        self, text: str, width: float, height: float
    ) -> tuple[QFont, int, QFont, QFontMetrics]:
        """The headline's font (as large as fits) and line height, the smaller lines' font and its
        metrics."""
        key = (self.font().key(), text, width, height)
        cached = self._headline_cache.get(key)
        if cached is not None:
            return cached
        base = QFont(self.font())
        base.setBold(True)
        base.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 104)
        start = max(14.0, min(40.0, height * 0.30))
        size = _headline_size(base, text, width, start, self._headline_hint)
        self._headline_hint = size
        headline = QFont(base)
        headline.setPointSizeF(size)
        small = QFont(self.font())
        small.setPointSizeF(max(10.0, min(14.0, size * 0.42)))
        if len(self._headline_cache) >= 32:  # counts change all day: keep the recent few
            self._headline_cache.clear()
        self._headline_cache[key] = (headline, QFontMetrics(headline).height(), small, QFontMetrics(small))
        return self._headline_cache[key]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 -- Qt override
        # The rounded body, the hold fill, the mode band and the bottom strips change a few
        # times a day; the lines of text in the middle change on every progress of a kill. The
        # first are drawn once into a pixmap (antialiased, clipped to the rounded outline: the
        # costly part) and each paint copies it, then writes the text over it.
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        radius = 14.0
        background, band, bottom = self._background(rect, radius)
        painter.drawPixmap(0, 0, background)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        # The headline, as large as fits, with the detail and the way to fire below it.
        middle = QRectF(rect.left() + 20, band.bottom() + 6, rect.width() - 40, bottom - band.bottom() - 12)
        headline_font, head_h, small, small_metrics = self._headline_fonts(
            self.headline(), middle.width(), middle.height()
        )
        small_h = small_metrics.height()
        block = head_h + 2 * small_h + 10
        top = middle.top() + max(0.0, (middle.height() - block) / 2)
        painter.setFont(headline_font)
        painter.setPen(QColor("white"))
        painter.drawText(
            QRectF(middle.left(), top, middle.width(), head_h), Qt.AlignmentFlag.AlignCenter, self.headline()
        )
        painter.setFont(small)
        painter.setPen(QColor(255, 255, 255, 225))
        line2 = QRectF(middle.left(), top + head_h + 4, middle.width(), small_h)
        if self._killing and self._progress is not None and self._progress.total:
            bar = QRectF(middle.left() + middle.width() * 0.2, line2.top() + 2, middle.width() * 0.6, 8)
            painter.fillRect(bar, QColor(255, 255, 255, 60))
            done = bar.adjusted(0, 0, -bar.width() * (1 - self._progress.done / self._progress.total), 0)
            painter.fillRect(done, QColor("white"))
            line2.translate(0, 12)
        painter.drawText(
            line2,
            Qt.AlignmentFlag.AlignCenter,
            _elide(self.detail_line(), small_metrics, int(middle.width())),
        )
        if not self._killing:
            painter.setPen(QColor(255, 255, 255, 190))
            line3 = QRectF(middle.left(), line2.bottom() + 4, middle.width(), small_h)
            painter.drawText(
                line3,
                Qt.AlignmentFlag.AlignCenter,
                _elide(self.how_to_fire(), small_metrics, int(middle.width())),
            )

        if self.hasFocus():
            painter.setPen(QPen(QColor(255, 255, 255, 210), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-1.5, -1.5, 1.5, 1.5), radius + 1, radius + 1)
        painter.end()

    def _background(self, rect: QRectF, radius: float) -> tuple[QPixmap, QRectF, float]:
        """The button without its middle text: from the cache when nothing it shows changed.
        Also the mode band's rectangle and the top of the bottom strips."""
        if self._killing:
            body = RED_BUSY
        elif self.isDown():
            body = RED_DOWN
        elif self.underMouse():
            body = RED_HOVER
        else:
            body = RED
        fraction = self.hold_fraction() if self._policy is FiringPolicy.HOLD else 0.0
        verdict = self._report.verdict if self._report is not None else None
        ratio = self.devicePixelRatioF()
        key = (
            self.size().width(),
            self.size().height(),
            ratio,
            body.rgba(),
            fraction,
            self._mode,
            self._demo,
            verdict,
            self.verdict_line(),
            self._warning,
            self.font().key(),
        )
        band = QRectF(rect.left(), rect.top(), rect.width(), 34)
        bottom = rect.bottom() - (38 if verdict is not None else 0) - (32 if self._warning else 0)
        if self._background_key == key and self._background_pixmap is not None:
            return self._background_pixmap, band, bottom

        pixmap = QPixmap(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        outline = QPainterPath()
        outline.addRoundedRect(rect, radius, radius)
        painter.setClipPath(outline)

        # Body: red, darker while held or busy, with the hold fill sweeping left to right.
        painter.fillRect(rect, body)
        if fraction > 0:
            fill = QRectF(rect.left(), rect.top(), rect.width() * fraction, rect.height())
            painter.fillRect(fill, RED_FILL)

        # Mode band along the top.
        band_bg, band_fg, band_text = mode_band(self._mode)
        painter.fillRect(band, band_bg)
        fonts = self._strip_fonts()
        painter.setFont(fonts.band)
        painter.setPen(band_fg)
        painter.drawText(band.adjusted(16, 0, -16, 0), Qt.AlignmentFlag.AlignVCenter, band_text)
        if self._demo:
            painter.drawText(
                band.adjusted(16, 0, -16, 0),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                "DEMO SERVER",
            )

        # Bottom strips: the last verdict, and above it any warning.
        strip_top = rect.bottom()
        if self._report is not None:
            strip = QRectF(rect.left(), strip_top - 38, rect.width(), 38)
            colour = verdict_colour(self._report.verdict)
            painter.fillRect(strip, colour)
            painter.setFont(fonts.verdict)
            painter.setPen(QColor("black") if self._report.verdict in VERDICT_TEXT_DARK else QColor("white"))
            painter.drawText(
                strip.adjusted(16, 0, -16, 0),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignHCenter,
                fonts.verdict_metrics.elidedText(
                    self.verdict_line(), Qt.TextElideMode.ElideRight, max(10, int(strip.width() - 32))
                ),
            )
            strip_top = strip.top()
        if self._warning:
            strip = QRectF(rect.left(), strip_top - 32, rect.width(), 32)
            painter.fillRect(strip, WARN_BG)
            painter.setFont(fonts.warning)
            painter.setPen(QColor("#ffd54f"))
            painter.drawText(
                strip.adjusted(16, 0, -16, 0),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignHCenter,
                fonts.warning_metrics.elidedText(
                    "⚠ " + self._warning, Qt.TextElideMode.ElideRight, max(10, int(strip.width() - 32))
                ),
            )
        painter.end()
        self._background_key, self._background_pixmap = key, pixmap
        return pixmap, band, bottom


def _elide(text: str, metrics: QFontMetrics, width: int) -> str:
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(10, width))


@dataclass(frozen=True, slots=True)
class _StripFonts:
    """The mode band's, the verdict strip's and the warning strip's fonts, for one base font."""

    band: QFont
    verdict: QFont
    verdict_metrics: QFontMetrics
    warning: QFont
    warning_metrics: QFontMetrics


def _strip_fonts(base: QFont) -> _StripFonts:
    band = QFont(base)
    band.setBold(True)
    band.setPointSizeF(12)
    band.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 106)
    verdict = QFont(band)
    verdict.setPointSizeF(13)
    verdict.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 100)
    warning = QFont(verdict)
    warning.setPointSizeF(12)
    return _StripFonts(band, verdict, QFontMetrics(verdict), warning, QFontMetrics(warning))


def _headline_size(base: QFont, text: str, width: float, start: float, hint: float | None) -> float:
    """The largest point size from ``start`` down (in steps of 1, not below 12) at which ``text``
    fits ``width``, as a search down from ``start`` finds it. ``hint`` -- the size that fitted a
    similar headline -- is checked first, so a changed count costs two measurements, not up to
    28 (each size a font of its own to build)."""
    font = QFont(base)

    def fits(size: float) -> bool:
        font.setPointSizeF(size)
        return QFontMetrics(font).horizontalAdvance(text) <= width

    # Sizes on the search's ladder: start, start - 1, ... down to the first one not above 12.
    on_ladder = hint is not None and 12 < hint < start and (start - hint).is_integer()
    if on_ladder and hint is not None and fits(hint) and not fits(hint + 1):
        return hint  # the search down from start would stop here: hint + 1 did not fit
    size = start
    while size > 12 and not fits(size):
        size -= 1
    return size


class ConfirmKillDialog(QDialog):
    """The confirm step of the confirm policy: says exactly what will be cancelled, where.

    "Cancel all orders" is the default button, so Enter confirms and Escape backs out.
    """

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confirmKillDialog")
        self.setWindowTitle("Confirm the kill")
        self.setModal(True)
        self._what = what
        label = QLabel(what)
        label.setObjectName("confirmText")
        label.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.fire_button = buttons.addButton("Cancel all orders", QDialogButtonBox.ButtonRole.AcceptRole)
        self.back_button = buttons.addButton("Do nothing", QDialogButtonBox.ButtonRole.RejectRole)
        self.fire_button.setObjectName("confirmFireButton")
        self.fire_button.setDefault(True)
        self.fire_button.setStyleSheet(
            "background: #c62828; color: white; font-weight: bold; padding: 6px 14px;"
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)

    def text(self) -> str:
        """What the dialog asks."""
        return self._what
