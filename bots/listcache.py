"""The version of each user's cached bot list (bots.selectors.bot_list). Every write to a user's bots bumps it: the
model's save/delete signals and BotQuerySet.update call invalidate_bot_list."""

from django.db import transaction

from amarktai import cache


def version_key(user_id) -> str:
    return f"bots:list:version:{user_id}"


def invalidate_bot_list(user_id) -> None:
    """Drop the cached list now and again after the surrounding transaction commits (a reader between the write and the
    commit could otherwise cache the old rows under the new version)."""

    def bump():
        cache.incr_or_set(version_key(user_id))

    bump()
    transaction.on_commit(bump)


def invalidate_bot_lists(user_ids) -> None:
    """invalidate_bot_list for many owners at once: one Redis round trip now and one after the commit."""
    keys = [version_key(user_id) for user_id in set(user_ids)]
    cache.incr_or_set_many(keys)
    transaction.on_commit(lambda: cache.incr_or_set_many(keys))
