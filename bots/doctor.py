"""bots' check for ``manage.py doctor`` (realtime.doctor): is Celery beat alive?

Every dispatcher round (bots.tasks.dispatch_ticks, which beat schedules) leaves its time in the cache under
HEARTBEAT_KEY. Beat is alive when that heartbeat is younger than three dispatcher intervals (at least MIN_STALE_SECONDS,
so a worker briefly busy with ticks is not taken for a dead beat). It proves a worker too: the
round runs on one. Without a broker the embedded scheduler runs the rounds inside the web process (``manage.py serve``),
whose in-memory cache no other process can read, so there is nothing to check from here.
"""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from bots.tasks import HEARTBEAT_KEY
from realtime.doctor import FAIL, OK, SKIP, Result, embedded_tasks

STALE_INTERVALS = 3
MIN_STALE_SECONDS = 10.0


def dispatch_interval() -> float:
    return float(settings.CELERY_BEAT_SCHEDULE["dispatch-bot-ticks"]["schedule"])


def check_beat() -> Result:
    if embedded_tasks():
        return Result("celery beat", SKIP, "embedded: the scheduler runs inside the web process (manage.py serve)")
    interval = dispatch_interval()
    limit = max(STALE_INTERVALS * interval, MIN_STALE_SECONDS)
    last = cache.get(HEARTBEAT_KEY)
    if last is None:
        return Result("celery beat", FAIL, "no dispatcher heartbeat yet: start celery -A amarktai beat (and a worker)")
    age = timezone.now().timestamp() - float(last)
    if age > limit:
        return Result(
            "celery beat", FAIL, f"last dispatcher round {age:.0f}s ago (limit {limit:g}s): is celery beat running?"
        )
    return Result("celery beat", OK, f"last dispatcher round {max(age, 0):.1f}s ago (every {interval:g}s)")
