"""Read queries over bots shared by views, the assistant and the real-time feeds.

GET /api/bots is the hottest read: the serialized list of a user's bots is cached (the default cache: Redis in production,
shared by every process) under a per-user version that every write to that user's bots bumps (save/delete signals and
BotQuerySet.update), so a read never sees a list older than the last committed write.
"""

import threading
from collections import OrderedDict

from amarktai import cache
from django.db import transaction
from django.db.models import Count, Q

from bots.models import Bot, BotStatus

LIST_TTL = 300
_LOCAL_MAX = 4096
_local_lists = OrderedDict()  # (user_id, version) -> items: a version's list never changes, so memoizing it is safe
_local_lock = threading.Lock()


def bot_counts(user):
    """{"active": n, "total": n} for one user's bots."""
    counts = Bot.objects.filter(user=user).aggregate(total=Count("id"), active=Count("id", filter=Q(status=BotStatus.ACTIVE)))
    return {"active": counts["active"], "total": counts["total"]}


def _version_key(user_id):
    return f"bots:list:version:{user_id}"


def invalidate_bot_list(user_id):
    """Drop the cached list now and again after the surrounding transaction commits (a reader between the write and the
    commit could otherwise cache the old rows under the new version)."""
    def bump():
        cache.incr_or_set(_version_key(user_id))

    bump()
    transaction.on_commit(bump)


def bot_list(user):
    """The user's bots as GET /api/bots items (newest first), from the cache when current."""
    from bots.services import bot_payload

    version = cache.pinned_get(user, _version_key(user.pk))  # fetched with the user at authentication
    if version is None:
        # No version yet (or the cache is down): read the database, and start a version so later reads can cache.
        cache.incr_or_set(_version_key(user.pk))
        return [bot_payload(bot) for bot in Bot.objects.filter(user=user)]
    local_key = (str(user.pk), version)
    items = _local_lists.get(local_key)
    if items is not None:
        return items
    key = f"bots:list:{user.pk}:{version}"
    items = cache.get(key)
    if items is None:
        items = [bot_payload(bot) for bot in Bot.objects.filter(user=user)]
        cache.set(key, items, LIST_TTL)
    with _local_lock:
        _local_lists[local_key] = items
        while len(_local_lists) > _LOCAL_MAX:
            _local_lists.popitem(last=False)
    return items


def _on_bot_change(sender, instance, **kwargs):
    invalidate_bot_list(instance.user_id)


def connect_signals():
    from django.db.models.signals import post_delete, post_save

    cache.register_per_user_key(_version_key)

    post_save.connect(_on_bot_change, sender=Bot, dispatch_uid="bots-list-cache-save")
    post_delete.connect(_on_bot_change, sender=Bot, dispatch_uid="bots-list-cache-delete")
