"""The built-in OpenAlgo simulator: a fake OpenAlgo server on loopback for tests, demos and benchmarks."""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from core.simulator.api import OpenAlgoApp
from core.simulator.book import ACTIONS, PRICETYPES, PRODUCTS, STATUSES, OrderBook
from core.simulator.front import SimulatorHTTPServer
from core.simulator.market import (
    REFERENCE_PRICES,
    VALID_EXCHANGES,
    finished_order_idea,
    last_price,
    position_ideas,
    realistic_quantity,
    to_tick,
    working_order_idea,
)
from core.simulator.quirks import Quirks
from core.simulator.runaway import RunawayStrategy
from core.simulator.stats import SimulatorStats

MODES = ("live", "analyze")
DEMO_STRATEGY = "demo"
DEMO_POSITIONS = 4
"""Open positions a demo starts with, so that the window has something to flatten."""
DEMO_MAX_WORKING = 40
"""The demo stops adding orders beyond this many working ones, so that a demo left running for hours
keeps a book a person can read."""


class Simulator:
    """A fake OpenAlgo server with one account, its order book and switchable broker quirks.

    ``Simulator(...).start()`` serves ``POST /api/v1/<endpoint>`` on a daemon thread at :attr:`url`;
    it also works as a context manager. The order book can be read and filled directly
    (:meth:`place_order`, :meth:`add_random_orders`, :meth:`working_orders`) without HTTP.

    ``mode`` is ``"analyze"`` (OpenAlgo's sandbox: success bodies carry ``"mode": "analyze"``) or
    ``"live"`` (no ``mode`` key). ``orders`` working orders and ``positions`` open positions (made
    by filled orders) are in the book from the start; with ``demo=True`` some finished orders join
    them, ``positions`` defaults to four, and a background thread keeps the book moving.
    ``runaway_rate`` starts a strategy gone wrong with the server (:meth:`start_runaway`). ``seed``
    makes the generated orders, positions, order ids and quirk selections repeatable.

    **Two books.** Like OpenAlgo, the account has a live book (the broker's) and a sandbox book
    (analyze mode's), each with its orders and positions. The endpoints act on the current mode's
    book. ``POST /api/v1/analyzer/toggle`` (or ``set_mode(mode, switch_books=True)``) switches the
    mode *and* the book: orders placed from then on go to the new mode's book and the other book
    stays as it was. Plain ``set_mode(mode)`` is the test fixture's "this account is a live one": the
    book in front stays in front under the new mode. The methods that read or change a book take
    ``book="live"`` or ``book="analyze"``; without it they use the current mode's book.
    """

    def __init__(
        self,
        apikey: str | None = None,
        mode: str = "analyze",
        orders: int = 0,
        quirks: Quirks | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        demo: bool = False,
        seed: int | None = None,
        positions: int | None = None,
        runaway_rate: float = 0.0,
    ) -> None:
        _check_mode(mode)
        self.host = host
        self.demo = demo
        self.demo_interval_s = 3.0
        """Mean pause between two demo events; the demo draws each pause from 0.5x to 1.5x of it."""
        self._requested_port = port
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self.stats = SimulatorStats()
        self._app = OpenAlgoApp(
            books={name: OrderBook(self._rng) for name in MODES},
            stats=self.stats,
            apikey=apikey if apikey is not None else secrets.token_hex(32),
            mode=mode,
            quirks=quirks if quirks is not None else Quirks(),
            stopping=self._stopping,
        )
        self._server: SimulatorHTTPServer | None = None
        self._port: int | None = None
        self._demo_thread: threading.Thread | None = None
        self._runaway: RunawayStrategy | None = None
        self._runaway_rate = 0.0
        self._lifecycle = threading.Lock()
        self._stopped = False
        if positions is None:
            positions = DEMO_POSITIONS if demo else 0
        self.add_positions(positions)
        self.add_random_orders(orders)
        if demo:
            self.add_finished_orders(max(2, orders // 3))
        if runaway_rate:
            self.start_runaway(runaway_rate)

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Start serving (idempotent). Returns ``self``."""
        with self._lifecycle:
            if self._stopped:
                raise RuntimeError("a stopped Simulator cannot start again; make a new one")
            if self._server is not None:
                return self
            server = SimulatorHTTPServer((self.host, self._requested_port), self._app)
            self._server = server
            self._port = server.port
            server.start()
            if self.demo:
                self._demo_thread = threading.Thread(
                    target=self._run_demo, name=f"openalgo-sim-demo:{server.port}", daemon=True
                )
                self._demo_thread.start()
            if self._runaway_rate:
                self._launch_runaway()
            return self

    def stop(self) -> None:
        """Stop serving: close every connection, end every thread of this simulator, release the port.
        Requests waiting on a delay quirk are cut short. Safe to call twice or before ``start()``."""
        with self._lifecycle:
            self._stopped = True
            self._stopping.set()
            server, self._server = self._server, None
            if server is not None:
                server.close()
            if self._demo_thread is not None:
                self._demo_thread.join(1.0)
                self._demo_thread = None
            self._halt_runaway()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it serves on (still known after ``stop()``, so a test can aim at a dead server)."""
        if self._port is None:
            raise RuntimeError("the Simulator has no port yet; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    # ---- switches ------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"live"`` or ``"analyze"``: the mode the server is in, and so the book it acts on."""
        return self._app.mode

    def set_mode(self, mode: str, *, switch_books: bool = False) -> None:
        """Switch between ``"live"`` and ``"analyze"``.

        ``switch_books=True`` is OpenAlgo's analyzer toggle: the endpoints move to ``mode``'s own book
        (the sandbox book for analyze, the live book for live) and the other book stays as it was.
        Without it, the book in front stays in front and becomes ``mode``'s book: the way to make a
        simulator that was filled in one mode answer as an account of the other."""
        _check_mode(mode)
        self._app.set_mode(mode, switch_books=switch_books)

    @property
    def quirks(self) -> Quirks:
        """The quirks in force; change fields (or assign a new :class:`Quirks`) at any time."""
        return self._app.quirks

    @quirks.setter
    def quirks(self, quirks: Quirks) -> None:
        self._app.quirks = quirks

    @property
    def on_request(self) -> Callable[[str, float], None] | None:
        """Called as ``on_request(endpoint, time.perf_counter())`` when a request's body has been
        read, before it is processed, on the server's thread. Keep it quick; its exceptions are
        logged and swallowed."""
        return self._app.on_request

    @on_request.setter
    def on_request(self, hook: Callable[[str, float], None] | None) -> None:
        self._app.on_request = hook

    @property
    def apikey(self) -> str:
        """The one API key the server accepts: 64 hex digits unless one was given."""
        return self._app.apikey

    @apikey.setter
    def apikey(self, apikey: str) -> None:
        self._app.apikey = apikey

    def reset_rate_limits(self) -> None:
        """Forget all rate-limit windows, as if a second had passed without requests."""
        self._app.limiter.reset()

    # ---- a strategy gone wrong ------------------------------------------------------------------

    def start_runaway(self, rate: float) -> None:
        """Keep placing ``rate`` new LIMIT orders a second (fractions allowed: 0.2 is one every five
        seconds), as a strategy gone wrong would, from a background thread that ends with the
        simulator (or :meth:`stop_runaway`). They go the way a webhook's orders go inside OpenAlgo:
        into the current mode's book (the sandbox once the analyzer is on), queued in Semi-Auto mode,
        refused like any order by the quirks; they are not HTTP requests, so they do not use a
        client's rate limit nor show in :attr:`stats`. Their strategy label is ``"runaway"``. Before
        :meth:`start` this only sets the rate; the orders start with the server. A new rate replaces
        the old one."""
        if not rate > 0:
            raise ValueError(f"the runaway rate must be above 0 orders per second, not {rate}")
        with self._lifecycle:
            self._halt_runaway()
            self._runaway_rate = rate
            if self._server is not None:
                self._launch_runaway()

    def stop_runaway(self) -> None:
        """Stop the runaway strategy (the orders it placed stay where they are)."""
        with self._lifecycle:
            self._runaway_rate = 0.0
            self._halt_runaway()

    @property
    def runaway_rate(self) -> float:
        """Orders per second the runaway strategy places (0 when there is none)."""
        return self._runaway_rate

    @property
    def runaway_placed(self) -> int:
        """Orders the current runaway strategy has got into a book (an order id came back)."""
        runaway = self._runaway
        return 0 if runaway is None else runaway.placed

    def _launch_runaway(self) -> None:
        self._runaway = RunawayStrategy(
            lambda fields: self._app.submit("placeorder", fields),
            self._rng,
            self._runaway_rate,
            lambda: self._app.apikey,
            name=f"openalgo-sim-runaway:{self._port}",
        )
        self._runaway.start()

    def _halt_runaway(self) -> None:
        if self._runaway is not None:
            self._runaway.stop()

    # ---- the order book, directly --------------------------------------------------------------

    def _book(self, book: str | None = None) -> OrderBook:
        """The live book (``"live"``), the sandbox book (``"analyze"``) or, by default, the one the
        endpoints act on now."""
        if book is None:
            return self._app.book
        _check_mode(book)
        return self._app.book_of(book)

    def working_orders(self, book: str | None = None) -> list[dict[str, Any]]:
        """The open and trigger-pending orders, oldest first, as ``orderbook`` rows (OpenAlgo's status
        words, numbers as numbers, whatever the quirks)."""
        return [order.row() for order in self._book(book).working()]

    def all_orders(self, book: str | None = None) -> list[dict[str, Any]]:
        """Every order of the day, oldest first, as ``orderbook`` rows."""
        return [order.row() for order in self._book(book).orders()]

    def positions(self, book: str | None = None) -> list[dict[str, Any]]:
        """Every position the day has seen, in the order they opened, closed ones with quantity 0
        (even those closed at break-even, which the sandbox's ``positionbook`` leaves out):
        ``symbol, exchange, product, quantity`` (signed), ``average_price`` (of what is open),
        ``ltp``, ``pnl`` (the day's total), ``unrealized_pnl``, ``today_realized_pnl``."""
        return [position.row() for position in self._book(book).positions()]

    def open_positions(self, book: str | None = None) -> list[dict[str, Any]]:
        """The positions with a quantity other than 0, as :meth:`positions` gives them."""
        return [row for row in self.positions(book) if row["quantity"]]

    def pending_orders(self) -> list[dict[str, Any]]:
        """The Action Center's queue: orders a Semi-Auto account filed for approval instead of
        placing, oldest first, as ``{"pending_order_id": int, "api_type": "placeorder" |
        "smartorder", "order_data": {the request's fields but the key}}``. Nothing approves them."""
        return self._app.pending_orders

    def open_position(
        self,
        symbol: str,
        quantity: int,
        exchange: str = "NSE",
        product: str = "MIS",
        price: float | None = None,
        strategy: str = "manual",
        book: str | None = None,
    ) -> str:
        """Trade ``quantity`` (signed: negative sells short) of a symbol with one filled MARKET order at
        ``price`` (default: the last price), which moves the position as any fill does; return the
        order id. Adds to, reduces or reverses a position already there."""
        if not quantity:
            raise ValueError("quantity must not be 0")
        return self.place_order(
            symbol,
            exchange=exchange,
            action="BUY" if quantity > 0 else "SELL",
            quantity=abs(quantity),
            pricetype="MARKET",
            product=product,
            price=last_price(symbol) if price is None else price,
            status="complete",
            strategy=strategy,
            book=book,
        )

    def add_positions(self, n: int, book: str | None = None) -> list[str]:
        """Open ``n`` positions on as many symbol/exchange/product keys (NSE shares in CNC, long, and
        MIS, long or short; NFO index futures in NRML and MIS, whole lots), each by one filled MARKET
        order near the last price, so the book shows the fills as ``complete`` orders; return those
        orders' ids. At most 54 at once."""
        return [
            self.open_position(
                idea.symbol,
                idea.quantity,
                exchange=idea.exchange,
                product=idea.product,
                price=idea.price,
                strategy=DEMO_STRATEGY,
                book=book,
            )
            for idea in position_ideas(self._rng, n)
        ]

    def place_order(
        self,
        symbol: str,
        exchange: str = "NSE",
        action: str = "BUY",
        quantity: int | None = None,
        pricetype: str = "LIMIT",
        product: str = "CNC",
        price: float | None = None,
        trigger_price: float = 0.0,
        status: str | None = None,
        strategy: str = "manual",
        orderid: str | None = None,
        book: str | None = None,
    ) -> str:
        """Put an order straight into the book (no HTTP, no rate limit, no quirks) and return its id.

        Defaults make a realistic resting order: ``status`` is ``"trigger pending"`` for SL and SL-M,
        ``"open"`` otherwise; a LIMIT ``price`` sits 2 % from the symbol's level on the side where it
        would rest; a stop's ``trigger_price`` 2 % the other way (an SL's price just beyond it);
        ``quantity`` is a realistic size; ``orderid`` a fresh sandbox-style id. ``status="complete"``
        fills the order at once and moves the position."""
        _check_choice("action", action, ACTIONS)
        _check_choice("pricetype", pricetype, PRICETYPES)
        _check_choice("product", product, PRODUCTS)
        _check_choice("exchange", exchange, VALID_EXCHANGES)
        stop = pricetype in ("SL", "SL-M")
        if status is None:
            status = "trigger pending" if stop else "open"
        _check_choice("status", status, STATUSES)
        ltp = last_price(symbol)
        buy = action == "BUY"
        if stop and not trigger_price:
            trigger_price = to_tick(ltp * (1.02 if buy else 0.98))
        if price is None:
            if pricetype == "LIMIT":
                price = to_tick(ltp * (0.98 if buy else 1.02))
            elif pricetype == "SL":
                price = to_tick(trigger_price * (1.002 if buy else 0.998))
            else:
                price = 0.0
        if quantity is None:
            quantity = realistic_quantity(self._rng, ltp)
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        order = self._book(book).place(
            symbol=symbol,
            exchange=exchange,
            action=action,
            quantity=quantity,
            pricetype=pricetype,
            product=product,
            price=price,
            trigger_price=trigger_price,
            status=status,
            strategy=strategy,
            orderid=orderid,
        )
        return order.orderid

    def add_random_orders(self, n: int, strategy: str = DEMO_STRATEGY, book: str | None = None) -> list[str]:
        """Add ``n`` realistic working orders (NSE shares near their price level; LIMIT, SL and SL-M;
        CNC and MIS) and return their ids."""
        target = self._book(book)
        return [target.place_idea(working_order_idea(self._rng), strategy).orderid for _ in range(n)]

    def add_finished_orders(
        self, n: int, strategy: str = DEMO_STRATEGY, book: str | None = None
    ) -> list[str]:
        """Add ``n`` orders that are already over (complete, cancelled, rejected); fills move positions."""
        target = self._book(book)
        return [target.place_idea(finished_order_idea(self._rng), strategy).orderid for _ in range(n)]

    def fill_order(self, orderid: str, price: float | None = None, book: str | None = None) -> None:
        """Fill a working order completely (at its own price unless ``price`` is given)."""
        self._book(book).fill(orderid, price)

    # ---- demo ----------------------------------------------------------------------------------

    def _run_demo(self) -> None:
        while not self._stopping.wait(self.demo_interval_s * self._rng.uniform(0.5, 1.5)):
            self.demo_step()

    def demo_step(self) -> None:
        """One beat of the demo: a new working order arrives and, now and then, one fills."""
        working = self._book().working()
        if len(working) < DEMO_MAX_WORKING:
            self.add_random_orders(1)
        if working and (len(working) >= DEMO_MAX_WORKING or self._rng.random() < 0.3):
            self.fill_order(self._rng.choice(working).orderid)

    @staticmethod
    def known_symbols() -> list[str]:
        """The NSE symbols the simulator's symbol master holds."""
        return list(REFERENCE_PRICES)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'live' or 'analyze', not {mode!r}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
