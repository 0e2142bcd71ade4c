"""OpenAlgo's analyzer switch: the whole server moves between the live book and the sandbox book."""

from __future__ import annotations

import httpx
import pytest

from core.simulator import Quirks, Simulator
from tests.core.sim_http import NO_TLS, call

LIMIT_ORDER = {
    "strategy": "ks",
    "symbol": "SBIN",
    "exchange": "NSE",
    "action": "BUY",
    "quantity": 1,
    "pricetype": "LIMIT",
    "price": 900,
    "product": "CNC",
}


def toggle(client: httpx.Client, sim: Simulator, mode: object) -> httpx.Response:
    return call(client, sim, "analyzer/toggle", mode=mode)


def orderbook_ids(client: httpx.Client, sim: Simulator) -> list[str]:
    return [row["orderid"] for row in call(client, sim, "orderbook").json()["data"]["orders"]]


# ---- the reply ---------------------------------------------------------------------------------


def test_switching_to_analyze_says_so_without_a_top_level_mode_key(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    response = toggle(client, sim, True)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["data"].pop("total_logs"), int)
    assert body == {
        "status": "success",
        "data": {"mode": "analyze", "analyze_mode": True, "message": "Analyzer mode switched to analyze"},
    }
    assert sim.mode == "analyze"


def test_switching_to_live_says_so(sim: Simulator, client: httpx.Client) -> None:
    data = toggle(client, sim, False).json()["data"]
    assert (data["mode"], data["analyze_mode"], data["message"]) == (
        "live",
        False,
        "Analyzer mode switched to live",
    )
    assert sim.mode == "live"


def test_the_analyzer_reads_back_what_the_toggle_set(sim: Simulator, client: httpx.Client) -> None:
    toggle(client, sim, False)
    assert call(client, sim, "analyzer").json()["data"]["mode"] == "live"
    toggle(client, sim, True)
    assert call(client, sim, "analyzer").json()["data"]["analyze_mode"] is True


def test_the_toggle_route_takes_a_trailing_slash(sim: Simulator, client: httpx.Client) -> None:
    response = client.post("/api/v1/analyzer/toggle/", json={"apikey": sim.apikey, "mode": False})
    assert response.status_code == 200


def test_a_path_below_another_endpoint_is_not_found(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "orderbook/toggle")
    assert response.status_code == 404
    assert response.json()["path"] == "/api/v1/orderbook/toggle"


# ---- validation, key, Semi-Auto ---------------------------------------------------------------


def test_the_toggle_requires_a_mode_and_words_the_error_as_a_string(
    sim: Simulator, client: httpx.Client
) -> None:
    response = call(client, sim, "analyzer/toggle")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": "{'mode': ['Missing data for required field.']}"}


def test_the_toggle_refuses_an_unknown_field(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "analyzer/toggle", mode=True, strategy="ks")
    assert response.status_code == 400
    assert response.json()["message"] == "{'strategy': ['Unknown field.']}"
    assert "mode" not in response.json()


@pytest.mark.parametrize("value", ["maybe", 2, 0.5, None, [True]])
def test_a_mode_that_is_not_a_boolean_is_refused(value: object, sim: Simulator, client: httpx.Client) -> None:
    response = toggle(client, sim, value)
    assert response.status_code == 400
    expected = "Field may not be null." if value is None else "Not a valid boolean."
    assert response.json()["message"] == f"{{'mode': ['{expected}']}}"
    assert sim.mode == "analyze"


@pytest.mark.parametrize(
    ("value", "mode"), [("false", "live"), (0, "live"), ("yes", "analyze"), (1, "analyze")]
)
def test_the_mode_takes_what_marshmallow_takes_for_a_boolean(
    value: object, mode: str, sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live" if mode == "analyze" else "analyze")
    assert toggle(client, sim, value).json()["data"]["mode"] == mode


def test_a_wrong_key_cannot_toggle(sim: Simulator, client: httpx.Client) -> None:
    response = client.post("/api/v1/analyzer/toggle", json={"apikey": "0" * 64, "mode": False})
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "Invalid openalgo apikey"}
    assert sim.mode == "analyze"


