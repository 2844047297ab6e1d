"""The daily report: once per user and local day (their time zone), at or after their report hour, to the channels
they chose for daily_report. Beat (or the embedded scheduler) calls ``send_due_reports`` every few minutes."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from bots import selectors as bot_selectors
from notifications.kinds import EventKind
from notifications.models import Channel, DailyReport, NotificationSettings
from notifications.services import delivery
from trading.models import Trade


def _local_now(zone: str, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(zone))


def report_for(user: Any, day: date, zone: str) -> tuple[str, str, dict[str, Any]]:
    """(subject, message, data) of the user's report for one local day."""
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))
    trades = Trade.objects.owned_by(user).filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    row = trades.aggregate(count=Count("id"), pnl=Sum("profit_loss"), fees=Sum("fee"))
    pnl, fees = row["pnl"] or Decimal("0"), row["fees"] or Decimal("0")
    overview = bot_selectors.overview(user.pk)
    subject = f"Amarktai daily report for {day.isoformat()}"
    message = (
        f"{subject}: {row['count']} trade(s), realised P&L {pnl:.2f}, fees {fees:.2f}. "
        f"{overview['active_bots']} of {overview['total_bots']} bots active; total profit "
        f"{overview['total_profit']:.2f} on capital {overview['total_capital']:.2f}."
    )
    data = {
        "day": day.isoformat(),
        "trades": row["count"],
        "realised_pnl": float(pnl),
        "fees": float(fees),
        **overview,
    }
    return subject, message, data


def send_due_reports(now: datetime | None = None) -> int:
    """Send every report that is due and not yet sent. Returns how many were sent."""
    now = now or timezone.now()
    user_ids = (
        Channel.objects.filter(enabled=True, subscriptions__event_kind=EventKind.DAILY_REPORT)
        .values_list("user_id", flat=True)
        .distinct()
    )
    sent = 0
    for user_id in list(user_ids):
        prefs = NotificationSettings.objects.owned_by(user_id).select_related("user").first()
        zone, hour = (prefs.timezone, prefs.report_hour) if prefs else ("UTC", 18)
        local = _local_now(zone, now)
        if local.hour < hour:
            continue
        channel = Channel.objects.owned_by(user_id).select_related("user").first()
        if channel is None:
            continue
        try:
            with transaction.atomic():
                DailyReport.objects.create(user_id=user_id, day=local.date())
                subject, message, data = report_for(channel.user, local.date(), zone)
                delivery.notify(user_id, EventKind.DAILY_REPORT, subject, message, data)
        except IntegrityError:
            continue  # already sent today (another process got there first)
        sent += 1
    return sent


def periodic() -> int:
    """The notifications app's periodic round: due daily reports, and deliveries whose retry a dead process lost."""
    delivery.retry_stale()
    return send_due_reports()
