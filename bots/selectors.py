"""Read queries over bots shared by views, the assistant and the real-time feeds.

GET /api/bots is the hottest read: the serialized list of a user's bots is cached (the default cache: Redis in
production, shared by every process) under a per-user version that every write to that user's bots bumps (save/delete
signals and BotQuerySet.update), so a read never sees a list older than the last committed write.
"""

import base64
import binascii
import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from amarktai import cache
from amarktai.tenancy import access
from amarktai.utils import money
from bots.listcache import invalidate_bot_list
from bots.listcache import version_key as _version_key
from bots.models import Bot, BotStatus, StrategySignal
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


# --- strategy signals -----------------------------------------------------------------------------------------------
# GET /api/signals pages with a cursor on (created_at, id), newest first: every page is one range scan of the
# (user, -created_at, -id) index however deep it goes (no OFFSET, no COUNT over a million rows).


def encode_signal_cursor(signal: StrategySignal) -> str:
    """The opaque cursor that continues after ``signal``."""
    raw = f"{signal.created_at.isoformat()}|{signal.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_signal_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """(created_at, id) of a cursor from encode_signal_cursor; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        stamp, _, hex_id = raw.partition("|")
        created_at = datetime.fromisoformat(stamp)
        signal_id = uuid.UUID(hex=hex_id)
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        created_at = created_at.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise ValueError("not a cursor from this list") from exc
    return created_at, signal_id


def access_signal(user: Any, signal_id: Any) -> StrategySignal:
    """One of the user's signals; 404 for a missing or another user's signal alike."""
    return access(StrategySignal.objects, user, signal_id, "Signal")


def signals_queryset(
    user: Any,
    *,
    symbol: str | None = None,
    strategy: str | None = None,
    side: str | None = None,
    outcome: str | None = None,
    bot_id: Any = None,
    min_confidence: Decimal | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Any:
    """The user's signals matching the filters, newest first, after the cursor position ``after`` ((created_at, id) of
    the last row of the previous page). ``since`` is inclusive, ``until`` exclusive."""
    rows = StrategySignal.objects.owned_by(user)
    if symbol:
        rows = rows.filter(symbol=symbol.upper())
    if strategy:
        rows = rows.filter(strategy=strategy)
    if side:
        rows = rows.filter(side=side)
    if outcome:
        rows = rows.filter(outcome=outcome)
    if bot_id:
        rows = rows.filter(bot_id=bot_id)
    if min_confidence is not None:
        rows = rows.filter(confidence__gte=min_confidence)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if after is not None:
        created_at, last_id = after
        # created_at <= c bounds the index range; the OR only looks at the rows of that very instant.
        rows = rows.filter(created_at__lte=created_at).filter(Q(created_at__lt=created_at) | Q(id__lt=last_id))
    return rows.order_by("-created_at", "-id")


def signals_page(user: Any, *, limit: int = 50, **filters: Any) -> tuple[list[StrategySignal], StrategySignal | None]:
    """Up to ``limit`` of signals_queryset(user, **filters), and the last of them when more follow (else None)."""
    page = list(signals_queryset(user, **filters)[: limit + 1])
    if len(page) > limit:
        return page[:limit], page[limit - 1]
    return page, None
