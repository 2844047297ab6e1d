"""Intent parsing and bot-name resolution (pure functions over the user's bots)."""

import uuid
from types import SimpleNamespace

import pytest

from chat import intents

NAMES = ["Alpha Trader", "Alpha", "Beta One", "Beta Two", "Gamma Scalper"]
BOTS = [SimpleNamespace(name=n, id=uuid.uuid4()) for n in NAMES]


@pytest.mark.parametrize(
    "text,kind,bots,ambiguous",
    [
        ("Pause Alpha Trader", "pause", ["Alpha Trader"], []),
        ("pause alpha", "pause", ["Alpha"], []),
        ("please pause alpha trdaer", "pause", ["Alpha Trader"], []),
        ("pause gama scalpr", "pause", ["Gamma Scalper"], []),
        ("pause beta", "pause", [], ["Beta One", "Beta Two"]),
        ("resume all bots", "resume", NAMES, []),
        ("stop gamma please", "stop", ["Gamma Scalper"], []),
        ("switch bot Beta One to safe mode", "risk_mode", ["Beta One"], []),
        ("make all bots aggressive", "risk_mode", NAMES, []),
        ("reduce trade size of Gamma by 10 percent", "position_size", ["Gamma Scalper"], []),
        ("increase position size by 20%", "position_size", [], []),
        ("What is my current portfolio status?", "portfolio", [], []),
        ("Check my bots", "bots", [], []),
        ("how is gamma doing", "bot_detail", ["Gamma Scalper"], []),
        ("show recent trades", "trades", [], []),
        ("what's my win rate", "win_rate", [], []),
        ("what is my exposure", "exposure", [], []),
        ("show my balances", "balances", [], []),
        ("how much profit today?", "today", [], []),
        ("help", "help", [], []),
        ("make me a sandwich", "unknown", [], []),
    ],
)
def test_parse(text, kind, bots, ambiguous):
    intent = intents.parse(text, BOTS)
    assert intent.kind == kind
    assert sorted(b.name for b in intent.bots) == sorted(bots)
    assert sorted(b.name for b in intent.ambiguous) == sorted(ambiguous)


def test_params_and_unresolved():
    assert intents.parse("increase position size by 20%", BOTS).params == {"change_pct": "20"}
    assert intents.parse("cut position size by 12.5 percent", BOTS).params == {"change_pct": "-12.5"}
    assert intents.parse("set position size to 15%", BOTS).params == {"target_pct": "15"}
    assert intents.parse("switch Alpha to conservative mode", BOTS).params == {"risk_mode": "safe"}
    assert intents.parse("pause zeta", BOTS).unresolved == "zeta"
    assert intents.parse("pause zeta", []).bots == []
