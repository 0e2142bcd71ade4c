"""Halt: after a verified live kill, switch the whole server to analyze mode and read it back.

``analyzer/toggle`` moves OpenAlgo as a whole into its sandbox: from then on every new order, from
any source (strategies, webhooks, scripts, the trader's own hand), goes to the sandbox and not to
the broker -- and ``cancelallorder``, ``orderbook`` and ``positionbook`` act on the sandbox too. So
it runs only once the live book is verified flat (orders, and positions when they were closed):
switched earlier, whatever was still live would be out of the API's reach. Resuming live trading
is the same switch the other way, and a deliberate act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.replies import AnalyzerStatus

if TYPE_CHECKING:  # a type only: the HTTP client loads when a lane needs it
    from core.client import OpenAlgoClient


@dataclass(frozen=True, slots=True)
class HaltReport:
    halted: bool  # the server was read back in analyze mode after this switched it
    reason: str  # one sentence: what happened, or why it did not
    mode_after: str = "unknown"  # live | analyze | unknown, as read back

    def to_json(self) -> dict[str, Any]:
        return {"halted": self.halted, "reason": self.reason, "mode_after": self.mode_after}


def halt(client: OpenAlgoClient, *, within: float = 10.0) -> HaltReport:
    """Switch ``client``'s server to analyze mode and prove it by reading the mode back."""
    before = client.analyzer(within=within)
    if isinstance(before, AnalyzerStatus) and before.mode == "analyze":
        return HaltReport(
            False,
            "Not switched: the server was already in analyze mode, where no order reaches the broker.",
            "analyze",
        )
    switched = client.set_analyze_mode(True, within=within)
    if not isinstance(switched, AnalyzerStatus):
        # A toggle whose answer was lost may still have gone through: the mode read back says.
        now = client.analyzer(within=within) if switched.delivered else switched
        if isinstance(now, AnalyzerStatus) and now.mode == "analyze":
            return HaltReport(
                True,
                "HALTED: the server reads back in analyze mode, although the switch's own answer was "
                f"lost ({switched.sentence.rstrip('.')}). Every new order now goes to OpenAlgo's "
                "sandbox, not the broker. Resume live trading from the window (or OpenAlgo's analyzer "
                "switch) when it is safe.",
                "analyze",
            )
        if isinstance(now, AnalyzerStatus):
            later = (
                " The server still read back in live mode, but the switch may yet take effect — check "
                "OpenAlgo's analyzer page."
                if switched.delivered
                else ""
            )
            return HaltReport(False, f"New live orders were NOT halted: {switched.sentence}{later}", now.mode)
        return HaltReport(
            False,
            f"New live orders may NOT be halted: {switched.sentence} The mode could not be read back "
            "either — check OpenAlgo's analyzer page.",
            "unknown",
        )
    after = client.analyzer(within=within)
    if not isinstance(after, AnalyzerStatus):
        return HaltReport(
            False,
            f"The switch to analyze mode could not be read back ({after.sentence}); check OpenAlgo's "
            "analyzer page — new live orders may still reach the broker.",
            "unknown",
        )
    if after.mode != "analyze":
        return HaltReport(
            False,
            "The server said it switched, but it still reads LIVE: new orders reach the broker.",
            after.mode,
        )
    return HaltReport(
        True,
        "HALTED: the server is in analyze mode — every new order, from any strategy or script, now goes "
        "to OpenAlgo's sandbox, not the broker. Resume live trading from the window (or OpenAlgo's "
        "analyzer switch) when it is safe.",
        "analyze",
    )


def resume(client: OpenAlgoClient, *, within: float = 10.0) -> HaltReport:
    """Switch back to live mode and read it back; ``halted`` stays True unless it reads LIVE."""
    switched = client.set_analyze_mode(False, within=within)
    if not isinstance(switched, AnalyzerStatus):
        now = client.analyzer(within=within) if switched.delivered else switched
        if isinstance(now, AnalyzerStatus) and now.mode == "live":
            return HaltReport(
                False,
                "LIVE again: the server reads back in live mode, although the switch's own answer was "
                f"lost ({switched.sentence.rstrip('.')}). New orders reach the broker.",
                "live",
            )
        if isinstance(now, AnalyzerStatus):
            return HaltReport(True, f"Still halted: {switched.sentence}", now.mode)
        return HaltReport(
            True,
            f"Still halted, as far as can be told: {switched.sentence} The mode could not be read back "
            "either — check OpenAlgo's analyzer page.",
            "unknown",
        )
    after = client.analyzer(within=within)
    if not isinstance(after, AnalyzerStatus):
        return HaltReport(
            True, f"The switch back to live could not be read back ({after.sentence}).", "unknown"
        )
    if after.mode != "live":
        return HaltReport(True, "The server said it switched, but it still reads ANALYZE.", after.mode)
    return HaltReport(False, "LIVE again: new orders reach the broker.", "live")
