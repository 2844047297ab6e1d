"""Settings for a portal server that talks to fake exchanges started by a browser test: the normal settings, with
Binance pointed at the fake Binance whose URL the test passes in AMARKTAI_TEST_BINANCE_URL (Alpaca needs nothing here:
its fake is reached through the ALPACA_BASE_URL variable)."""

import os

from amarktai.settings import *  # noqa: F403

EXCHANGE_URL_OVERRIDES = {"binance": os.environ["AMARKTAI_TEST_BINANCE_URL"]}
EXCHANGE_TIMEOUT_MS = 3000
