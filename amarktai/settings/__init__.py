"""Amarktai settings, split by topic. Every setting is declared once, in one of these modules, with the environment
variable it comes from and its default (``env.DECLARED`` lists them; the README's table must name each one).

Two ways to run, chosen by the environment: the embedded default (SQLite, in-memory channel layer and cache, Celery
tasks in process) and production (``DATABASE_URL`` to PostgreSQL, ``REDIS_URL`` to Redis).
"""

from amarktai.settings.api import *  # noqa: F403
from amarktai.settings.base import *  # noqa: F403
from amarktai.settings.bots import *  # noqa: F403
from amarktai.settings.celery import *  # noqa: F403
from amarktai.settings.database import *  # noqa: F403
from amarktai.settings.email import *  # noqa: F403
from amarktai.settings.exchanges import *  # noqa: F403
from amarktai.settings.market_feeds import *  # noqa: F403
from amarktai.settings.notifications import *  # noqa: F403
from amarktai.settings.ranking import *  # noqa: F403
from amarktai.settings.realtime import *  # noqa: F403
from amarktai.settings.research import *  # noqa: F403
from amarktai.settings.security import *  # noqa: F403