def test_an_empty_key_is_a_validation_error(client: httpx.Client) -> None:
    response = client.post("/api/v1/analyzer/toggle", json={"apikey": "", "mode": False})
    assert response.status_code == 400
    assert response.json()["message"] == "{'apikey': ['Length must be between 1 and 256.']}"


def test_the_toggle_goes_through_in_semi_auto_mode_as_in_openalgo_2_0_2_1(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.quirks.semi_auto = True
    assert toggle(client, sim, True).status_code == 200
    assert sim.mode == "analyze"


def test_semi_auto_can_block_the_toggle_as_openalgo_means_to(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.quirks = Quirks(semi_auto=True, semi_auto_blocks_toggle=True)
    response = toggle(client, sim, True)
    assert response.status_code == 403
    assert response.json()["message"].startswith(
        "Operation analyzer/toggle is not allowed in Semi-Auto mode."
    )
    assert "SEBI Research Analyst compliance" in response.json()["message"]
    assert sim.mode == "live"


def test_the_analyzer_status_words_validation_errors_as_a_string(client: httpx.Client) -> None:
    response = client.post("/api/v1/analyzer", json={})
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "{'apikey': ['Missing data for required field.']}",
    }


def test_the_toggle_has_its_own_rate_limit_bucket() -> None:
    with (
        Simulator(quirks=Quirks(api_rate_limit=3)) as sim,
        httpx.Client(base_url=sim.url, verify=NO_TLS) as http,
    ):
        assert [call(http, sim, "analyzer").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert [toggle(http, sim, True).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert toggle(http, sim, True).json() == {"message": "3 per 1 second"}


# ---- two books ---------------------------------------------------------------------------------


def test_orders_placed_after_switching_to_analyze_go_to_the_sandbox_book(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    live = call(client, sim, "placeorder", **LIMIT_ORDER).json()["orderid"]
    toggle(client, sim, True)
    sandbox = call(client, sim, "placeorder", **LIMIT_ORDER).json()["orderid"]
    assert orderbook_ids(client, sim) == [sandbox]
    assert [o["orderid"] for o in sim.working_orders(book="live")] == [live]
    assert [o["orderid"] for o in sim.working_orders(book="analyze")] == [sandbox]


def test_switching_back_to_live_shows_the_live_book_as_it_was(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    live = sim.place_order(symbol="INFY")
    toggle(client, sim, True)
    call(client, sim, "placeorder", **LIMIT_ORDER)
    toggle(client, sim, False)
    assert orderbook_ids(client, sim) == [live]
    assert "mode" not in call(client, sim, "orderbook").json()


def test_cancel_all_in_analyze_mode_leaves_the_live_orders_working(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.add_random_orders(3)
    toggle(client, sim, True)
    body = call(client, sim, "cancelallorder", strategy="ks").json()
    assert body["message"] == "No open orders to cancel"
    assert len(sim.working_orders(book="live")) == 3


def test_cancelorder_cannot_reach_an_order_of_the_other_book(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    live = sim.place_order(symbol="INFY")
    toggle(client, sim, True)
    assert call(client, sim, "cancelorder", strategy="ks", orderid=live).status_code == 404
    assert len(sim.working_orders(book="live")) == 1


def test_set_mode_without_switching_books_keeps_the_book_in_front(sim: Simulator) -> None:
    orderid = sim.place_order(symbol="SBIN")
    sim.set_mode("live")
    assert [o["orderid"] for o in sim.working_orders()] == [orderid]
    assert [o["orderid"] for o in sim.working_orders(book="live")] == [orderid]
    assert sim.working_orders(book="analyze") == []


def test_set_mode_can_switch_books_as_the_toggle_does(sim: Simulator) -> None:
    orderid = sim.place_order(symbol="SBIN")
    sim.set_mode("live", switch_books=True)
    assert sim.working_orders() == []
    assert [o["orderid"] for o in sim.working_orders(book="analyze")] == [orderid]


def test_the_python_api_can_fill_either_book(sim: Simulator) -> None:
    live = sim.place_order(symbol="SBIN", book="live")
    sandbox = sim.add_random_orders(2, book="analyze")
    assert [o["orderid"] for o in sim.working_orders(book="live")] == [live]
    assert [o["orderid"] for o in sim.working_orders()] == sandbox


def test_an_unknown_book_is_refused(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="live"):
        sim.working_orders(book="paper")
