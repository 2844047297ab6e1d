"""Parameter search, the strategy ranking and deploy-to-bot (writes and runs; reads are in ranking.selectors).

Every replay goes through research.backtest.run_backtest: the same strategy code, sizing and fill model a paper bot
uses. Candles come from the market data the bots use (trading.exchanges.market_data), cached for a while so the
ranking of many presets on one market fetches once.
"""

import hashlib
import json
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.utils import timezone

from accounts.models import AuditLog
from amarktai.errors import Conflict, NotFound, ValidationFailed
from bots import services as bot_services
from bots.models import Bot, BotStatus
from bots.selectors import access_bot
from bots.strategies import INDICATOR_STRATEGIES, STRATEGIES
from ranking import scoring, spaces, tracking
from ranking.models import ACTIVE_STATUSES, DeployRequest, Optimization, RankedModel, RunStatus, TrainingRun
from ranking.selectors import access_model
from realtime import events
from research.backtest import run_backtest
from trading.exchanges import market_data

logger = logging.getLogger(__name__)

RESEARCH_QUEUE = "research"
MIN_PART = 50  # candles each of the in-sample and out-of-sample ranges needs at least
MAX_CANDLES = 1000  # the most candles one fetch of the market data returns


# ---------------------------------------------------------------- running off the request

INLINE = False  # tests: run at once in the caller's thread
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def dispatch(task_name: str, fn: Any, run_id: str) -> None:
    """Run a search or ranking off the request: a Celery task on the research queue in production (ranking.tasks), a
    background thread of the web process in embedded mode (tasks run eagerly there), inline in tests."""
    global _pool
    if INLINE:
        fn(run_id)
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amarktai-research")
        _pool.submit(_run_closing, fn, run_id)
        return
    current_app.send_task(task_name, args=[run_id], queue=RESEARCH_QUEUE)


def in_background(fn: Any) -> None:
    """Run ``fn()`` on the research thread (embedded mode: the scheduler's periodic ranking must not hold up ticks)."""
    global _pool
    if INLINE:
        fn()
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amarktai-research")
    _pool.submit(_run_closing, lambda _id: fn(), "periodic ranking")


def _run_closing(fn: Any, run_id: str) -> None:
    try:
        fn(run_id)
    except Exception:
        logger.exception("research run %s failed", run_id)
    finally:
        close_old_connections()


# ---------------------------------------------------------------- candles


