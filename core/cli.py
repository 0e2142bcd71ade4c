"""The subcommands that never need a window: simulate, cancel-all, trigger, set-key.

``trigger`` asks a running window to fire (its results appear there) and runs the same
headless kill as ``cancel-all`` when no window takes it.

Exit status (shared by ``cancel-all`` and ``trigger``): 0 flat, 1 orders remain or the
result is unverified or a requested halt did not happen, 2 usage or configuration error,
3 refused by the server, 4 server unreachable (nothing was sent), 130 interrupted by Ctrl+C,
143 stopped by SIGTERM.

The kill runs on a worker thread; this thread waits for it, so Ctrl+C, SIGTERM and a server
that outlives the kill's deadline all still end in a report (``unverified``) within a second,
with no traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from core import APP_NAME, DEFAULT_DEADLINE_S, __version__
from core import settings as settings_store
from core.addresses import normalise_host
from core.kill import deadline_problem
from core.report import EXIT_INTERRUPTED_SIGINT, CancelReport
from core.usage import UsageError

if TYPE_CHECKING:  # imported where used: `simulate` and `set-key` need none of them
    pass

EXIT_USAGE = 2
ENV_KEY = "OPENALGO_API_KEY"
ENV_HOST = "OPENALGO_HOST"

SUBCOMMANDS = ("simulate", "cancel-all", "trigger", "set-key")
EXIT_STATUS = """exit status of cancel-all and trigger: 0 flat, 1 orders or positions remain or unverified,
or a requested --halt did not happen, 2 usage or configuration error, 3 refused by the server,
4 unreachable, 130 Ctrl+C, 143 SIGTERM."""
# How much longer than the kill deadline to wait for a window's verdict before calling it unverified.
WINDOW_GRACE_S = 30.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="killswitch",
        usage="killswitch [--demo | --host URL]          (the window)\n"
        "       killswitch COMMAND [options]             (see killswitch COMMAND --help)\n"
        "       killswitch --version | --self-test",
        description=f"{APP_NAME}: cancel every working order on an OpenAlgo account, verified.",
        # The window's options are parsed by the window (ui.app), which this command line never
        # imports; they are listed here so that --help shows every way to start the program.
        epilog=f"""the window (no COMMAND):
  --demo       open the window on a built-in simulated server: no broker, no key, nothing saved
  --host URL   open the window on this OpenAlgo server (key from ${ENV_KEY} for this run,
               else the OS keyring); without --host, the server saved in Settings
  --self-test  check this build (simulator, window, one kill) and exit 0 only if all passed

environment:
  {ENV_HOST}      the server for cancel-all, trigger and set-key when --host is not given
  {ENV_KEY}   the API key for cancel-all and trigger (scripts); never stored

