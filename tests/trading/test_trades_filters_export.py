"""GET /api/trades filters, cost, bot names and paging; GET /api/trades/export (a streamed CSV with the same filters,
injection-safe, one user's trades only)."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.helpers import assert_error
from tests.trading.test_round_trips import T0, fill, plain_bot


def rows_of(response):
    assert response.status_code == 200, response.content
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def book(user):
    """Alpha: BTC buy (day 1), BTC sell at a loss (day 2); Beta: ETH buy (day 3); one manual BTC buy (day 3)."""
    alpha, beta = plain_bot(user, "Alpha"), plain_bot(user, "Beta")
    trades = [
        fill(user, alpha, "buy", "0.01", "1000", "0.01", at=T0),
        fill(user, alpha, "sell", "0.01", "900", "0.01", at=T0 + timedelta(days=1)),
        fill(user, beta, "buy", "1", "50", "0.05", symbol="ETH/ZAR", at=T0 + timedelta(days=2)),
        fill(user, None, "buy", "0.002", "1000", "0", at=T0 + timedelta(days=2, hours=1)),
    ]
    return alpha, beta, trades


@pytest.mark.django_db
def test_filters_cost_and_bot_names(auth_client, book):
    alpha, beta, (buy, sell, eth, manual) = book

    def ids(query):
        body = auth_client.get(f"/api/trades?{query}").json()
        return body["total"], [t["id"] for t in body["trades"]]

    assert ids("") == (4, [str(manual.id), str(eth.id), str(sell.id), str(buy.id)])
    assert ids(f"bot={alpha.pk}") == (2, [str(sell.id), str(buy.id)])
    assert ids(f"bot_id={beta.pk}") == (1, [str(eth.id)])  # the contract's name for it still works
    assert ids("symbol=ETH/ZAR") == (1, [str(eth.id)]) == ids("symbol=eth/zar")
    assert ids("side=sell") == (1, [str(sell.id)])
    assert ids("from=2026-03-02&to=2026-03-02") == (1, [str(sell.id)])  # a date in "to" is the whole day
    assert ids("from=2026-03-03T09:30:00Z") == (1, [str(manual.id)])
    assert ids("to=2026-03-01T09:00:00Z") == (1, [str(buy.id)])  # a time in "to" is inclusive
    assert ids(f"bot={alpha.pk}&side=buy&symbol=BTC/ZAR") == (1, [str(buy.id)])

    trades = {t["id"]: t for t in auth_client.get("/api/trades").json()["trades"]}
    assert trades[str(eth.id)]["cost"] == 50.0 and trades[str(buy.id)]["cost"] == 10.0
    assert trades[str(buy.id)]["bot_name"] == "Alpha" and trades[str(manual.id)]["bot_name"] is None
    assert trades[str(sell.id)]["profit_loss"] == float(sell.profit_loss) < 0


@pytest.mark.django_db
def test_bad_filters_are_field_errors(auth_client):
    for query, field in (
        ("bot=nope", "bot"),
        ("side=hold", "side"),
        ("symbol=BTC", "symbol"),
        ("from=2026-02-30", "from"),
        ("to=tomorrow", "to"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
    ):
        for path in ("/api/trades", "/api/trades/export"):
            if path.endswith("export") and field in {"limit", "offset"}:
                continue
            body = assert_error(auth_client.get(f"{path}?{query}"), 400, "VALIDATION_ERROR")
            assert field in body["details"], (path, query, body)


@pytest.mark.django_db
def test_pages_are_stable_and_complete(auth_client, user):
    bot = plain_bot(user)
    for _i in range(7):
        fill(user, bot, "buy", "0.001", "1000", at=T0)  # all at the same moment: the id breaks the tie
    seen = []
    for offset in range(0, 7, 3):
        body = auth_client.get(f"/api/trades?limit=3&offset={offset}").json()
        assert body["total"] == 7
        seen += [t["id"] for t in body["trades"]]
    assert len(seen) == len(set(seen)) == 7
    assert seen == [t["id"] for t in auth_client.get("/api/trades?limit=7").json()["trades"]]


@pytest.mark.django_db
def test_csv_export_content_and_filters(auth_client, book):
    alpha, _beta, (buy, sell, eth, manual) = book
    response = auth_client.get("/api/trades/export?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="amarktai-trades.csv"'
    rows = rows_of(response)
    header, body = rows[0], rows[1:]
    assert header[:4] == ["timestamp", "id", "bot_id", "bot_name"] and "cost" in header and "profit_loss" in header
    assert [r[1] for r in body] == [str(manual.id), str(eth.id), str(sell.id), str(buy.id)]
    by_id = {r[1]: dict(zip(header, r, strict=True)) for r in body}
    row = by_id[str(sell.id)]
    assert row["bot_name"] == "Alpha" and row["side"] == "sell" and row["cost"] == "9"
    assert Decimal(row["profit_loss"]) == sell.profit_loss < 0  # a negative P&L stays a number
    assert by_id[str(buy.id)]["profit_loss"] == ""  # a buy realises nothing
    assert by_id[str(eth.id)]["amount"] == "1" and by_id[str(eth.id)]["price"] == "50"
    assert by_id[str(manual.id)]["bot_id"] == "" and by_id[str(buy.id)]["timestamp"] == "2026-03-01T09:00:00Z"

    only = rows_of(auth_client.get(f"/api/trades/export?bot={alpha.pk}&side=buy&to=2026-03-01"))
    assert [r[1] for r in only[1:]] == [str(buy.id)]
    assert rows_of(auth_client.get("/api/trades/export"))[1:] == body  # csv is the default format


@pytest.mark.django_db
def test_csv_export_other_formats_are_a_clear_400(auth_client):
    for fmt in ("xlsx", "json", "html"):
        body = assert_error(auth_client.get(f"/api/trades/export?format={fmt}"), 400, "VALIDATION_ERROR")
        assert "csv" in " ".join(body["details"]["format"])


@pytest.mark.django_db
def test_csv_export_neutralises_formulas(auth_client, user):
    names = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "Plain"]
    for name in names:
        fill(user, plain_bot(user, name), "buy", "0.001", "1000")
    rows = rows_of(auth_client.get("/api/trades/export?format=csv"))
    shown = sorted(r[3] for r in rows[1:])
    assert shown == sorted(['\'=HYPERLINK("http://evil","x")', "'+1+1", "'-2+3", "'@SUM(A1)", "'\tTab", "Plain"])
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


@pytest.mark.django_db
def test_csv_export_has_only_the_users_trades(other_client, auth_client, book):
    alpha = book[0]
    assert rows_of(other_client.get("/api/trades/export"))[1:] == []
    assert rows_of(other_client.get(f"/api/trades/export?bot={alpha.pk}"))[1:] == []
    assert len(rows_of(auth_client.get("/api/trades/export"))) == 5


@pytest.mark.django_db
def test_csv_export_needs_credentials_and_a_read_scope(api_client, user):
    assert_error(api_client.get("/api/trades/export"), 401, "AUTH_REQUIRED")
    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "reader")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert rows_of(api_client.get("/api/trades/export"))[0][0] == "timestamp"
