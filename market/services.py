"""Watch-list rules: which markets may be watched, one entry per market per user, and the price alerts.

Markets are the platforms' own (trading.platforms, read through the paper exchange's load_markets, the same list a
bot may trade); anything else is a field error. A user watches at most MAX_INSTRUMENTS markets.

Price alerts: ``alert_above`` fires when a market's last price is at or above it, ``alert_below`` when it is at or below
it. check_price_alerts (a beat task every PRICE_ALERT_SECONDS; in the embedded default the in-process scheduler runs it)
fetches one ticker per watched market with an armed alert, whoever watches it, publishes an ``alert`` event to each
owner whose level was reached and records that it fired (``*_fired_at``, ``*_fired_price``): it fires once. Setting
the level again (PUT with the field, even unchanged) or moving the instrument to another market re-arms it.
"""

import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from amarktai.errors import ValidationFailed
from market.models import Instrument
from market.selectors import access_instrument, armed_instruments
from realtime import events
from trading.exchanges import get_exchange, market_data
from trading.platforms import get_platform

logger = logging.getLogger(__name__)
MAX_INSTRUMENTS = 100
MAX_LEVEL = Decimal("1000000000000")
SIDES = ("above", "below")


def _market(user: Any, exchange: str, symbol: str) -> tuple[str, str]:
    """(platform id, symbol) of a market the platform lists, else a field error."""
    platform = get_platform(exchange)
    if platform is None or not platform.enabled:
        raise ValidationFailed(f"Unknown exchange {exchange!r}", details={"exchange": ["unknown exchange"]})
    symbol = (symbol or "").strip().upper()
    markets = get_exchange(user, platform.id, "paper").load_markets()
    if symbol not in markets:
        raise ValidationFailed(
            f"{platform.name} has no market {symbol or '(empty)'}",
            details={"symbol": [f"unknown market on {platform.name}: one of {', '.join(sorted(markets))}"]},
        )
    return platform.id, symbol


def _check_levels(above: Decimal | None, below: Decimal | None) -> None:
    for name, level in (("alert_above", above), ("alert_below", below)):
        if level is not None and not (Decimal("0") < level <= MAX_LEVEL):
            raise ValidationFailed(f"{name} must be a positive price", details={name: ["must be a positive price"]})
    if above is not None and below is not None and below >= above:
        raise ValidationFailed(
            "alert_below must be lower than alert_above", details={"alert_below": ["must be lower than alert_above"]}
        )


def _duplicate(exchange: str, symbol: str) -> ValidationFailed:
    return ValidationFailed(
        f"{symbol} on {exchange} is already on your watch list", details={"symbol": ["already on your watch list"]}
    )


@transaction.atomic
def create_instrument(
    user: Any,
    *,
    exchange: str,
    symbol: str,
    notes: str = "",
    alert_above: Decimal | None = None,
    alert_below: Decimal | None = None,
) -> Instrument:
    exchange, symbol = _market(user, exchange, symbol)
    _check_levels(alert_above, alert_below)
    type(user).objects.select_for_update().filter(pk=user.pk).first()  # the limit below holds under concurrency
    if Instrument.objects.owned_by(user).count() >= MAX_INSTRUMENTS:
        raise ValidationFailed(
            f"A watch list holds at most {MAX_INSTRUMENTS} markets", details={"symbol": ["watch list is full"]}
        )
    if Instrument.objects.owned_by(user).filter(exchange=exchange, symbol=symbol).exists():
        raise _duplicate(exchange, symbol)
    try:
        with transaction.atomic():
            return Instrument.objects.create(
                user=user,
                exchange=exchange,
                symbol=symbol,
                notes=notes,
                alert_above=alert_above,
                alert_below=alert_below,
            )
    except IntegrityError as exc:
        raise _duplicate(exchange, symbol) from exc


