"""Signal bots: trades from TradingView or ChartInk alerts sent to the bot's secret webhook URL.

POST /api/webhooks/{token} is the only unauthenticated write path: the token in the URL is the credential. It is
random (``WEBHOOK_TOKEN_PREFIX`` + 32 random bytes, URL-safe), stored only as its SHA-256 (``Bot.webhook_token_hash``,
like API keys), shown to the owner once at creation and on rotation (POST /api/bots/{id}/webhook/rotate).

An alert is checked in this order; every alert that reaches a bot is kept in its history (``WebhookEvent``, GET
/api/bots/{id}/webhooks) with its outcome, so the owner can see why it did or did not trade:

1. the token: unknown or malformed -> 404 (nothing is logged: there is no bot to log it on);
2. the bot's rate limit (WEBHOOK_RATE_LIMIT alerts per WEBHOOK_RATE_WINDOW_SECONDS, in the cache so it holds across
   processes with Redis) -> 429 with Retry-After (not logged either: a flood must not fill the history);
3. the body: JSON object, TradingView or ChartInk shape, a known action, the bot's own symbol -> else 400 (logged,
   ``rejected``/``invalid``);
4. the replay window: an alert whose key (its ``id``/``alert_id``, else the SHA-256 of its body) the bot accepted within
   WEBHOOK_REPLAY_WINDOW_SECONDS -> 409 (logged, ``rejected``/``replay``);
5. the engine's rules, under the bot's row lock (SELECT ... FOR UPDATE, as the engine's ticks take it): bot paused or
   stopped, trading halted, a buy while a position is open, a sell with none, a risk limit, a size over the bot's
   capital -> ``ignored``/``rejected`` with the reason; otherwise one market order through trading.services with a
   client order id derived from (bot, alert key): two identical alerts, even concurrent ones, place one order.

The actions: ``buy`` opens the bot's (long) position; ``sell`` and ``close`` sell it whole. ``size``/``quantity`` (base
currency) sets a buy's amount, else the bot's position size (params.position_pct or its risk mode) applies; ``price``
is recorded (orders are market orders).
"""

import hashlib
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from amarktai.errors import AmarktaiError, Conflict, NotFound, RateLimited, ValidationFailed
from amarktai.parsers import nesting_depth_exceeds
from bots import risk
from bots.engine import _order_amount
from bots.models import Bot, BotStatus, Decision, TradingMode, WebhookEvent, WebhookOutcome
from bots.selectors import access_bot
from bots.services import publish_bot, record_signal, set_status
from bots.strategies import Signal
from bots.tokens import WEBHOOK_TOKEN_PREFIX, is_webhook_strategy, new_token, token_hash
from trading import services as trading
from trading import system
from trading.exchanges import get_exchange
from trading.models import Order, Position

_TOKEN_RE = re.compile(r"^" + WEBHOOK_TOKEN_PREFIX + r"[A-Za-z0-9_-]{40,60}$")
ACTIONS = {"buy": "buy", "long": "buy", "sell": "sell", "close": "close", "exit": "close", "flat": "close"}
CHARTINK_WORDS = {"buy": "buy", "long": "buy", "sell": "sell", "exit": "close", "close": "close"}
MAX_STORED_PAYLOAD = 4000  # characters of the alert kept in the history
STEP = Decimal("0.00000001")


def issue_token(bot: Bot) -> str:
    """Give ``bot`` a new webhook token (the old one stops working at once) and return it: the only time it is seen."""
    token, digest = new_token()
    Bot.objects.filter(pk=bot.pk).update(webhook_token_hash=digest)
    bot.webhook_token_hash = digest
    return token


def rotate_token(user: Any, bot_id: Any) -> tuple[Bot, str]:
    """POST /api/bots/{id}/webhook/rotate: a new secret URL for one of the user's signal bots."""
    with transaction.atomic():
        bot = access_bot(user, bot_id, lock=True)
        if not is_webhook_strategy(bot.strategy):
            raise ValidationFailed(
                f"{bot.name} trades on its {bot.strategy} strategy, not on webhooks",
                details={"strategy": ["only signal bots have a webhook URL"]},
            )
        return bot, issue_token(bot)


# --- parsing ---------------------------------------------------------------------------------------------------------
@dataclass
class Alert:
    source: str
    action: str = ""
    symbol: str = ""
    price: Decimal | None = None
    size: Decimal | None = None
    alert_id: str = ""


class InvalidAlert(Exception):
    def __init__(self, reason: str, alert: Alert):
        super().__init__(reason)
        self.reason = reason
        self.alert = alert


