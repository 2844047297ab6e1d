"""A realistic portfolio for one user, made through the public API of a running server (as any client would): bots with
long names and big numbers, trades, open positions, transfers, exchange keys, API keys and an assistant conversation.

Used by the layout test (tests/browser/test_layout.py) and the README's screenshots (docs/screenshots/take.py)."""

import itertools
import re
import time

import httpx

PASSWORD = "Layout-pass-9071"
_seq = itertools.count()

LONG_NAME = "Long-term accumulation strategy for the South African rand market (weekends included)"
BOTS = [
    {"name": "Alpha Trader", "exchange": "luno", "symbol": "BTC/ZAR", "strategy": "momentum", "capital": 45678.91},
    {"name": LONG_NAME, "exchange": "valr", "symbol": "ETH/ZAR", "strategy": "breakout", "capital": 87654.32},
    {"name": "Beta", "exchange": "binance", "symbol": "ETH/USDT", "strategy": "mean_reversion", "capital": 5000},
    {"name": "Gamma", "exchange": "kraken", "symbol": "", "strategy": "supertrend", "capital": 2500},
]
ORDERS = [
    ("luno", "BTC/ZAR", "buy", "0.02"),
    ("luno", "BTC/ZAR", "sell", "0.01"),
    ("luno", "BTC/ZAR", "buy", "0.00012345"),
    ("valr", "ETH/ZAR", "buy", "0.25"),
    ("binance", "ETH/USDT", "buy", "0.5"),
]
CHAT = ["What is my portfolio status?", "Show my bots"]


def unique_email(name):
    local = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    return f"{local}.{int(time.time() * 1000)}.{next(_seq)}@example.com"


class Client:
    """The API as one signed-in user."""

    def __init__(self, base, account):
        self.base = base
        self.account = account

    @property
    def token(self):
        return self.account["token"]

    def call(self, method, path, json=None, expect=(200, 201)):
        resp = httpx.request(
            method,
            f"{self.base}/api/{path}",
            json=json,
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert resp.status_code in expect, f"{method} /api/{path}: {resp.status_code} {resp.text[:500]}"
        return resp.json()


def register(base, name, email=None, password=PASSWORD):
    email = email or unique_email(name)
    resp = httpx.post(
        f"{base}/api/auth/register",
        timeout=30,
        json={"email": email, "password": password, "first_name": name},
    )
    assert resp.status_code == 200, resp.text
    return Client(base, {"email": email, "password": password, **resp.json()})


def login(base, email, password):
    resp = httpx.post(f"{base}/api/auth/login", timeout=30, json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return Client(base, {"email": email, "password": password, **resp.json()})


def seed_portfolio(client, chat=True):
    """Fill one user's account; returns {"bots": [ids...]}."""
    bot_ids = []
    for spec in BOTS:
        body = {
            "name": spec["name"],
            "exchange": spec["exchange"],
            "strategy": spec["strategy"],
            "risk_mode": "balanced",
            "trading_mode": "paper",
            "initial_capital": spec["capital"],
        }
        if spec["symbol"]:
            body["symbol"] = spec["symbol"]
        bot_ids.append(client.call("POST", "bots", body)["bot"]["id"])
    client.call("POST", f"bots/{bot_ids[2]}/pause")
    for exchange, symbol, side, amount in ORDERS:
        client.call(
            "POST",
            "orders",
            {"exchange": exchange, "symbol": symbol, "side": side, "type": "market", "amount": amount},
        )
    client.call(
        "POST",
        "wallet/transfer",
        {"from_provider": "luno", "to_provider": "valr", "amount": 12345.67, "currency": "ZAR", "reason": "rebalance"},
    )
    client.call(
        "POST",
        "wallet/transfer",
        {"from_provider": "binance", "to_provider": "kraken", "amount": 250, "currency": "USDT"},
    )
    client.call(
        "POST",
        "keys",
        {
            "provider": "luno",
            "label": "Main trading account (Johannesburg office)",
            "api_key": "layoutkey1234567890abcdef",
            "api_secret": "layoutsecret1234567890abcdef",
        },
    )
    client.call("POST", "auth/api-keys", {"name": "Monthly reporting script for the accountant", "scopes": ["read"]})
    if chat:
        for message in CHAT:
            client.call("POST", "ai/chat", {"message": message})
    return {"bots": bot_ids}