@transaction.atomic
def update_instrument(user: Any, instrument_id: Any, changes: dict) -> Instrument:
    """Change the fields present in ``changes`` (exchange, symbol, notes, alert_above, alert_below; null clears a
    level). A level present in ``changes`` is re-armed; a new market re-arms both."""
    instrument = access_instrument(user, instrument_id, lock=True)
    exchange = changes.get("exchange", instrument.exchange)
    symbol = changes.get("symbol", instrument.symbol)
    moved = False
    if "exchange" in changes or "symbol" in changes:
        exchange, symbol = _market(user, exchange, symbol)
        moved = (exchange, symbol) != (instrument.exchange, instrument.symbol)
        if (
            moved
            and Instrument.objects.owned_by(user)
            .filter(exchange=exchange, symbol=symbol)
            .exclude(pk=instrument.pk)
            .exists()
        ):
            raise _duplicate(exchange, symbol)
    above = changes["alert_above"] if "alert_above" in changes else instrument.alert_above
    below = changes["alert_below"] if "alert_below" in changes else instrument.alert_below
    _check_levels(above, below)
    instrument.exchange, instrument.symbol = exchange, symbol
    if "notes" in changes:
        instrument.notes = changes["notes"]
    instrument.alert_above, instrument.alert_below = above, below
    for side in SIDES:
        if moved or f"alert_{side}" in changes:
            setattr(instrument, f"alert_{side}_fired_at", None)
            setattr(instrument, f"alert_{side}_fired_price", None)
    try:
        with transaction.atomic():
            instrument.save()
    except IntegrityError as exc:
        raise _duplicate(exchange, symbol) from exc
    return instrument


def delete_instrument(user: Any, instrument_id: Any) -> None:
    access_instrument(user, instrument_id).delete()


def _reached(side: str, level: Decimal, price: Decimal) -> bool:
    return price >= level if side == "above" else price <= level


def _alert_message(instrument: Instrument, side: str, level: Decimal, price: Decimal) -> str:
    platform = get_platform(instrument.exchange)
    name = platform.name if platform else instrument.exchange
    verb = "rose to or above" if side == "above" else "fell to or below"
    return f"{instrument.symbol} on {name} {verb} {level.normalize():f}: last price {price.normalize():f}"


def check_price_alerts() -> int:
    """Fire every armed alert whose level the market's last price has reached. One ticker per market (whoever and
    however many watch it); a market whose ticker cannot be read is skipped until the next run. Returns how many
    alerts fired."""
    by_market: dict[tuple[str, str], list[Instrument]] = defaultdict(list)
    for instrument in armed_instruments():
        by_market[(instrument.exchange, instrument.symbol)].append(instrument)
    fired = 0
    for (exchange, symbol), watching in by_market.items():
        try:
            price = Decimal(str(market_data(exchange).fetch_ticker(symbol)["last"]))
        except Exception:  # one market's failure never stops the others
            logger.warning("price alerts: no ticker for %s %s", exchange, symbol, exc_info=True)
            continue
        if not price.is_finite() or price <= 0:
            continue
        now = timezone.now()
        for instrument in watching:
            for side in SIDES:
                level = getattr(instrument, f"alert_{side}")
                if level is None or getattr(instrument, f"alert_{side}_fired_at") is not None:
                    continue
                if not _reached(side, level, price):
                    continue
                with transaction.atomic():
                    # Only if still armed at that level: a concurrent run or an edit in between wins.
                    claimed = Instrument.objects.filter(
                        pk=instrument.pk, **{f"alert_{side}": level, f"alert_{side}_fired_at__isnull": True}
                    ).update(**{f"alert_{side}_fired_at": now, f"alert_{side}_fired_price": price})
                    if not claimed:
                        continue
                    events.publish(
                        instrument.user_id,
                        events.ALERT,
                        {
                            "level": "info",
                            "message": _alert_message(instrument, side, level, price),
                            "instrument_id": str(instrument.pk),
                            "exchange": exchange,
                            "symbol": symbol,
                            "direction": side,
                            "alert_level": float(level),
                            "price": float(price),
                        },
                    )
                fired += 1
    return fired
