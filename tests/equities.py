"""Stock platforms for tests of paper trading on stocks (the brokers' own Platform entries come from their adapters;
these test-only ones list the same symbols) and moments on the simulated markets' clock."""

import datetime

import pytest

from trading.platforms import PLATFORMS, CredentialField, Platform

US = Platform(
    "paperstocks",
    "Paper Stocks",
    "",
    "US",
    "#222222",
    "S",
    5,
    "USD",
    "AAPL/USD",
    symbols=("AAPL/USD", "MSFT/USD", "TSLA/USD", "SPY/USD", "BTC/USD"),
    kind="stock",
    adapter="ccxt",
    fields=(
        CredentialField("client_code", "Client code", secret=False, help="Your broker client code"),
        CredentialField("totp_secret", "TOTP secret", secret=True, help="The base32 secret of your authenticator"),
        CredentialField("host", "Host URL", secret=False, required=False, kind="url"),
        CredentialField("mode", "Account", secret=False, required=False, kind="choice", choices=("paper", "live")),
    ),
    secret_required=False,
)
IN = Platform(
    "paperstocksin",
    "Paper Stocks India",
    "",
    "IN",
    "#333333",
    "S",
    5,
    "INR",
    "RELIANCE/INR",
    symbols=("RELIANCE/INR", "TCS/INR", "INFY/INR", "HDFCBANK/INR", "SBIN/INR", "NIFTY/INR"),
    kind="stock",
    adapter="ccxt",
)


def at(*parts):
    """Unix time of a UTC date-time."""
    return datetime.datetime(*parts, tzinfo=datetime.UTC).timestamp()


NY_OPEN = at(2026, 11, 25, 15, 0)  # Wednesday 10:00 in New York
NY_CLOSED = at(2026, 11, 28, 15, 0)  # Saturday
NY_NEXT_OPEN = at(2026, 11, 30, 14, 30)  # Monday 09:30 in New York
NSE_OPEN = at(2026, 11, 25, 5, 0)  # Wednesday 10:30 in Mumbai


@pytest.fixture
def stock_platforms(monkeypatch):
    monkeypatch.setitem(PLATFORMS, US.id, US)
    monkeypatch.setitem(PLATFORMS, IN.id, IN)
    return US, IN


class Clock:
    """The simulated markets' clock (trading.sessions.now), set by the test."""

    def __init__(self, monkeypatch, ts):
        self.ts = ts
        monkeypatch.setattr("trading.sessions.now", lambda: self.ts)

    def set(self, ts):
        self.ts = ts


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, NY_OPEN)