def load_candles(exchange: str, symbol: str, timeframe: str, limit: int) -> list[list[float]]:
    """The latest ``limit`` closed candles of a market, as floats, cached until the next candle closes (at most 5
    minutes), so every preset of a ranking run replays the same window."""
    minutes = scoring.TIMEFRAME_MINUTES[timeframe]
    bucket = int(timezone.now().timestamp() // (60 * minutes))
    key = f"ranking:candles:{exchange}:{symbol}:{timeframe}:{limit}:{bucket}"
    candles = cache.get(key)
    if candles is None:
        raw = market_data(exchange).fetch_ohlcv(symbol, timeframe, limit)
        candles = [[float(v) for v in row] for row in raw]
        cache.set(key, candles, min(60 * minutes, 300))
    return list(candles)


def _replay(
    strategy: str, params: dict, candles: list, *, capital: Decimal, risk_mode: str, exchange: str, symbol: str
) -> Any:
    return run_backtest(
        strategy,
        params,
        candles,
        initial_capital=capital,
        risk_mode=risk_mode,
        exchange=exchange,
        symbol=symbol,
        points=max(len(candles), 2),
    )


def _metrics(result: Any, half_life: float, timeframe: str) -> dict[str, Any]:
    """The ranking table's metrics of a backtest, plus its decay-weighted score."""
    out = scoring.model_metrics(result.metrics)
    equity = [point[1] for point in result.equity]
    out["score"] = round(scoring.decayed_score(scoring.returns_of(equity), half_life, 1.0), 6)
    return out


def _progress(user_id: Any, kind: str, run_id: Any, progress: float, status: str, **extra: Any) -> None:
    if user_id is None:
        return
    payload = {"kind": kind, "run_id": str(run_id), "progress": round(progress, 4), "status": status, **extra}
    events.publish(user_id, events.MODEL_TRAINING_PROGRESS, payload)


# ---------------------------------------------------------------- parameter search


def start_optimization(
    user: Any,
    *,
    strategy: str,
    exchange: str,
    symbol: str,
    timeframe: str,
    method: str,
    trials: int,
    top_n: int,
    candles: int,
    in_sample_ratio: float,
    risk_mode: str,
    initial_capital: Decimal,
    seed: int | None = None,
    space: dict | None = None,
) -> Optimization:
    """Validate and queue a parameter search (ranking.tasks.run_optimization on the research queue)."""
    try:
        searched = spaces.space_for(strategy, space)
    except KeyError:
        raise ValidationFailed(f"{strategy} has no parameter space", details={"strategy": ["unknown"]}) from None
    except ValueError as exc:
        raise ValidationFailed(str(exc), details={"space": [str(exc)]}) from None
    if method == Optimization.GRID:
        size = spaces.grid_size(searched)
        if size > settings.OPTIMIZATION_MAX_TRIALS:
            raise ValidationFailed(
                f"the grid has {size} parameter sets, more than {settings.OPTIMIZATION_MAX_TRIALS}: narrow the space"
                " or use a random search",
                details={"space": [f"{size} grid points"]},
            )
        trials = size
    elif trials > settings.OPTIMIZATION_MAX_TRIALS:
        raise ValidationFailed(
            f"trials must be at most {settings.OPTIMIZATION_MAX_TRIALS}", details={"trials": ["too many"]}
        )
    in_sample = int(candles * in_sample_ratio)
    if in_sample < MIN_PART or candles - in_sample < MIN_PART:
        raise ValidationFailed(
            f"both the in-sample and the out-of-sample range need at least {MIN_PART} candles",
            details={"in_sample_ratio": [f"{in_sample} in-sample, {candles - in_sample} out-of-sample candles"]},
        )
    market_data(exchange)  # an unknown exchange is a 400 now, not a failed run later
    with transaction.atomic():
        type(user).objects.select_for_update().filter(pk=user.pk).first()  # one cap check at a time per user
        active = Optimization.objects.owned_by(user).filter(status__in=ACTIVE_STATUSES).count()
        if active >= settings.OPTIMIZATION_MAX_ACTIVE:
            raise Conflict(
                f"You already have {active} parameter searches running (at most {settings.OPTIMIZATION_MAX_ACTIVE});"
                " wait for one to finish",
                details={"active": [str(active)]},
            )
        optimization = Optimization.objects.create(
            user=user,
            strategy=strategy,
            exchange=exchange,
            symbol=symbol,
            timeframe=timeframe,
            method=method,
            space=searched,
            trials=trials,
            top_n=top_n,
            candles=candles,
            in_sample_ratio=in_sample_ratio,
            risk_mode=risk_mode,
            initial_capital=initial_capital,
            seed=seed,
        )
        transaction.on_commit(lambda: dispatch("ranking.run_optimization", run_optimization, str(optimization.id)))
    return optimization


def _objective(metrics: dict[str, Any]) -> tuple[float, float]:
    """In-sample order: Sharpe ratio first, total return to break ties."""
    return (metrics["sharpe_ratio"], metrics["total_return"])


def run_optimization(optimization_id: Any) -> Optimization | None:
    """Search the in-sample range, then replay the top N on the out-of-sample range. Progress goes to the owner as
    model_training_progress events (kind "optimization")."""
    with transaction.atomic():
        opt = Optimization.objects.select_for_update().filter(pk=optimization_id).first()
        if opt is None or opt.status != RunStatus.QUEUED:
            return opt
        opt.status, opt.started_at = RunStatus.RUNNING, timezone.now()
        opt.save(update_fields=["status", "started_at"])
    try:
        _search(opt)
    except Exception as exc:
        logger.exception("parameter search %s failed", opt.id)
        opt.status, opt.error, opt.finished_at = RunStatus.FAILED, str(exc)[:255], timezone.now()
        opt.save(update_fields=["status", "error", "finished_at"])
        _progress(opt.user_id, "optimization", opt.id, opt.progress, opt.status, error=opt.error)
    return opt


def _search(opt: Optimization) -> None:
    candles = load_candles(opt.exchange, opt.symbol, opt.timeframe, opt.candles)
    split = int(len(candles) * opt.in_sample_ratio)
    if split < MIN_PART or len(candles) - split < MIN_PART:
        raise ValidationFailed(f"the market returned only {len(candles)} candles")
    in_sample, out_of_sample = candles[:split], candles[split:]
    combos = spaces.candidates(opt.strategy, opt.space, opt.method, opt.trials, opt.seed)
    kw: dict[str, Any] = {
        "capital": opt.initial_capital,
        "risk_mode": opt.risk_mode,
        "exchange": opt.exchange,
        "symbol": opt.symbol,
    }
    half_life = settings.RANKING_HALF_LIFE_CANDLES
    total = len(combos) + min(opt.top_n, len(combos))
    scored = []
    for index, params in enumerate(combos, start=1):
        metrics = _metrics(_replay(opt.strategy, params, in_sample, **kw), half_life, opt.timeframe)
        scored.append((params, metrics))
        if index % 5 == 0 or index == len(combos):
            _save_progress(opt, index / total, index)
    scored.sort(key=lambda item: _objective(item[1]), reverse=True)
    results: list[dict[str, Any]] = []
    for rank, (params, metrics) in enumerate(scored[: opt.top_n], start=1):
        oos = _metrics(_replay(opt.strategy, params, out_of_sample, **kw), half_life, opt.timeframe)
        results.append({"rank": rank, "params": params, "in_sample": metrics, "out_of_sample": oos})
    if results:  # the best parameter set joins the ranking table (and every ranking run after it)
        best = _rank_one(opt.exchange, opt.symbol, opt.timeframe, opt.strategy, results[0]["params"])
        results[0]["model_id"] = str(best.id)
    opt.results = results
    opt.ranges = {
        "in_sample": [int(in_sample[0][0]), int(in_sample[-1][0])],
        "out_of_sample": [int(out_of_sample[0][0]), int(out_of_sample[-1][0])],
    }
    opt.progress, opt.status, opt.finished_at = 1.0, RunStatus.COMPLETED, timezone.now()
    opt.wandb_run_id = (
        tracking.log_run(
            "optimization",
            f"optimization-{opt.id}",
            {"strategy": opt.strategy, "exchange": opt.exchange, "symbol": opt.symbol, "method": opt.method},
            [(opt.strategy, r["in_sample"]) for r in results]
            + [(f"{opt.strategy}/oos", r["out_of_sample"]) for r in results],
        )
        or ""
    )
    opt.save(update_fields=["results", "ranges", "progress", "status", "finished_at", "evaluated", "wandb_run_id"])
    _progress(opt.user_id, "optimization", opt.id, 1.0, opt.status)


def _save_progress(opt: Optimization, progress: float, evaluated: int) -> None:
    opt.progress, opt.evaluated = round(progress, 4), evaluated
    opt.save(update_fields=["progress", "evaluated"])
    _progress(opt.user_id, "optimization", opt.id, opt.progress, opt.status, evaluated=evaluated)


# ---------------------------------------------------------------- ranking


def full_params(strategy: str, preset: dict) -> dict:
    """The strategy's defaults with ``preset`` applied, without zero values: those are defaults (momentum.min_roc,
    mean_reversion.exit_z) a bot's params cannot hold (bots.services accepts positive numbers only)."""
    return {k: v for k, v in STRATEGIES[strategy]().params(preset).items() if v != 0}


def params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def active_markets() -> list[list[str]]:
    """[exchange, symbol] of every market an active bot trades (platform-wide, no user data leaves this)."""
    pairs = Bot.objects.filter(status=BotStatus.ACTIVE).values_list("exchange", "symbol").distinct()
    return sorted([e, s] for e, s in set(pairs))


def start_training(user: Any, markets: list[list[str]] | None = None) -> TrainingRun:
    """Queue a ranking run over ``markets`` ([exchange, symbol] pairs; default: the markets active bots trade), one at a
    time per user."""
    chosen = markets or active_markets()
    if not chosen:
        raise ValidationFailed(
            "No active bot trades any market yet: name one (exchange and symbol) to rank the strategies on",
            details={"symbol": ["required when no bot is active"]},
        )
    for exchange, _symbol in chosen:
        market_data(exchange)
    timeframe = settings.RANKING_TIMEFRAME
    with transaction.atomic():
        type(user).objects.select_for_update().filter(pk=user.pk).first()
        if TrainingRun.objects.filter(requested_by=user, status__in=ACTIVE_STATUSES).exists():
            raise Conflict("A ranking run you started is still going; wait for it to finish")
        run = TrainingRun.objects.create(requested_by=user, markets=[[e, s, timeframe] for e, s in chosen])
        transaction.on_commit(lambda: dispatch("ranking.train_models", run_training, str(run.id)))
    return run


def rank_periodic() -> TrainingRun | None:
    """The periodic ranking: every strategy x preset on every active market (skipped while another run is going or
    when no bot is active)."""
    markets = active_markets()
    if not markets:
        return None
    stale = timezone.now() - timedelta(hours=6)
    TrainingRun.objects.filter(status__in=ACTIVE_STATUSES, created_at__lt=stale).update(
        status=RunStatus.FAILED, error="abandoned", finished_at=timezone.now()
    )
    if TrainingRun.objects.filter(status=RunStatus.RUNNING).exists():
        return None
    timeframe = settings.RANKING_TIMEFRAME
    run = TrainingRun.objects.create(markets=[[e, s, timeframe] for e, s in markets])
    return run_training(run.id)


def run_training(run_id: Any) -> TrainingRun | None:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.QUEUED:
            return run
        run.status = RunStatus.RUNNING
        run.save(update_fields=["status"])
    try:
        _train(run)
    except Exception as exc:
        logger.exception("ranking run %s failed", run.id)
        run.status, run.error, run.finished_at = RunStatus.FAILED, str(exc)[:255], timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        _progress(run.requested_by_id, "ranking", run.id, run.progress, run.status, error=run.error)
    return run


def _rank_one(exchange: str, symbol: str, timeframe: str, strategy: str, preset: dict) -> RankedModel:
    """Score one strategy x parameter set on one market over the rolling window and store it as a ranked model."""
    window, half_life = settings.RANKING_WINDOW_CANDLES, settings.RANKING_HALF_LIFE_CANDLES
    candles = load_candles(exchange, symbol, timeframe, min(window, MAX_CANDLES))
    params = full_params(strategy, preset)
    result = _replay(
        strategy, params, candles, capital=Decimal("10000"), risk_mode="balanced", exchange=exchange, symbol=symbol
    )
    metrics = _metrics(result, half_life, timeframe)
    model, _ = RankedModel.objects.update_or_create(
        strategy=strategy,
        params_key=params_key(params),
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        defaults={**metrics, "params": params, "window_candles": len(candles), "trained_at": timezone.now()},
    )
    return model


def _jobs(markets: list) -> list[tuple[list, str, dict]]:
    """(market, strategy, params) to score: every strategy's presets, plus every parameter set already ranked on that
    market (the best sets of parameter searches stay ranked)."""
    jobs = []
    for exchange, symbol, timeframe in markets:
        for strategy in INDICATOR_STRATEGIES:
            presets = [full_params(strategy, p) for p in spaces.PRESETS.get(strategy, [{}])]
            known = RankedModel.objects.filter(
                strategy=strategy, exchange=exchange, symbol=symbol, timeframe=timeframe
            ).values_list("params", flat=True)
            seen = set()
            for params in [*presets, *known]:
                key = params_key(params)
                if key not in seen:
                    seen.add(key)
                    jobs.append(([exchange, symbol, timeframe], strategy, params))
    return jobs


def _train(run: TrainingRun) -> None:
    jobs = _jobs(run.markets)
    rows = []
    for index, ((exchange, symbol, timeframe), strategy, preset) in enumerate(jobs, start=1):
        model = _rank_one(exchange, symbol, timeframe, strategy, preset)
        rows.append((strategy, {name: getattr(model, name) for name in tracking.METRICS}))
        run.progress, run.scored = round(index / len(jobs), 4), index
        run.save(update_fields=["progress", "scored"])
        _progress(
            run.requested_by_id,
            "ranking",
            run.id,
            run.progress,
            run.status,
            scored=index,
            total=len(jobs),
            strategy=strategy,
            exchange=exchange,
            symbol=symbol,
        )
    run.wandb_run_id = tracking.log_run("ranking", f"ranking-{run.id}", {"markets": run.markets}, rows) or ""
    run.status, run.finished_at, run.progress = RunStatus.COMPLETED, timezone.now(), 1.0
    run.save(update_fields=["status", "finished_at", "progress", "wandb_run_id"])
    _progress(run.requested_by_id, "ranking", run.id, 1.0, run.status, scored=run.scored, total=len(jobs))


# ---------------------------------------------------------------- deploy to bot


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _deploy_params(bot: Bot, model: RankedModel) -> dict:
    """The model's parameters, keeping the bot's own position size (not a strategy parameter)."""
    params = dict(model.params)
    if "position_pct" in (bot.params or {}):
        params["position_pct"] = bot.params["position_pct"]
    return params


def propose_deploy(user: Any, model_id: Any, bot_ids: list) -> tuple[DeployRequest, str, list[dict]]:
    """A pending switch of the user's bots (404 for a bot that is not theirs) to a ranked model; nothing changes until
    confirm_deploy(token). Returns (request, one-time token, per-bot summary of the change)."""
    model = access_model(model_id)
    unique = list(dict.fromkeys(str(b) for b in bot_ids))
    bots = [access_bot(user, bot_id) for bot_id in unique]
    summary = [
        {
            "bot_id": str(bot.id),
            "name": bot.name,
            "market": f"{bot.exchange} {bot.symbol}",
            "same_market": bot.exchange == model.exchange and bot.symbol == model.symbol,
            "from": {"strategy": bot.strategy, "params": bot.params or {}},
            "to": {"strategy": model.strategy, "params": _deploy_params(bot, model)},
        }
        for bot in bots
    ]
    token = secrets.token_urlsafe(32)
    request = DeployRequest.objects.create(
        user=user,
        model=model,
        bot_ids=[str(b.id) for b in bots],
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(seconds=settings.MODEL_DEPLOY_TTL_SECONDS),
    )
    return request, token, summary


@transaction.atomic
def confirm_deploy(user: Any, token: str) -> tuple[DeployRequest, list[Bot]]:
    """Apply a proposed deploy once: the token must be the user's, unused and unexpired (one conditional UPDATE, so a
    replay or a double submit applies nothing twice). Each bot is switched under its row lock (bots.services.update_bot)
    and the change is audited; the engine picks the new strategy up on the bot's next tick."""
    now = timezone.now()
    claimed = (
        DeployRequest.objects.owned_by(user)
        .filter(token_hash=_hash(token or ""), confirmed_at__isnull=True, expires_at__gt=now)
        .update(confirmed_at=now)
    )
    if not claimed:
        raise NotFound("Confirmation not found, already used or expired; ask for a new one")
    request = DeployRequest.objects.owned_by(user).select_related("model").get(token_hash=_hash(token))
    model = request.model
    switched = []
    for bot_id in request.bot_ids:
        bot = access_bot(user, bot_id, lock=True)
        before = {"strategy": bot.strategy, "params": bot.params or {}}
        params = _deploy_params(bot, model)
        bot = bot_services.update_bot(user, bot.id, {"strategy": model.strategy, "params": params})
        AuditLog.objects.create(
            actor=user,
            actor_email=user.email,
            action="model.deploy",
            target_type="bot",
            target_id=str(bot.id),
            details={
                "model_id": str(model.id),
                "from": before,
                "to": {"strategy": model.strategy, "params": params},
                "market": f"{model.exchange} {model.symbol} {model.timeframe}",
            },
        )
        switched.append(bot)
    return request, switched