def normalize_symbol(value: str) -> str:
    """ "LUNO:BTCZAR", "BTC/ZAR", "btc-zar" -> "BTCZAR"."""
    return re.sub(r"[^A-Z0-9]", "", str(value).split(":")[-1].upper())


def _decimal(value: Any, name: str, alert: Alert) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidAlert(f"{name} must be a number", alert)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidAlert(f"{name} must be a number, not {str(value)[:20]!r}", alert) from None
    if not number.is_finite() or number < 0 or number > Decimal("1e12"):
        raise InvalidAlert(f"{name} must be a positive number", alert)
    return number


def parse_alert(data: Any, bot_symbol: str) -> Alert:
    """The alert in ``data`` (a decoded JSON body) for a bot trading ``bot_symbol``; raises InvalidAlert."""
    if not isinstance(data, dict):
        raise InvalidAlert("the body must be a JSON object", Alert("unknown"))
    if "stocks" in data or "scan_name" in data or "trigger_prices" in data:
        return _parse_chartink(data, bot_symbol)
    alert = Alert("tradingview" if "action" in data or "ticker" in data else "unknown")
    raw_action = data.get("action", data.get("side", data.get("signal")))
    if not isinstance(raw_action, str) or not raw_action.strip():
        raise InvalidAlert('"action" is required: buy, sell or close', alert)
    action = ACTIONS.get(raw_action.strip().lower())
    alert.action = action or raw_action.strip().lower()[:8]
    if action is None:
        raise InvalidAlert(f"unknown action {raw_action.strip()[:20]!r}: use buy, sell or close", alert)
    symbol = data.get("ticker", data.get("symbol"))
    if symbol is not None:
        if not isinstance(symbol, str):
            raise InvalidAlert("ticker must be a string", alert)
        alert.symbol = symbol.strip()[:32]
        if normalize_symbol(symbol) != normalize_symbol(bot_symbol):
            raise InvalidAlert(f"the alert is for {alert.symbol}, this bot trades {bot_symbol}", alert)
    alert.price = _decimal(data.get("price", data.get("close")), "price", alert)
    size = next((data[k] for k in ("size", "quantity", "qty", "contracts") if data.get(k) not in (None, "")), None)
    alert.size = _decimal(size, "size", alert)
    if alert.size is not None and alert.size == 0:
        raise InvalidAlert("size must be more than 0", alert)
    alert_id = data.get("id", data.get("alert_id"))
    if alert_id is not None:
        if not isinstance(alert_id, (str, int)) or isinstance(alert_id, bool) or not str(alert_id).strip():
            raise InvalidAlert("id must be a string or a number", alert)
        alert.alert_id = str(alert_id).strip()[:200]
    return alert


def _parse_chartink(data: dict, bot_symbol: str) -> Alert:
    """ChartInk's scan payload: the action comes from the scan's (or alert's) name, as OpenAlgo reads it ("BUY",
    "SELL", "EXIT" as a word of it); the bot trades only if its own symbol is among the triggered stocks."""
    alert = Alert("chartink")
    stocks, prices = data.get("stocks"), data.get("trigger_prices")
    if not isinstance(stocks, str) or not stocks.strip():
        raise InvalidAlert('ChartInk alert without "stocks"', alert)
    names = " ".join(str(data.get(k) or "") for k in ("scan_name", "alert_name")).lower()
    found = [CHARTINK_WORDS[w] for w in re.findall(r"[a-z]+", names) if w in CHARTINK_WORDS]
    if not found:
        raise InvalidAlert("the scan's name must say buy, sell or exit (e.g. 'BTC breakout BUY')", alert)
    alert.action = found[0]
    symbols = [s.strip() for s in stocks.split(",")]
    price_list = [p.strip() for p in prices.split(",")] if isinstance(prices, str) else []
    wanted = normalize_symbol(bot_symbol)
    index = next((i for i, s in enumerate(symbols) if normalize_symbol(s) == wanted), None)
    if index is None:
        alert.symbol = ",".join(symbols)[:32]
        raise InvalidAlert(f"{bot_symbol} is not among the scan's stocks ({', '.join(symbols)[:100]})", alert)
    alert.symbol = symbols[index][:32]
    if index < len(price_list):
        alert.price = _decimal(price_list[index], "trigger_prices", alert)
    alert.alert_id = "|".join(str(data.get(k) or "") for k in ("scan_url", "triggered_at", "stocks"))[:200]
    return alert


# --- receiving ---------------------------------------------------------------------------------------------------
def bot_for_token(token: str) -> Bot:
    """The bot whose webhook ``token`` is; NotFound (404) for any other string, whoever asks."""
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        raise NotFound("Unknown webhook")
    bot = Bot.objects.filter(webhook_token_hash=token_hash(token)).first()  # the token, not a login, names the owner
    if bot is None or not is_webhook_strategy(bot.strategy):
        raise NotFound("Unknown webhook")
    return bot