{EXIT_STATUS}""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"killswitch {__version__}")
    # prog: each subcommand's usage starts "killswitch NAME", not the main usage's three lines.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="killswitch")

    sim = sub.add_parser("simulate", help="serve the built-in OpenAlgo simulator on 127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    sim.add_argument("--orders", type=int, default=25, help="working orders to start with (default 25)")
    sim.add_argument(
        "--mode", choices=("live", "analyze"), default="analyze", help="mode to start in (default analyze)"
    )
    sim.add_argument("--apikey", help="API key to accept (default: a fresh random key)")
    sim.add_argument("--demo", action="store_true", help="keep new orders arriving, like a live account")
    sim.add_argument("--seed", type=int, help="seed for reproducible order books")
    sim.add_argument(
        "--positions",
        type=int,
        metavar="N",
        help="open positions to start with, long and short, made by filled orders (default 0, 4 with --demo)",
    )
    sim.add_argument(
        "--runaway",
        type=float,
        default=0.0,
        metavar="RATE",
        help="keep placing RATE new LIMIT orders a second, like a strategy gone wrong (fractions allowed)",
    )
    sim.add_argument(
        "--reply-delay-ms", type=int, default=0, metavar="N", help="hold every reply back N milliseconds"
    )
    sim.add_argument(
        "--idle-close",
        type=float,
        metavar="S",
        help="close a kept-alive connection after S idle seconds, as nginx or a tunnel does",
    )

    for name, text in (
        ("cancel-all", "run the kill headless and print the report"),
        ("trigger", "fire the running window (or, with none running, run the kill headless)"),
    ):
        cmd = sub.add_parser(
            name, help=text, epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        cmd.add_argument(
            "--host",
            metavar="URL",
            action="append",
            help=f"an OpenAlgo server; give it again for more servers, all killed at once (default: "
            f"${ENV_HOST}, else the server saved in the window's Settings)",
        )
        cmd.add_argument(
            "--all", action="store_true", help="every server saved in the window's Settings (and enabled)"
        )
        cmd.add_argument(
            "--flatten",
            action="store_true",
            help="also close every open position, once the orders are verified cancelled",
        )
        cmd.add_argument(
            "--guard",
            type=float,
            metavar="SECONDS",
            help="then hold the account flat that long: cancel every new order (and, with --flatten, "
            "close every new position) as it appears",
        )
        cmd.add_argument(
            "--halt",
            action="store_true",
            help="then switch a live server to analyze mode, so new orders from any source go to "
            "OpenAlgo's sandbox, not the broker (read back to prove it)",
        )
        cmd.add_argument("--strategy", help="label sent to OpenAlgo's logs (default: KillSwitch)")
        cmd.add_argument("--json", action="store_true", help="print the report as JSON")
        cmd.add_argument(
            "--deadline",
            type=float,
            metavar="SECONDS",
            help="the longest the whole kill may take; by then it ends with a verdict whatever the "
            f"server does (default: the saved setting, {DEFAULT_DEADLINE_S:.0f} s; 1 to 600)",
        )

    key = sub.add_parser(
        "set-key",
        help="store the API key in the OS keyring (prompted, never echoed; or piped on stdin)",
    )
    key.add_argument(
        "--host",
        metavar="URL",
        help=f"OpenAlgo URL the key belongs to (default: ${ENV_HOST}, else the server saved in the "
        "window's Settings)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    try:
        if args.command == "simulate":
            return simulate(args, out)
        if args.command == "cancel-all":
            return cancel_all(args, out, err)
        if args.command == "trigger":
            return trigger(args, out, err)
        if args.command == "set-key":
            return set_key(args, out, err)
    except UsageError as exc:
        print(f"killswitch: {exc}", file=err)
        return EXIT_USAGE
    parser.print_help(out)
    return EXIT_USAGE


def resolve_host(explicit: str | None) -> str:
    """The server: ``--host``, else ``$OPENALGO_HOST``, else the one saved in Settings.

    A blank value anywhere is a usage error, never a reason to fire at a default server."""
    if explicit is not None:
        source, raw = "--host", explicit
    elif ENV_HOST in os.environ:
        source, raw = f"${ENV_HOST}", os.environ[ENV_HOST]
    else:
        saved = settings_store.saved_host()
        if saved is None:
            raise UsageError(
                f"No server given: pass --host URL, set {ENV_HOST}, or save a server in the "
                "window's Settings."
            )
        source, raw = "the saved server", saved
    if not raw.strip():
        raise UsageError(f"{source} is empty; give the OpenAlgo server's URL, e.g. http://127.0.0.1:5000.")
    host = normalise_host(raw)
    if host is None:
        raise UsageError(
            f"{raw!r} ({source}) is not a usable server URL; expected something like http://127.0.0.1:5000"
        )
    return host


def resolve_deadline(explicit: float | None) -> float:
    if explicit is None:
        return settings_store.load().deadline_s
    problem = deadline_problem(explicit)
    if problem is not None:
        raise UsageError(f"--deadline: {problem}")
    return explicit


def resolve_key(host: str) -> str:
    """The key from $OPENALGO_API_KEY (scripts) or the OS keyring; never from a file."""
    from_env = os.environ.get(ENV_KEY, "").strip()
    if from_env:
        return from_env
    from core.secrets import KeyStoreError, OsKeyStore

    try:
        key = OsKeyStore().get(host)
    except KeyStoreError as exc:
        raise UsageError(f"{exc.sentence} Set {ENV_KEY} for this run instead.") from None
    if not key:
        raise UsageError(
            f"No API key stored for {host}. Run 'killswitch set-key --host {host}' "
            f"or set {ENV_KEY} for this run."
        )
    return key


def cancel_all(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core import cli_kill

    return cli_kill.cancel_all(args, out, err)


def trigger(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Fire the running window and print its verdict; with no window (or one that cannot fire),
    run the kill here exactly as ``cancel-all`` does."""
    from core.cli_kill import resolve_scope
    from core.instance import ask_window_to_fire

    hosts = [resolve_host(h) for h in args.host] if args.host else None
    saved = settings_store.load()
    deadline = resolve_deadline(args.deadline)
    scope = resolve_scope(args)
    if not args.json:
        print("  … asking the running window to fire", file=err)
    try:
        reply = ask_window_to_fire(
            max(deadline, saved.deadline_s, scope.guard_s + deadline) + WINDOW_GRACE_S,
            hosts=hosts,
            scope=scope.to_json() if scope != type(scope)() else None,
            every=bool(getattr(args, "all", False)),
            # On stderr in both modes: a script can tell the window has the press before its verdict.
            on_accepted=lambda: print(
                "  … the window took the kill; waiting for its verdict", file=err, flush=True
            ),
        )
    except KeyboardInterrupt:
        sentence = "Stopped waiting by Ctrl+C; the window's kill goes on and its verdict will show there."
        if args.json:
            document = {
                "verdict": "unverified",
                "interrupted": True,
                "message": sentence,
                "exit_code": EXIT_INTERRUPTED_SIGINT,
            }
            json.dump(document, out, indent=2)
            out.write("\n")
        else:
            print(sentence, file=err)
        return EXIT_INTERRUPTED_SIGINT
    if reply is None:
        print("No Kill Switch window answered; running the kill from here.", file=err)
        return cancel_all(args, out, err)
    if "verdict" not in reply:
        reason = str(reply.get("error") or "it gave no reason")
        print(f"The running window did not fire: {reason} Running the kill from here.", file=err)
        return cancel_all(args, out, err)
    if args.json:
        json.dump(reply, out, indent=2)
        out.write("\n")
    else:
        print_window_reply(reply, out)
    code = reply.get("exit_code")
    return code if isinstance(code, int) and code in (0, 1, 3, 4) else 1


def print_window_reply(reply: dict[str, object], out: TextIO) -> None:
    """The window's verdict: one server's report, or each server's and the overall line."""
    servers = reply.get("servers")
    if isinstance(servers, list):
        for server in servers:
            if isinstance(server, dict):
                print(f"── {server.get('server')}", file=out)
                _print_window_server(server, out)
                print(file=out)
        print(f"OVERALL: {reply.get('summary') or reply.get('verdict')} (fired by the window)", file=out)
        return
    _print_window_server(reply, out)


def _print_window_server(reply: dict[str, object], out: TextIO) -> None:
    """The window's verdict (``CancelReport.to_json()`` plus ``summary``) in ``print_report``'s shape."""

    def items(key: str) -> list[object]:
        value = reply.get(key)
        return value if isinstance(value, list) else []

    print(f"{reply.get('headline') or str(reply.get('verdict', '')).upper()} (fired by the window)", file=out)
    if reply.get("server"):
        print(f"  server:   {reply.get('server')} ({str(reply.get('mode', 'unknown')).upper()})", file=out)
    if reply.get("message"):
        print(f"  message:  {reply.get('message')}", file=out)
    for orderid in items("canceled_by_server"):
        print(f"  cancelled by server  #{orderid}", file=out)
    for orderid in items("canceled_by_sweep"):
        print(f"  cancelled by sweep   #{orderid}", file=out)
    for failure in items("failed_cancellations"):
        if isinstance(failure, dict):
            print(f"  FAILED   #{failure.get('orderid') or '?'}: {failure.get('reason')}", file=out)
    label = "STILL WORKING" if reply.get("remaining_verified", True) else "LAST SEEN WORKING"
    for order in items("remaining_orders"):
        if isinstance(order, dict):
            print(
                f"  {label}  #{order.get('orderid')} {order.get('action')} {order.get('quantity')} "
                f"{order.get('symbol')} [{order.get('status')}]",
                file=out,
            )
    for order in items("missing_orders"):
        if isinstance(order, dict):
            print(f"  MISSING FROM THE BOOK  #{order.get('orderid')}", file=out)
    if reply.get("summary"):
        print(f"  {reply.get('summary')}", file=out)


def print_report(report: CancelReport, out: TextIO) -> None:
    """The report as a few lines for a terminal; each sentence is printed once."""
    print(report.verdict.headline, file=out)
    print(f"  server:   {report.server} ({report.mode.upper()})", file=out)
    if report.message:
        print(f"  message:  {report.message}", file=out)
    for orderid in report.canceled_by_server:
        print(f"  cancelled by server  #{orderid}", file=out)
    for orderid in report.canceled_by_sweep:
        print(f"  cancelled by sweep   #{orderid}", file=out)
    for failure in report.failures:
        # A refused kill fails every order with the refusal already printed as the message.
        reason = "refused (the message above)" if failure.reason == report.message else failure.reason
        print(f"  FAILED   #{failure.orderid or '?'}: {reason}", file=out)
    label = "STILL WORKING" if report.remaining_verified else "LAST SEEN WORKING"
    for order in report.remaining:
        print(f"  {label}  {order.describe()} [{order.status}]", file=out)
    for order in report.missing:
        print(f"  MISSING FROM THE BOOK  {order.describe()}", file=out)
    for error in report.errors:
        # One sentence once: a 502 is the message "Cancel-all was not sent: <why>" and the note "<why>".
        if error not in report.message:
            print(f"  note: {error}", file=out)
    timing = f"  response {report.trigger_to_response_ms:.0f} ms" if report.trigger_to_response_ms else ""
    if report.trigger_to_verified_ms is not None:
        timing += f", verified {report.trigger_to_verified_ms:.0f} ms"
    print(f"{timing}, total {report.elapsed_ms:.0f} ms".lstrip(", "), file=out)


def set_key(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO | None = None) -> int:
    """Store a key for the server in the OS keyring: typed at a prompt (not echoed), or read
    from the first line of a pipe (``pass openalgo | killswitch set-key``) without a prompt."""
    from core.secrets import KeyStoreError, KeyStoreProblem, OsKeyStore

    stdin = stdin or sys.stdin
    why = {  # the keyring's own sentences offer the window's memory-only store: not for a command
        KeyStoreProblem.NO_KEYRING: "no keyring is running here",
        KeyStoreProblem.PLAINTEXT: "the only keyring here would keep the key unencrypted",
        KeyStoreProblem.LOCKED: "the keyring stayed locked",
        KeyStoreProblem.REFUSED: "the keyring refused to store it",
        KeyStoreProblem.FAILED: "the keyring failed",
    }
    host = resolve_host(args.host)
    store = OsKeyStore()
    problem = store.check()
    # A locked keyring is still a keyring: storing asks the desktop to unlock it.
    if problem is not None and problem.problem is not KeyStoreProblem.LOCKED:
        print(
            f"killswitch: {why[problem.problem]}. Nothing was stored (a key is never written in "
            f"plain text); give the key to each command in ${ENV_KEY} instead.",
            file=err,
        )
        return EXIT_USAGE
    if stdin.isatty():
        key = getpass.getpass(f"OpenAlgo API key for {host} (not echoed): ").strip()
    else:  # piped: no terminal to hide the echo on, and no prompt for a script to see
        key = stdin.readline().strip()
    if not key:
        print("killswitch: no key entered; nothing was stored.", file=err)
        return EXIT_USAGE
    try:
        store.set(host, key)
    except KeyStoreError as exc:
        print(f"killswitch: {why[exc.problem]}. Nothing was stored.", file=err)
        return EXIT_USAGE
    print(f"Stored the key for {host} in {store.description}.", file=out)
    return 0


def simulate(args: argparse.Namespace, out: TextIO) -> int:
    from core.simulator import Quirks, Simulator

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.orders < 0:
        raise UsageError("--orders cannot be negative")
    if args.positions is not None and args.positions < 0:
        raise UsageError("--positions cannot be negative")
    if args.runaway < 0:
        raise UsageError("--runaway cannot be negative")
    if args.reply_delay_ms < 0:
        raise UsageError("--reply-delay-ms cannot be negative")
    if args.idle_close is not None and not args.idle_close > 0:
        raise UsageError("--idle-close must be more than 0 seconds")
    quirks = Quirks(reply_delay_s=args.reply_delay_ms / 1000, idle_close_s=args.idle_close)
    try:
        sim = Simulator(
            apikey=args.apikey,
            mode=args.mode,
            orders=args.orders,
            quirks=quirks,
            port=args.port,
            demo=args.demo,
            seed=args.seed,
            positions=args.positions,
            runaway_rate=args.runaway,
        ).start()
    except ValueError as exc:  # more positions than the simulator's market holds
        raise UsageError(f"--positions: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc})") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    positions = len(sim.open_positions())
    print(
        f"OpenAlgo simulator ({args.mode} mode, {args.orders} working orders, {positions} open positions)",
        file=out,
    )
    if args.runaway:
        print(f"Runaway: {args.runaway:g} new LIMIT orders a second, into the current mode's book", file=out)
    if args.reply_delay_ms:
        print(f"Replies: held back {args.reply_delay_ms} ms", file=out)
    if args.idle_close is not None:
        print(f"Idle keep-alive connections closed after {args.idle_close:g} s", file=out)
    print(f"URL:     {sim.url}", file=out)
    print(f"API key: {sim.apikey}", file=out)
    print(f"Try:     {ENV_KEY}={sim.apikey} killswitch cancel-all --host {sim.url}", file=out)
    print("Press Ctrl+C to stop.", file=out, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0
