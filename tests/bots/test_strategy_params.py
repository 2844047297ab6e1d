"""GET /api/strategies and the params validation derived from the same declarations: whatever the schema accepts the
API accepts, and values outside the declared ranges are refused with field-level errors."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.models import Bot
from bots.strategies import STRATEGIES
from bots.strategies.base import BOT_PARAMS
from bots.strategies.params import json_schema, validate
from tests.helpers import assert_error

BOT = {"name": "P", "exchange": "luno", "trading_mode": "paper", "initial_capital": 100.0}


def _value(spec):
    low, high = spec.get("minimum", -1e6), spec.get("maximum", 1e6)
    if spec["type"] == "integer":
        return st.integers(min_value=int(low), max_value=int(high))
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def _params_for(schema):
    props = schema["properties"]
    return st.fixed_dictionaries({}, optional={name: _value(spec) for name, spec in props.items()})


def _outside(spec):
    low, high = spec.get("minimum"), spec.get("maximum")
    choices = []
    if low is not None:
        choices.append(st.floats(min_value=low - 1e6, max_value=low, exclude_max=True, allow_nan=False))
    if high is not None:
        choices.append(st.floats(min_value=high, max_value=high + 1e6, exclude_min=True, allow_nan=False))
    return st.one_of(*choices)


@pytest.mark.django_db
def test_strategies_endpoint_lists_the_registry(auth_client):
    body = auth_client.get("/api/strategies").json()
    assert body["success"] is True
    listed = {s["id"]: s for s in body["strategies"]}
    assert set(listed) == set(STRATEGIES) and {"momentum", "breakout", "mean_reversion", "supertrend", "signal"} <= set(
        listed
    )
    momentum = listed["momentum"]
    assert momentum["kind"] == "indicator" and listed["signal"]["kind"] == "webhook"
    assert momentum["params_schema"]["type"] == "object" and momentum["params_schema"]["additionalProperties"] is False
    fast = momentum["params_schema"]["properties"]["fast"]
    assert fast["type"] == "integer" and fast["minimum"] == 2 and fast["default"] == 5 and fast["title"]
    assert {k: momentum["defaults"][k] for k in ("fast", "slow", "min_roc")} == {"fast": 5, "slow": 20, "min_roc": 0.0}
    # every bot's exits and protections (bots.strategies.base.BOT_PARAMS), off (0) unless set
    assert (
        set(BOT_PARAMS) <= set(momentum["params_schema"]["properties"])
        and momentum["defaults"]["cooldown_minutes"] == 0
    )
    assert "position_pct" in listed["signal"]["params_schema"]["properties"]
    assert_error(auth_client.__class__().get("/api/strategies"), 401, "AUTH_REQUIRED")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["momentum", "breakout", "mean_reversion", "supertrend", "signal"])
def test_any_params_the_schema_accepts_are_accepted(auth_client, name):
    schema = json_schema(STRATEGIES[name])

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(params=_params_for(schema))
    def check(params):
        r = auth_client.post("/api/bots", {**BOT, "strategy": name, "params": params}, format="json")
        assert r.status_code == 201, (params, r.content)
        bot = Bot.objects.get(pk=r.json()["bot"]["id"])
        assert set(bot.params) == set(params)
        bot.delete()

    check()


@pytest.mark.parametrize("name", ["momentum", "breakout", "mean_reversion", "supertrend", "signal"])
def test_values_outside_the_ranges_are_refused(name):
    cls = STRATEGIES[name]
    props = json_schema(cls)["properties"]

    @settings(max_examples=20, deadline=None)
    @given(data=st.data())
    def check(data):
        field = data.draw(st.sampled_from(sorted(props)))
        value = data.draw(_outside(props[field]))
        clean, errors = validate(cls, {field: value})
        assert f"params.{field}" in errors and field not in clean

    check()


@pytest.mark.django_db
def test_field_level_errors_in_the_contract_schema(auth_client):
    r = auth_client.post(
        "/api/bots", {**BOT, "strategy": "momentum", "params": {"fast": 1, "slow": 2.5, "leverage": 3}}, format="json"
    )
    body = assert_error(r, 400, "VALIDATION_ERROR")
    assert set(body["details"]) == {"params.fast", "params.slow", "params.leverage"}
    assert "at least 2" in body["details"]["params.fast"][0]
    assert "whole number" in body["details"]["params.slow"][0]
    bot_id = auth_client.post("/api/bots", {**BOT, "strategy": "momentum"}, format="json").json()["bot"]["id"]
    patched = auth_client.patch(f"/api/bots/{bot_id}", {"params": {"fast": 500}}, format="json")
    assert "params.fast" in assert_error(patched, 400, "VALIDATION_ERROR")["details"]
    ok = auth_client.patch(f"/api/bots/{bot_id}", {"params": {"fast": 8.0, "position_pct": 0.1}}, format="json")
    assert ok.status_code == 200 and ok.json()["bot"]["params"] == {"fast": 8, "position_pct": 0.1}


@pytest.mark.django_db
def test_existing_bots_params_keep_working(user):
    """A bot stored before the declarations (any params the old check allowed) still trades with them."""
    from bots.payloads import effective_params

    bot = Bot.objects.create(
        user=user,
        name="Old",
        exchange="luno",
        symbol="BTC/ZAR",
        strategy="momentum",
        params={"fast": 3, "slow": 9},
        initial_capital=100,
        current_capital=100,
    )
    assert effective_params(bot)["fast"] == 3 and effective_params(bot)["min_roc"] == 0.0


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_schema_is_valid_json_schema_and_marks_the_advanced_params(name):
    """What the portal's generated form relies on: a valid JSON Schema per strategy whose every property has a type and
    a title, whose defaults satisfy it, whose "required" names declared params without a default, and whose exits and
    protections (and only those) carry ``x-group``, the form's folded "Exits and protections" section."""
    from jsonschema import Draft202012Validator

    from bots.strategies.base import EXIT_PARAMS, PROTECTION_PARAMS
    from bots.strategies.managed import ManagedStrategy

    cls = STRATEGIES[name]
    schema = json_schema(cls)
    Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert all(spec["type"] in ("number", "integer", "boolean", "string") and spec["title"] for spec in props.values())
    for spec in props.values():
        if "default" in spec:
            Draft202012Validator(spec).validate(spec["default"])
        if "enum" in spec:
            assert spec["type"] == "string" and spec.get("default", spec["enum"][0]) in spec["enum"]
    for prop in schema.get("required", []):
        assert prop in props and "default" not in props[prop]
    groups = {prop: spec["x-group"] for prop, spec in props.items() if "x-group" in spec}
    if issubclass(cls, ManagedStrategy):  # DCA and grid: their own params, required ones first in the form
        assert groups == {} and schema["required"]
    else:
        assert groups == {**dict.fromkeys(EXIT_PARAMS, "exits"), **dict.fromkeys(PROTECTION_PARAMS, "protections")}
        assert "required" not in schema
