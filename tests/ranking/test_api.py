"""POST/GET /api/optimizations (validation, per-user cap, tenancy, top-N with out-of-sample results), the ranking
(GET /api/models, POST /api/models/train, the periodic task) and deploy-to-bot with confirmation."""

from decimal import Decimal

import pytest

from accounts.models import AuditLog
from bots import engine
from bots.models import Bot, BotStatus
from ranking import services, tasks
from ranking.models import Optimization, RankedModel, RunStatus, TrainingRun
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db(transaction=True)  # the searches start on commit

SEARCH = {
    "strategy": "momentum",
    "exchange": "binance",
    "symbol": "BTC/USDT",
    "timeframe": "1m",
    "method": "grid",
    "candles": 200,
    "in_sample_ratio": "0.7",
    "top_n": 3,
    "space": {"fast": {"low": 3, "high": 5}, "slow": {"low": 15, "high": 20}},
}


def make_bot(user, **over):
    fields = {
        "user": user,
        "name": "Bot",
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "trading_mode": "paper",
        "strategy": "momentum",
        "params": {"position_pct": 0.1},
        "initial_capital": Decimal("1000"),
        "current_capital": Decimal("1000"),
        "status": BotStatus.ACTIVE,
    }
    fields.update(over)
    return Bot.objects.create(**fields)


def test_optimization_reports_top_n_with_out_of_sample(auth_client, user):
    response = auth_client.post("/api/optimizations", SEARCH, format="json")
    assert response.status_code == 202, response.content
    opt = response.json()["optimization"]
    # INLINE: the search ran when the request's transaction committed; read it back.
    detail = auth_client.get(f"/api/optimizations/{opt['id']}").json()["optimization"]
    assert detail["status"] == "completed", detail["error"]
    assert detail["progress"] == 1.0 and detail["evaluated"] == 6 and detail["trials"] == 6
    results = detail["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    for r in results:
        assert set(r["params"]) == {"fast", "slow"} and 3 <= r["params"]["fast"] <= 5
        for block in ("in_sample", "out_of_sample"):
            assert set(r[block]) == {
                "total_trades",
                "success_rate",
                "total_return",
                "sharpe_ratio",
                "max_drawdown",
                "score",
            }
    ordered = [(r["in_sample"]["sharpe_ratio"], r["in_sample"]["total_return"]) for r in results]
    assert ordered == sorted(ordered, reverse=True)  # best in-sample first
    ranges = detail["ranges"]
    assert ranges["in_sample"][1] < ranges["out_of_sample"][0]  # out-of-sample is after, never overlapping
    listed = auth_client.get("/api/optimizations").json()
    assert listed["total"] == 1 and listed["optimizations"][0]["id"] == opt["id"]


def test_out_of_sample_is_a_real_replay(auth_client, user, monkeypatch):
    """The out-of-sample numbers come from replaying the later candles, not from the in-sample run."""
    seen = []
    real = services.run_backtest

    def spy(strategy, params, candles, **kw):
        seen.append((dict(params), int(candles[0][0]), len(candles)))
        return real(strategy, params, candles, **kw)

    monkeypatch.setattr(services, "run_backtest", spy)
    auth_client.post("/api/optimizations", {**SEARCH, "top_n": 2}, format="json")
    assert len(seen) == 6 + 2 + 1  # the grid in-sample, the top 2 out-of-sample, the best on the ranking window
    in_sample, oos = seen[:6], seen[6:8]
    assert {n for _, _, n in in_sample} == {140} and {n for _, _, n in oos} == {60}
    assert oos[0][1] > in_sample[0][1]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"strategy": "martingale"}, "strategy"),
        ({"method": "optuna"}, "method"),
        ({"top_n": 0}, "top_n"),
        ({"candles": 20}, "candles"),
        ({"in_sample_ratio": "0.99"}, "in_sample_ratio"),
        ({"trials": True}, "trials"),
        ({"symbol": "BTCUSDT"}, "symbol"),
        ({"space": {"fast": {"low": 1, "high": 5}}}, "space"),  # wider than the declared range
        ({"space": {"min_roc": {"low": 0.1}}}, "space"),  # not searchable
        ({"space": None, "method": "grid"}, "space"),  # the whole momentum grid: more than the trial cap
    ],
)
def test_optimization_validation(auth_client, change, field, settings):
    settings.OPTIMIZATION_MAX_TRIALS = 50
    response = auth_client.post("/api/optimizations", {**SEARCH, **change}, format="json")
    assert_error(response, 400, "VALIDATION_ERROR")
    assert field in response.json().get("details", {}), response.json()
    assert Optimization.objects.count() == 0


def test_unknown_exchange_is_refused(auth_client):
    assert_error(
        auth_client.post("/api/optimizations", {**SEARCH, "exchange": "mtgox"}, format="json"), 400, "VALIDATION_ERROR"
    )