def check_rate(bot_id: Any) -> None:
    """The bot's rate limit: a fixed window counter in the cache (Redis or locmem alike)."""
    limit, window = int(settings.WEBHOOK_RATE_LIMIT), max(int(settings.WEBHOOK_RATE_WINDOW_SECONDS), 1)
    now = time.time()
    bucket = int(now // window)
    key = f"webhook-rate:{bot_id}:{bucket}"
    cache.add(key, 0, window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window + 5)
        count = 1
    if count > limit:
        retry = max(int((bucket + 1) * window - now) + 1, 1)
        raise RateLimited(
            f"This bot accepts at most {limit} alerts per {window} seconds; try again in {retry} seconds",
            retry_after=retry,
        )


def _stored(data: Any) -> dict:
    if not isinstance(data, dict):
        return {"body": str(data)[:200]}
    text = json.dumps(data, default=str)
    return data if len(text) <= MAX_STORED_PAYLOAD else {"truncated": True, "excerpt": text[:500]}


def _alert_key(bot: Bot, alert: Alert, data: Any) -> str:
    """The replay key: the alert's own id, else its body (canonical JSON: key order and spacing do not matter)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    basis = f"id:{alert.alert_id}" if alert.alert_id else "body:" + hashlib.sha256(body.encode()).hexdigest()
    return hashlib.sha256(f"{bot.pk}|{basis}".encode()).hexdigest()


def _log(bot: Bot, alert: Alert, key: str, outcome: str, code: str, reason: str, data: Any, order: Any = None):
    return WebhookEvent.objects.create(
        user_id=bot.user_id,
        bot=bot,
        source=alert.source,
        action=alert.action,
        symbol=alert.symbol,
        price=alert.price.quantize(STEP) if alert.price is not None else None,
        size=alert.size.quantize(STEP) if alert.size is not None else None,
        alert_key=key,
        outcome=outcome,
        code=code,
        reason=reason[:255],
        order=order,
        payload=_stored(data),
    )


@dataclass
class Received:
    event: WebhookEvent
    error: AmarktaiError | None = None  # raised by the view once the event is committed (400, 409)


def receive(token: str, raw: bytes) -> Received:
    """Handle one POST /api/webhooks/{token}. Raises NotFound (404), RateLimited (429), PayloadTooLarge is the view's.
    Returns the logged event and, for an invalid alert or a replay, the error to answer with."""
    bot = bot_for_token(token)
    check_rate(bot.pk)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant) if raw.strip() else None
    except (ValueError, RecursionError):
        data = _UNREADABLE
    with transaction.atomic():
        bot = Bot.objects.select_for_update().select_related("user").filter(pk=bot.pk).first()
        if bot is None:  # deleted meanwhile
            raise NotFound("Unknown webhook")
        if data is _UNREADABLE or data is None:
            alert, why = Alert("unknown"), "the body is not valid JSON" if data is _UNREADABLE else "the body is empty"
            event = _log(
                bot, alert, _alert_key(bot, alert, repr(raw[:1000])), WebhookOutcome.REJECTED, "invalid", why, {}
            )
            return Received(event, ValidationFailed(f"Alert refused: {why}", details={"body": [why]}))
        if _too_deep(data):
            alert, why = Alert("unknown"), f"the body is nested deeper than {settings.API_MAX_JSON_DEPTH} levels"
            event = _log(
                bot, alert, _alert_key(bot, alert, repr(raw[:1000])), WebhookOutcome.REJECTED, "invalid", why, {}
            )
            return Received(event, ValidationFailed(f"Alert refused: {why}", details={"body": [why]}))
        try:
            alert = parse_alert(data, bot.symbol)
        except InvalidAlert as exc:
            event = _log(
                bot, exc.alert, _alert_key(bot, exc.alert, data), WebhookOutcome.REJECTED, "invalid", exc.reason, data
            )
            return Received(event, ValidationFailed(f"Alert refused: {exc.reason}", details={"body": [exc.reason]}))
        key = _alert_key(bot, alert, data)
        since = timezone.now() - timezone.timedelta(seconds=int(settings.WEBHOOK_REPLAY_WINDOW_SECONDS))
        seen = (
            WebhookEvent.objects.filter(bot=bot, alert_key=key, received_at__gte=since)
            .exclude(code__in=("invalid", "replay"))
            .order_by("-received_at")
            .first()
        )
        if seen is not None:
            why = f"replay of the alert received at {seen.received_at:%Y-%m-%d %H:%M:%S} UTC ({seen.outcome})"
            event = _log(bot, alert, key, WebhookOutcome.REJECTED, "replay", why, data)
            return Received(event, Conflict(f"Alert refused: {why}", details={"body": ["replay"]}))
        outcome, code, why, order = _act(bot, alert, key)
        event = _log(bot, alert, key, outcome, code, why, data, order)
        now = timezone.now()
        Bot.objects.filter(pk=bot.pk).update(
            last_decision=code if outcome != WebhookOutcome.TRADED else _traded(alert),
            last_decision_reason=f"Webhook {alert.action}: {why}"[:255],
            last_decision_at=now,
        )
    return Received(event)


def _traded(alert: Alert) -> str:
    return Decision.TRADED_BUY if alert.action == "buy" else Decision.TRADED_SELL


_UNREADABLE = object()


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _too_deep(data: Any) -> bool:
    return isinstance(data, (dict, list)) and nesting_depth_exceeds(data, settings.API_MAX_JSON_DEPTH)


def _act(bot: Bot, alert: Alert, key: str) -> tuple[str, str, str, Order | None]:
    """The engine's rules for one valid alert on a locked bot: (outcome, code, reason, order)."""
    ignored, rejected = WebhookOutcome.IGNORED, WebhookOutcome.REJECTED
    if bot.paused_by_admin:
        return ignored, "paused", "the bot was paused by an administrator", None
    if bot.status not in (BotStatus.ACTIVE, BotStatus.CREATED):
        return ignored, "paused", f"the bot is {bot.status}: resume it to trade on alerts", None
    if system.trading_halted():
        return ignored, "trading_halted", "trading is stopped platform-wide by an administrator", None
    position = Position.objects.filter(bot=bot, is_open=True).first()
    side = "buy" if alert.action == "buy" else "sell"
    if side == "buy" and position is not None:
        return ignored, Decision.POSITION_OPEN, f"buy ignored: a position of {position.amount} is already open", None
    if side == "sell" and position is None:
        return ignored, Decision.NO_POSITION_TO_SELL, f"{alert.action} ignored: no open position to sell", None
    if side == "buy":
        blocked = risk.entry_block(bot)
        if blocked:
            return ignored, Decision.RISK_LIMIT, f"buy ignored: {blocked}", None
    cid = trading.client_order_id("webhook", bot.pk, key)
    existing = Order.objects.filter(client_order_id=cid).first()
    if existing is not None:
        return ignored, Decision.ALREADY_PLACED, "this alert's order was already placed", existing
    if bot.status == BotStatus.CREATED:
        set_status(bot, BotStatus.ACTIVE)
    try:
        with transaction.atomic():  # a failed placement rolls back alone; the event is still logged
            exchange = get_exchange(bot.user, bot.exchange, bot.trading_mode)
            market = exchange.load_markets()[bot.symbol]
            ticker = exchange.fetch_ticker(bot.symbol)
            ask = Decimal(str(ticker["ask"]))
            if side == "sell":
                amount = position.amount
            else:
                cap = (bot.current_capital * risk.max_position_fraction(bot.user_id) / ask).quantize(STEP)
                amount = alert.size.quantize(STEP) if alert.size is not None else _order_amount(bot, ask)
                if amount > cap:
                    return (
                        rejected,
                        "over_capital",
                        f"size {amount} is more than the bot's capital allows ({cap})",
                        None,
                    )
                if amount < market["min_amount"]:
                    why = f"size {amount} is below the exchange minimum of {market['min_amount']}"
                    return ignored, Decision.BELOW_MIN_SIZE, why, None
            order = trading.place_order(
                bot.user,
                exchange,
                symbol=bot.symbol,
                side=side,
                type="market",
                amount=amount,
                bot=bot,
                cid=cid,
                reason=f"webhook {alert.source} {alert.action}",
                is_paper=bot.trading_mode == TradingMode.PAPER,
            )
            ts = int(time.time() * 1000)
            price = float(alert.price) if alert.price is not None else float(ticker.get("bid") or ask)
            record_signal(
                bot,
                Signal(side, price, None, None, 1.0, f"{alert.source} alert: {alert.action}", ts),
                position_open=position is not None,
                traded=True,
            )
    except AmarktaiError as exc:
        return rejected, "order_failed", f"the order failed: {exc.message}", None
    bot.refresh_from_db()
    publish_bot(bot)
    verb = "bought" if side == "buy" else "sold"
    return WebhookOutcome.TRADED, "traded", f"{verb} {amount} {bot.symbol}", order
