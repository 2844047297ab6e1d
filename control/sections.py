"""Configuration sections: one DRF serializer each (field-level errors), its defaults, who may see it and whether it
can be written.

User sections (every user, stored per user in accounts.UserConfig):
- risk: default_risk_mode (new bots), max_position_pct (the largest share of a bot's capital one position takes),
  daily_loss_limit and max_exposure (per quote currency; the engine enforces them: bots.risk). Empty = no limit.
  Protections for every bot of the user (bots.protections; a bot's own params win): sl_guard_count,
  sl_guard_window_minutes, max_drawdown_pct, cooldown_minutes, pair_lock_trips, pair_lock_min_profit_pct,
  pair_lock_minutes. Empty = off (or the bot's own setting).
- notifications: which alerts the user wants.
- trading: defaults for new bots (exchange, capital, mode, strategy).

Platform sections (admins only, read-only: the environment sets them and processes read them at start):
- engine: BOT_TICK_SECONDS, BOT_DISPATCH_LIMIT, BOT_MAX_FAILURES, SYSTEM_STATE_CACHE_SECONDS.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers

from amarktai.api import StrictDecimalField, StrictIntegerField
from bots.models import RiskMode, TradingMode
from bots.strategies import STRATEGIES
from trading.platforms import PLATFORMS


class StrictSectionSerializer(serializers.Serializer):
    """Unknown fields are errors too (a typo must not be silently dropped), reported with the others."""

    def to_internal_value(self, data):
        unknown = (
            {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            if isinstance(data, dict)
            else {}
        )
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


def _money(**kwargs: Any) -> StrictDecimalField:
    return StrictDecimalField(max_digits=20, decimal_places=2, **kwargs)


class RiskSection(StrictSectionSerializer):
    default_risk_mode = serializers.ChoiceField(choices=RiskMode.values, default=RiskMode.BALANCED)
    max_position_pct = StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=1, max_value=100, allow_null=True, default=None
    )
    daily_loss_limit = _money(min_value=0, max_value=10**12, allow_null=True, default=None)
    max_exposure = _money(min_value=0, max_value=10**12, allow_null=True, default=None)
    # Protections for every bot of the user (bots.protections, PROTECTION_PARAMS); a bot's own params win.
    sl_guard_count = StrictIntegerField(min_value=0, max_value=100, allow_null=True, default=None)
    sl_guard_window_minutes = StrictIntegerField(min_value=1, max_value=43200, allow_null=True, default=None)
    max_drawdown_pct = StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, allow_null=True, default=None
    )
    cooldown_minutes = StrictIntegerField(min_value=0, max_value=43200, allow_null=True, default=None)
    pair_lock_trips = StrictIntegerField(min_value=0, max_value=100, allow_null=True, default=None)
    pair_lock_min_profit_pct = StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=-100, max_value=100, allow_null=True, default=None
    )
    pair_lock_minutes = StrictIntegerField(min_value=1, max_value=43200, allow_null=True, default=None)


class NotificationsSection(StrictSectionSerializer):
    trade_executed = serializers.BooleanField(default=True)
    bot_paused = serializers.BooleanField(default=True)
    risk_alerts = serializers.BooleanField(default=True)
    daily_summary = serializers.BooleanField(default=False)


class TradingSection(StrictSectionSerializer):
    default_exchange = serializers.ChoiceField(choices=sorted(PLATFORMS), default="luno")
    default_capital = _money(min_value=1, max_value=10**9, default=1000)
    default_trading_mode = serializers.ChoiceField(choices=TradingMode.values, default=TradingMode.PAPER)
    default_strategy = serializers.ChoiceField(choices=sorted(STRATEGIES), default="momentum")


@dataclass(frozen=True)
class Section:
    name: str
    serializer: type[serializers.Serializer] | None
    description: str
    admin_only: bool = False
    read_only: bool = False
    reader: Callable[[], dict] | None = None  # platform sections: where the values come from

    def defaults(self) -> dict:
        if self.reader is not None:
            return self.reader()
        assert self.serializer is not None
        return _json(dict(self.serializer().run_validation({})))


def _engine() -> dict:
    return {
        "tick_seconds": float(settings.BOT_TICK_SECONDS),
        "dispatch_limit": int(settings.BOT_DISPATCH_LIMIT),
        "max_failures": int(settings.BOT_MAX_FAILURES),
        "system_state_cache_seconds": int(settings.SYSTEM_STATE_CACHE_SECONDS),
    }


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("risk", RiskSection, "Default risk mode, max position %, daily loss limit, max exposure, protections"),
        Section("notifications", NotificationsSection, "Which alerts you receive"),
        Section("trading", TradingSection, "Defaults for new bots"),
        Section(
            "engine",
            None,
            "The bot engine (read-only: set in the environment, read by every process at start)",
            admin_only=True,
            read_only=True,
            reader=_engine,
        ),
    )
}
USER_SECTIONS = [name for name, s in SECTIONS.items() if not s.admin_only]


def _json(values: dict) -> dict:
    """Validated values as JSON-safe values (Decimal -> float)."""
    from decimal import Decimal

    return {k: float(v) if isinstance(v, Decimal) else v for k, v in values.items()}


def visible(user: Any) -> list[str]:
    return [name for name, s in SECTIONS.items() if user.is_admin or not s.admin_only]


def validate(section: str, stored: dict, changes: Any) -> dict:
    """``changes`` merged over the stored values (and the defaults), validated as a whole. Raises DRF's
    ValidationError with field errors."""
    spec = SECTIONS[section]
    assert spec.serializer is not None
    if not isinstance(changes, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected an object of settings."]})
    known = {k: v for k, v in stored.items() if k in spec.serializer().fields}  # a field since removed is dropped
    serializer = spec.serializer(data={**spec.defaults(), **known, **changes})
    serializer.is_valid(raise_exception=True)
    return _json(dict(serializer.validated_data))
