"""GET /api/trades reads plain rows (trading.selectors.TRADE_LIST_FIELDS) instead of Trade models: the page must be byte
for byte what the model path (trading.payloads.trade_list_payload) wrote, for every kind of trade, and paging by cursor
must continue exactly where it did."""

from datetime import timedelta

import pytest

from amarktai.renderers import JSONRenderer
from tests.trading.test_round_trips import T0, fill, plain_bot
from trading.models import Trade
from trading.payloads import trade_list_payload
from trading.selectors import filtered_trades


@pytest.fixture
def varied(user):
    alpha, beta = plain_bot(user, 'Alpha \u2028 "quoted"'), plain_bot(user, "Beta")
    trades = [
        fill(user, alpha, "buy", "0.01234567", "1000.12345678", "0.01", at=T0),
        fill(user, alpha, "sell", "0.01", "900", "0.00000001", at=T0 + timedelta(days=1)),
        fill(user, beta, "buy", "1", "50", "0.05", symbol="ETH/ZAR", at=T0 + timedelta(days=2)),
        fill(user, None, "buy", "0.002", "1000", "0", at=T0 + timedelta(days=2, hours=1)),
        # the same instant as the one before: the id breaks the tie
        fill(user, beta, "buy", "3", "7", "0", symbol="ETH/ZAR", at=T0 + timedelta(days=2, hours=1)),
    ]
    Trade.objects.filter(pk=trades[2].pk).update(price_source="last")
    return trades


@pytest.mark.django_db
def test_pages_are_byte_for_byte_the_model_rendering(auth_client, user, varied):
    models = list(filtered_trades(user))
    assert len(models) == 5
    seen, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = auth_client.get(f"/api/trades?{query}")
        assert response.status_code == 200
        body = response.json()
        page = models[len(seen) : len(seen) + 2]
        expected = {
            "success": True,
            "trades": [trade_list_payload(t) for t in page],
            "total": 5,
            "next_cursor": body["next_cursor"],
        }
        assert response.content == JSONRenderer().render(expected)
        seen += body["trades"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [t["id"] for t in seen] == [str(t.id) for t in models]
    by_offset = auth_client.get("/api/trades?limit=2&offset=2").json()
    assert [t["id"] for t in by_offset["trades"]] == [str(t.id) for t in models[2:4]]
    assert by_offset["next_cursor"] == auth_client.get("/api/trades?limit=4").json()["next_cursor"]


@pytest.mark.django_db
def test_a_page_costs_one_query(auth_client, user, varied, django_assert_num_queries):
    """The page with its bots' names and orders' reasons and, in the same statement, the count from the tallies; the
    count matches the old separate aggregate (and a recount) for every filter, and past the end too."""
    from trading.selectors import trade_total

    alpha = varied[0].bot
    auth_client.get("/api/trades?limit=2")  # the user's cached row
    with django_assert_num_queries(1):
        body = auth_client.get("/api/trades?limit=2").json()
    assert len(body["trades"]) == 2 and body["total"] == 5
    for query, filters in [
        ("", {}),
        (f"&bot={alpha.pk}", {"bot_id": alpha.pk}),
        ("&side=buy", {"side": "buy"}),
        ("&side=sell&symbol=BTC/ZAR", {"side": "sell", "symbol": "BTC/ZAR"}),
        ("&symbol=ETH/ZAR", {"symbol": "ETH/ZAR"}),
    ]:
        total = auth_client.get(f"/api/trades?limit=1{query}").json()["total"]
        assert total == trade_total(user, **filters) == filtered_trades(user, **filters).count()
    past = auth_client.get("/api/trades?limit=2&offset=10").json()
    assert past["trades"] == [] and past["total"] == 5 and past["next_cursor"] is None
    dated = auth_client.get("/api/trades?limit=1&from=2026-03-03").json()
    assert dated["total"] == 3