def test_per_user_cap(auth_client, user, other_client, settings, monkeypatch):
    settings.OPTIMIZATION_MAX_ACTIVE = 1
    monkeypatch.setattr(services, "dispatch", lambda *a: None)  # queued, never run
    assert auth_client.post("/api/optimizations", SEARCH, format="json").status_code == 202
    assert_error(auth_client.post("/api/optimizations", SEARCH, format="json"), 409, "CONFLICT")
    assert other_client.post("/api/optimizations", SEARCH, format="json").status_code == 202  # per user


def test_optimizations_are_private(auth_client, other_client):
    opt = auth_client.post("/api/optimizations", SEARCH, format="json").json()["optimization"]
    assert_error(other_client.get(f"/api/optimizations/{opt['id']}"), 404, "NOT_FOUND")
    assert other_client.get("/api/optimizations").json()["total"] == 0


def test_optimization_requires_sign_in(api_client):
    assert api_client.post("/api/optimizations", SEARCH, format="json").status_code == 401
    assert api_client.get("/api/models").status_code == 401


def test_periodic_ranking_scores_active_markets(user, other_user):
    make_bot(user)
    make_bot(other_user, symbol="ETH/USDT")
    make_bot(other_user, symbol="SOL/USDT", status=BotStatus.PAUSED)  # not active: not ranked
    run = tasks.rank_models() or TrainingRun.objects.get()
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.COMPLETED and run.requested_by is None
    assert sorted({(m.exchange, m.symbol) for m in RankedModel.objects.all()}) == [
        ("binance", "BTC/USDT"),
        ("binance", "ETH/USDT"),
    ]
    per_market = sum(len(p) for p in services.spaces.PRESETS.values())
    assert RankedModel.objects.filter(symbol="BTC/USDT").count() == per_market
    first = {m.id: m.trained_at for m in RankedModel.objects.all()}
    tasks.rank_models()  # scored again: the same rows, trained again (no duplicates)
    assert RankedModel.objects.count() == 2 * per_market
    assert all(m.trained_at > first[m.id] for m in RankedModel.objects.all())


def test_periodic_ranking_is_registered_with_the_embedded_scheduler():
    from bots import scheduler

    fn, every = scheduler._periodic["ranking.rank_models"]
    assert fn is tasks.rank_models_periodic and every > 0


def test_no_active_market_nothing_to_rank(user, auth_client):
    assert tasks.rank_models() is None and TrainingRun.objects.count() == 0
    assert_error(auth_client.post("/api/models/train", {}, format="json"), 400, "VALIDATION_ERROR")


def test_train_then_list_models(auth_client, other_client, user):
    response = auth_client.post("/api/models/train", {"exchange": "binance", "symbol": "btc/usdt"}, format="json")
    assert response.status_code == 202, response.content
    run = response.json()["run"]
    assert run["markets"] == [["binance", "BTC/USDT", "1m"]] and run["mine"] is True
    listed = auth_client.get("/api/models").json()
    models = listed["models"]
    assert listed["total"] == len(models) == RankedModel.objects.count() > 0
    assert [m["rank"] for m in models] == list(range(1, len(models) + 1))
    scores = [m["score"] for m in models]
    assert scores == sorted(scores, reverse=True)
    for key in ("total_trades", "success_rate", "total_return", "sharpe_ratio", "max_drawdown", "last_trained"):
        assert key in models[0]
    assert listed["runs"][0]["status"] == "completed"
    # Platform-wide: another signed-in user sees the same models, but not whose run it was.
    theirs = other_client.get("/api/models").json()
    assert [m["id"] for m in theirs["models"]] == [m["id"] for m in models]
    assert theirs["runs"][0]["mine"] is False and "requested_by" not in theirs["runs"][0]
    only = auth_client.get("/api/models", {"strategy": "supertrend"}).json()["models"]
    assert only and {m["strategy"] for m in only} == {"supertrend"}


