"""Reads over the watch lists."""

from typing import Any

from django.db.models import Q

from amarktai.tenancy import access
from market.models import Instrument


def access_instrument(user: Any, instrument_id: Any, *, lock: bool = False) -> Instrument:
    """One of the user's instruments; 404 for a missing or another user's instrument alike."""
    return access(Instrument.objects, user, instrument_id, "Instrument", lock=lock)


def instruments(user: Any) -> list[Instrument]:
    """The user's watch list, by exchange and symbol."""
    return list(Instrument.objects.owned_by(user).order_by("exchange", "symbol"))


def watched_markets(user: Any = None) -> list[tuple[str, str]]:
    """The distinct (exchange, symbol) markets on the watch lists (of one user, or of everyone): what the market scan
    looks at."""
    rows = Instrument.objects.owned_by(user) if user is not None else Instrument.objects.all()
    return sorted(set(rows.values_list("exchange", "symbol")))


def armed_instruments() -> list[Instrument]:
    """Every instrument with an alert level that has not fired yet."""
    return list(
        Instrument.objects.filter(
            Q(alert_above__isnull=False, alert_above_fired_at__isnull=True)
            | Q(alert_below__isnull=False, alert_below_fired_at__isnull=True)
        )
    )
