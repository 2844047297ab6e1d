"""Read queries over bots shared by views, the assistant and the real-time feeds.

GET /api/bots is the hottest read: the serialized list of a user's bots is cached (the default cache: Redis in
production, shared by every process) under a per-user version that every write to that user's bots bumps (save/delete
signals and BotQuerySet.update), so a read never sees a list older than the last committed write.
"""

import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from amarktai import cache
from amarktai.tenancy import access
from amarktai.utils import money
from bots.listcache import invalidate_bot_list
from bots.listcache import version_key as _version_key
from bots.models import Bot, BotStatus
from bots.payloads import bot_payload
from trading.models import Trade
from trading.selectors import open_positions

LIST_TTL = 300
ZERO = Decimal("0")
_LOCAL_MAX = 4096
_local_lists: OrderedDict[tuple[str, Any], list[dict]] = (
    OrderedDict()
)  # (user_id, version) -> items: a version's list never changes, so memoizing it is safe
_local_lock = threading.Lock()


def access_bot(user: Any, bot_id: Any, *, lock: bool = False) -> Bot:
    """One of the user's bots; 404 for a missing or another user's bot alike. ``lock``: SELECT ... FOR UPDATE."""
    return access(Bot.objects, user, bot_id, "Bot", lock=lock)


def bot_counts(user: Any) -> dict:
    """{"active": n, "total": n} for one user's bots."""
    counts = Bot.objects.owned_by(user).aggregate(
        total=Count("id"), active=Count("id", filter=Q(status=BotStatus.ACTIVE))
    )
    return {"active": counts["active"], "total": counts["total"]}


def overview(user_id: Any) -> dict:
    """{"active_bots", "total_bots", "total_profit", "total_capital"} of one user's bots (money as JSON floats)."""
    row = Bot.objects.owned_by(user_id).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=BotStatus.ACTIVE)),
        profit=Coalesce(Sum("total_profit"), ZERO),
        capital=Coalesce(Sum("current_capital"), ZERO),
    )
    return {
        "active_bots": row["active"],
        "total_bots": row["total"],
        "total_profit": money(row["profit"], 2),
        "total_capital": money(row["capital"], 2),
    }


def total_bots(user_id: Any) -> int:
    return Bot.objects.owned_by(user_id).count()


def metrics(user: Any) -> dict:
    bots = Bot.objects.owned_by(user).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=BotStatus.ACTIVE)),
        profit=Coalesce(Sum("total_profit"), ZERO),
        capital=Coalesce(Sum("current_capital"), ZERO),
        aggressive=Count("id", filter=Q(risk_mode="aggressive")),
    )
    # Realised P&L of the user's own (manual) trades counts too; bot profits are kept on the bots.
    manual = Trade.objects.filter(user=user, bot__isnull=True).aggregate(p=Coalesce(Sum("profit_loss"), ZERO))["p"]
    closing = Trade.objects.filter(user=user, side="sell").exclude(profit_loss=0)
    closed_count = closing.count()
    wins = closing.filter(profit_loss__gt=0).count()
    win_rate = round(wins / closed_count * 100, 2) if closed_count else 0.0
    exposure_value = sum((p["value"] for p in open_positions(user)), 0.0)
    capital = float(bots["capital"])
    exposure = round(exposure_value / capital * 100, 2) if capital > 0 else 0.0
    aggressive_share = bots["aggressive"] / bots["total"] if bots["total"] else 0
    if exposure >= 60 or aggressive_share > 0.5:
        risk_level = "high"
    elif exposure >= 25 or aggressive_share > 0:
        risk_level = "moderate"
    else:
        risk_level = "low"
    return {
        "total_profit": money(bots["profit"] + manual, 2),
        "total_capital": money(bots["capital"], 2),
        "active_bots": bots["active"],
        "total_bots": bots["total"],
        "win_rate": win_rate,
        "exposure": exposure,
        "risk_level": risk_level,
    }


def bot_list(user: Any) -> list[dict]:
    """The user's bots as GET /api/bots items (newest first), from the cache when current."""
    version = cache.pinned_get(user, _version_key(user.pk))  # fetched with the user at authentication
    if version is None:
        # No version yet (or the cache is down): read the database, and start a version so later reads can cache.
        cache.incr_or_set(_version_key(user.pk))
        return [bot_payload(bot) for bot in Bot.objects.owned_by(user)]
    local_key = (str(user.pk), version)
    items = _local_lists.get(local_key)
    if items is not None:
        return items
    key = f"bots:list:{user.pk}:{version}"
    items = cache.get(key)
    if items is None:
        items = [bot_payload(bot) for bot in Bot.objects.owned_by(user)]
        cache.set(key, items, LIST_TTL)
    with _local_lock:
        _local_lists[local_key] = items
        while len(_local_lists) > _LOCAL_MAX:
            _local_lists.popitem(last=False)
    return items


def _on_bot_change(sender: type, instance: Bot, **kwargs: Any) -> None:
    invalidate_bot_list(instance.user_id)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    cache.register_per_user_key(_version_key)

    post_save.connect(_on_bot_change, sender=Bot, dispatch_uid="bots-list-cache-save")
    post_delete.connect(_on_bot_change, sender=Bot, dispatch_uid="bots-list-cache-delete")


def trading_state(user_id: Any) -> dict:
    """The platform's trading switch (without who changed it) and the user's kill switch (for /api/system/status)."""
    from bots.models import TradingSwitch
    from trading import system

    stopped = TradingSwitch.objects.owned_by(user_id).filter(stopped=True).exists()
    return {"system": system.current().public(), "user": "stopped" if stopped else "running"}