def test_train_validation(auth_client):
    assert_error(auth_client.post("/api/models/train", {"symbol": "BTC/USDT"}, format="json"), 400, "VALIDATION_ERROR")
    assert_error(
        auth_client.post("/api/models/train", {"exchange": "mtgox", "symbol": "BTC/USDT"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )


def _ranked(**over):
    fields = {
        "strategy": "supertrend",
        "params": {"period": 7, "multiplier": 2.0},
        "params_key": '{"multiplier":2.0,"period":7}',
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1m",
        "score": 1.5,
        "total_trades": 3,
    }
    fields.update(over)
    return RankedModel.objects.create(**fields)


def test_deploy_with_confirmation_applies_on_next_tick(auth_client, user, monkeypatch):
    bot = make_bot(user)
    model = _ranked()
    proposed = auth_client.post(
        "/api/models/deploy", {"model_id": str(model.id), "bot_ids": [str(bot.id)]}, format="json"
    )
    assert proposed.status_code == 200, proposed.content
    body = proposed.json()
    assert body["bots"][0]["to"] == {
        "strategy": "supertrend",
        "params": {"period": 7, "multiplier": 2.0, "position_pct": 0.1},
    }
    bot.refresh_from_db()
    assert bot.strategy == "momentum"  # nothing changes before the confirmation
    assert not AuditLog.objects.filter(action="model.deploy").exists()

    confirmed = auth_client.post(
        "/api/models/deploy/confirm", {"confirmation_token": body["confirmation_token"]}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    bot.refresh_from_db()
    assert bot.strategy == "supertrend" and bot.params == {"period": 7, "multiplier": 2.0, "position_pct": 0.1}
    audit = AuditLog.objects.get(action="model.deploy")
    assert audit.actor == user and audit.target_id == str(bot.id)
    assert audit.details["from"]["strategy"] == "momentum" and audit.details["model_id"] == str(model.id)

    # The next tick decides with the deployed strategy and parameters.
    used = []
    real = engine.get_strategy

    def spy(name):
        strategy = real(name)
        decide = strategy.decide

        def recording(candles, position=None, params=None, risk_mode="balanced"):
            used.append((name, dict(params or {})))
            return decide(candles, position, params, risk_mode)

        strategy.decide = recording
        return strategy

    monkeypatch.setattr(engine, "get_strategy", spy)
    candles = engine.candles_for(bot.exchange, bot.symbol, bot.timeframe, "simulated")
    engine.tick_bot(bot.id, candles)
    assert used == [("supertrend", {"period": 7, "multiplier": 2.0, "position_pct": 0.1})]

    # One use only.
    again = auth_client.post(
        "/api/models/deploy/confirm", {"confirmation_token": body["confirmation_token"]}, format="json"
    )
    assert_error(again, 404, "NOT_FOUND")
    assert AuditLog.objects.filter(action="model.deploy").count() == 1


def test_deploy_to_another_users_bot_is_404(auth_client, other_user, user):
    theirs = make_bot(other_user)
    mine = make_bot(user)
    model = _ranked()
    response = auth_client.post(
        "/api/models/deploy", {"model_id": str(model.id), "bot_ids": [str(mine.id), str(theirs.id)]}, format="json"
    )
    assert_error(response, 404, "NOT_FOUND")
    assert_error(
        auth_client.post(
            "/api/models/deploy",
            {"model_id": "00000000-0000-0000-0000-000000000000", "bot_ids": [str(mine.id)]},
            format="json",
        ),
        404,
        "NOT_FOUND",
    )


def test_another_user_cannot_confirm(auth_client, other_client, user):
    bot = make_bot(user)
    model = _ranked()
    token = auth_client.post(
        "/api/models/deploy", {"model_id": str(model.id), "bot_ids": [str(bot.id)]}, format="json"
    ).json()["confirmation_token"]
    assert_error(
        other_client.post("/api/models/deploy/confirm", {"confirmation_token": token}, format="json"), 404, "NOT_FOUND"
    )
    bot.refresh_from_db()
    assert bot.strategy == "momentum"


def test_expired_confirmation(auth_client, user, settings):
    settings.MODEL_DEPLOY_TTL_SECONDS = -1
    bot = make_bot(user)
    token = auth_client.post(
        "/api/models/deploy", {"model_id": str(_ranked().id), "bot_ids": [str(bot.id)]}, format="json"
    ).json()["confirmation_token"]
    assert_error(
        auth_client.post("/api/models/deploy/confirm", {"confirmation_token": token}, format="json"), 404, "NOT_FOUND"
    )


def test_optimize_deploy_and_the_ranking_table_updates(auth_client, user):
    """The issue's "done when": run an optimization, deploy its best parameters to a bot, see the ranking table
    update."""
    bot = make_bot(user)
    opt = auth_client.post("/api/optimizations", SEARCH, format="json").json()["optimization"]
    best = auth_client.get(f"/api/optimizations/{opt['id']}").json()["optimization"]["results"][0]
    table = {m["id"]: m for m in auth_client.get("/api/models").json()["models"]}
    assert best["model_id"] in table  # the best set joined the ranking table
    row = table[best["model_id"]]
    assert (row["strategy"], row["symbol"], row["your_bots"]) == ("momentum", "BTC/USDT", 0)
    assert {k: row["params"][k] for k in best["params"]} == best["params"]

    token = auth_client.post(
        "/api/models/deploy", {"model_id": best["model_id"], "bot_ids": [str(bot.id)]}, format="json"
    ).json()["confirmation_token"]
    assert (
        auth_client.post("/api/models/deploy/confirm", {"confirmation_token": token}, format="json").status_code == 200
    )
    after = {m["id"]: m for m in auth_client.get("/api/models").json()["models"]}
    assert after[best["model_id"]]["your_bots"] == 1

    # The next ranking run scores the optimized set again, next to the presets.
    before = after[best["model_id"]]["last_trained"]
    auth_client.post("/api/models/train", {}, format="json")  # the bot is active on BTC/USDT
    again = {m["id"]: m for m in auth_client.get("/api/models").json()["models"]}
    assert again[best["model_id"]]["last_trained"] > before
