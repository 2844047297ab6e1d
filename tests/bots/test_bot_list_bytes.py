"""GET /api/bots splices each cached list version's JSON bytes into the response (amarktai.renderers.Encoded): the body
must be byte for byte what rendering the plain items gives, for every kind of value a bot carries, and the hot read
must cost a fixed, small number of queries."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from amarktai.renderers import Encoded, JSONRenderer
from bots.models import Bot
from bots.payloads import bot_payload


def varied_bots(user, admin):
    now = timezone.now()
    common = {"user": user, "exchange": "luno", "symbol": "BTC/ZAR"}
    Bot.objects.create(**common, name="Plain", initial_capital=1000, current_capital=1000)
    Bot.objects.create(
        **common,
        name='Ünïcödé "quoted" \\ line\u2028sep\u2029 </script> 🚀',
        status="active",
        initial_capital=Decimal("1234.5678"),
        current_capital=Decimal("0.01"),
        total_profit=Decimal("-12.3456"),
        params={"fast": 9, "slow": 21, "nested": {"a": [1, 2.5, None, True]}, "text": "x\u2028y"},
        last_error="exchange said: \u20ac 5 too low",
        failure_count=3,
        last_decision="no_signal",
        last_decision_reason="RSI 51.2 between 30 and 70",
        last_decision_at=now,
        last_signal={"side": "buy", "price": 123.456},
        last_tick_at=now.replace(microsecond=0),
        risk_block="daily_loss",
    )
    Bot.objects.create(
        **common,
        name="Locked",
        status="paused",
        initial_capital=Decimal("99999999.99"),
        current_capital=Decimal("99999999.99"),
        paused_by_admin=True,
        paused_by=admin,
        pause_reason="review",
        paused_at=now,
        pause_origin="admin",
    )
    Bot.objects.create(
        **common,
        name="Orphan lock",
        status="paused",
        initial_capital=5,
        current_capital=5,
        paused_by_admin=True,
        pause_reason="",
    )


@pytest.mark.django_db
def test_the_body_is_byte_for_byte_the_plain_rendering(auth_client, user, make_user):
    varied_bots(user, make_user(first_name="Ada", is_admin=True))
    plain = [bot_payload(bot) for bot in Bot.objects.owned_by(user)]
    expected = JSONRenderer().render({"success": True, "bots": plain, "total": len(plain)})

    for _ in range(3):  # the first read fills the cache, the next ones splice the stored bytes
        response = auth_client.get("/api/bots")
        assert response.status_code == 200
        assert response.content == expected
    # And that is what DRF's own renderer writes for the same items (the API's bytes before orjson).
    assert json.loads(response.content) == json.loads(DRFJSONRenderer().render({"bots": plain})) | {
        "success": True,
        "total": len(plain),
    }
    assert b"\\u2028" in response.content and b"\xe2\x80\xa8" not in response.content

    # A filter answers from the same items, encoded as before.
    paused = auth_client.get("/api/bots?status=paused")
    rows = [b for b in plain if b["status"] == "paused"]
    assert paused.content == JSONRenderer().render({"success": True, "bots": rows, "total": len(rows)})

    # Pretty-printing goes through DRF's renderer, which sees the spliced list as the plain one.
    pretty = auth_client.get("/api/bots", HTTP_ACCEPT="application/json; indent=2")
    assert pretty.content == DRFJSONRenderer().render(
        {"success": True, "bots": plain, "total": len(plain)}, "application/json; indent=2"
    )


@pytest.mark.django_db
def test_a_write_shows_at_once(auth_client, user):
    varied_bots(user, None)
    first = auth_client.get("/api/bots").json()["bots"]
    bot = Bot.objects.owned_by(user).get(name="Plain")
    bot.current_capital = Decimal("1001.25")
    bot.save()
    Bot.objects.owned_by(user).filter(name="Locked").update(last_error="tick failed")
    after = {b["name"]: b for b in auth_client.get("/api/bots").json()["bots"]}
    assert after["Plain"]["current_capital"] == 1001.25 and after["Locked"]["last_error"] == "tick failed"
    assert len(after) == len(first)


def test_encoded_renders_as_its_items():
    items = [{"a": Decimal("1.50"), "b": None, "c": "\u2028"}]
    body = {"success": True, "bots": Encoded(items), "total": 1}
    assert JSONRenderer().render(body) == JSONRenderer().render({"success": True, "bots": items, "total": 1})
    # What orjson cannot encode falls back to DRF's renderer, for the spliced list too.
    big = {"bots": Encoded([{"n": 2**70}])}
    assert JSONRenderer().render(big) == DRFJSONRenderer().render({"bots": [{"n": 2**70}]})
    assert len(Encoded(items)) == 1 and list(Encoded(items)) == items and Encoded(items)[0] is items[0]


@pytest.mark.django_db
def test_the_list_costs_a_fixed_number_of_queries(auth_client, user, make_user, django_assert_max_num_queries):
    varied_bots(user, make_user(first_name="Ada", is_admin=True))
    for i in range(20):
        Bot.objects.create(
            user=user,
            name=f"Locked {i}",
            exchange="luno",
            symbol="BTC/ZAR",
            initial_capital=1,
            current_capital=1,
            paused_by_admin=True,
            paused_by=make_user(first_name=f"Admin {i}", is_admin=True),
        )
    auth_client.get("/api/bots")  # the user's cached row
    Bot.objects.owned_by(user).filter(name="Plain").update(failure_count=1)  # a new version: the next read misses
    with django_assert_max_num_queries(1):  # the bots with their locking admins, in one query
        assert auth_client.get("/api/bots").json()["total"] == 24
    with django_assert_max_num_queries(0):  # cached: no query at all
        assert auth_client.get("/api/bots").json()["total"] == 24
