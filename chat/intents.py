"""Offline intent parsing: keyword rules plus fuzzy matching of bot names (difflib). No model, no network.

parse(text, bots) -> Intent. Bot references resolve against the user's own bots only (the caller passes them in).
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

# Intent kinds
HELP = "help"
PORTFOLIO = "portfolio"
BOTS = "bots"
BOT_DETAIL = "bot_detail"
TRADES = "trades"
BALANCES = "balances"
WIN_RATE = "win_rate"
EXPOSURE = "exposure"
TODAY = "today"
PAUSE = "pause"
RESUME = "resume"
STOP = "stop"
RISK_MODE = "risk_mode"
POSITION_SIZE = "position_size"
GREETING = "greeting"
UNREALISED = "unrealised"
RANKING = "ranking"  # "which bot performs best?": not answered yet, said honestly
CREATE_BOT = "create_bot"  # "create a momentum bot": not done by the assistant, said honestly
WHY_NOT = "why_not"  # "why didn't my DCA bot buy?": the bot's last decision, its reason, and its last alert
EXITS = "exits"  # "what are my exits on Alpha?": the exit plan and the protections in force
GROUP_ORDERS = "group_orders"  # "which accounts filled?": the last group order, account by account (mirror)
UNKNOWN = "unknown"
UNSUPPORTED = {RANKING, CREATE_BOT, UNKNOWN}

ACTION_KINDS = {PAUSE, RESUME, STOP, RISK_MODE, POSITION_SIZE}

MATCH_THRESHOLD = 0.75  # difflib ratio a fuzzy bot-name match must reach
TIE_MARGIN = 0.08  # candidates within this of the best score make the reference ambiguous


@dataclass
class Intent:
    kind: str
    bots: list = field(default_factory=list)  # resolved Bot objects (one, or several for "all")
    all_bots: bool = False
    ambiguous: list = field(default_factory=list)  # several bots matched equally well
    unresolved: str = ""  # a bot reference that matched nothing
    params: dict = field(default_factory=dict)


# A word may hold an apostrophe: the ASCII one or the typographic U+2019 that phones and word processors type.
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")  # noqa: RUF001 -- U+2019 is matched on purpose (user text)
_FILLER = {
    "a",
    "an",
    "the",
    "my",
    "me",
    "please",
    "pls",
    "bot",
    "bots",
    "trader",
    "can",
    "could",
    "would",
    "you",
    "i",
    "want",
    "to",
    "now",
    "right",
    "away",
    "for",
    "of",
    "on",
    "and",
    "it",
    "its",
    "called",
    "named",
    "mode",
    "risk",
    "set",
    "switch",
    "change",
    "put",
    "make",
    "into",
    "in",
    "by",
    "kindly",
    "just",
    "immediately",
    "also",
    "then",
    "so",
    "that",
    "this",
    "one",
    "up",
    "down",
    "how",
    "is",
    "are",
    "doing",
    "what",
    "whats",
    "what's",
    "about",
    "status",
    "show",
    "tell",
    "give",
    "info",
    "details",
    "performance",
    "profit",
    "trading",
}
_ACTION_WORDS = {
    PAUSE: {"pause", "halt", "suspend", "freeze"},
    RESUME: {"resume", "unpause", "restart", "start", "activate", "reactivate", "continue", "enable"},
    STOP: {"stop", "deactivate", "disable", "kill"},
}
_RISK_WORDS = {
    "safe": "safe",
    "conservative": "safe",
    "balanced": "balanced",
    "moderate": "balanced",
    "normal": "balanced",
    "aggressive": "aggressive",
    "risky": "aggressive",
}
_ALL = re.compile(r"\b(all|every|everything|each)\b")
_SIZE = re.compile(
    r"\b(increase|raise|boost|grow|bump|up|decrease|reduce|lower|cut|shrink|drop)\b[^%\d]*?"
    r"\b(position|trade|order|stake|lot)\s*(size|sizes|sizing)?\b[^%\d]*?(\d+(?:\.\d+)?)\s*(%|percent|pct)",
)
_SIZE_SET = re.compile(
    r"\b(position|trade|order)\s*(size|sizing)\b[^%\d]*?\bto\s+(\d+(?:\.\d+)?)\s*(%|percent|pct)",
)


_UNREALISED = re.compile(
    r"\bunreali[sz]ed\b|\bfloating\b|\bunbooked\b|\bopen\s+(p&l|pnl|profits?|loss(es)?|gains?)\b|"
    r"\bpaper\s+(profits?|loss(es)?|gains?)\b|\bmark[\s-]to[\s-]market\b"
)
_RANKING = re.compile(
    r"\b(best|worst|top|most|least|better|worse|compare|comparison|rank|ranking|ranked|outperforms?|"
    r"strongest|weakest|highest|lowest)\b"
)
_WHY_NOT = re.compile(
    r"\bwhy\b.*\b(?:not|no|didn'?t|didn’t|did\s+not|isn'?t|isn’t|hasn'?t|hasn’t|won'?t|doesn'?t|never)\b"  # noqa: RUF001
    r".*\b(?:buy|bought|buying|trade|traded|trading|sell|sold|selling|enter|entered|order|react)"
)
_WHY_WORDS = {
    "why",
    "not",
    "no",
    "didn't",
    "didnt",
    "did",
    "isn't",
    "isnt",
    "hasn't",
    "hasnt",
    "won't",
    "wont",
    "doesn't",
    "doesnt",
    "never",
    "buy",
    "bought",
    "buying",
    "trade",
    "traded",
    "trading",
    "sell",
    "sold",
    "selling",
    "enter",
    "entered",
    "order",
    "react",
    "yet",
    "today",
    "dca",
    "grid",
    "signal",
}
_CREATE = re.compile(
    r"\b(create|build|deploy|design|setup|set\s+up|add|make)\s+(me\s+)?(?:(?:a|an|another|one|some)\s+)?(new\s+)?"
    r"(?!(?:all|my|every|each|the|these|those|both)\b)([a-z_-]+\s+){0,2}(bot|bots|strategy|strategies)\b|"
    r"\bnew\s+(bot|strategy)\b"
)
# Words that make a question about the bots as a list ("check my bots", "list bots"): only then the list is the answer.
_BOTS_LIST = {"bots", "list", "check", "overview"}


_EXITS = re.compile(
    r"\b(exits|exit plan|exit strategy|trailing stops?|take[- ]profits?|protections?|cooldown|breakeven|"
    r"why (?:didn'?t|did not|isn'?t|is not|won'?t|doesn'?t) .*\bbuy)\b"
)
_EXIT_WORDS = {
    "what",
    "are",
    "is",
    "exits",
    "exit",
    "plan",
    "strategy",
    "trailing",
    "stop",
    "stops",
    "take",
    "profit",
    "profits",
    "protection",
    "protections",
    "cooldown",
    "breakeven",
    "why",
    "didn't",
    "didnt",
    "did",
    "not",
    "isn't",
    "won't",
    "doesn't",
    "buy",
    "show",
    "tell",
    "about",
    "where",
    "in",
    "force",
    "set",
}


def words(text):
    return _WORD.findall(text.lower())


def _has(ws, *options):
    return any(o in ws for o in options)


def _phrase(text):
    return " ".join(words(text))


def resolve_bots(text, bots, extra_ignore=()):
    """(matched, ambiguous, leftover) for the bot named in ``text``.

    Exact (word-bounded) name matches win; then names whose words contain every remaining word (a prefix like "beta"
    for "Beta One"); then difflib ratios over word n-grams (typos). Several equally good candidates are ambiguous.
    """
    phrase = _phrase(text)
    ignore = _FILLER | set(extra_ignore)
    rest = [w for w in words(text) if w not in ignore and not w.isdigit()]
    if not bots:
        return [], [], " ".join(rest)

    exact = [
        b
        for b in bots
        if _phrase(b.name) and re.search(rf"(?<![a-z0-9]){re.escape(_phrase(b.name))}(?![a-z0-9])", phrase)
    ]
    if exact:
        longest = max(len(_phrase(b.name)) for b in exact)
        # "alpha trader" names "Alpha Trader", not also "Alpha"; equal names stay ambiguous
        exact = [b for b in exact if len(_phrase(b.name)) == longest]
        if len(exact) == 1:
            # "alpha trdaer" with bots "Alpha" and "Alpha Trader": a longer name that also covers the extra words wins
            inside = set(words(exact[0].name))
            longer = [b for b in bots if inside < set(words(b.name))]
            if longer and [w for w in rest if w not in inside]:
                better = _scored(rest, longer)
                if better and max(score for score, _ in better) >= 0.8:
                    best = max(better, key=lambda x: x[0])
                    return [best[1]], [], ""
            return exact, [], ""
        return [], exact, ""
    if not rest:
        return [], [], ""

    scored = _scored(rest, bots)
    if not scored:
        return [], [], " ".join(rest)
    top = max(s for s, _ in scored)
    close = [b for s, b in sorted(scored, key=lambda x: (-x[0], x[1].name)) if s >= top - TIE_MARGIN]
    if len(close) == 1:
        return close, [], ""
    return [], close, ""


def _scored(rest, bots):
    """[(score, bot)] of bots whose name the words ``rest`` plausibly refer to."""
    scored = []
    for bot in bots:
        name_words = words(bot.name)
        if not name_words:
            continue
        if all(any(nw.startswith(w) and len(w) >= 3 for nw in name_words) or w in name_words for w in rest):
            scored.append((0.95, bot))
            continue
        best = 0.0
        n = len(name_words)
        target = " ".join(name_words)
        for size in {n, max(1, n - 1), n + 1}:
            for i in range(max(1, len(rest) - size + 1)):
                gram = " ".join(rest[i : i + size])
                best = max(best, SequenceMatcher(None, gram, target).ratio())
        for w in rest:  # a single-word reference to one word of a longer name ("gamm" for "Gamma Scalper")
            for nw in name_words:
                if len(nw) >= 4:
                    best = max(best, SequenceMatcher(None, w, nw).ratio() - 0.05)
        if best >= MATCH_THRESHOLD:
            scored.append((best, bot))
    return scored


def _decimal(value):
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        return None


_GROUP_ORDERS = re.compile(
    r"\bgroup\s+orders?\b|\bwhich\s+accounts?\b|\baccounts?\b.*\b(?:fill|filled|fail|failed|rejected|skipped)\b"
    r"|\b(?:mirrored|mirror)\s+orders?\b"
)


def parse(text, bots):
    """The user's intent. ``bots`` are the user's own bots (the only ones a reference may resolve to)."""
    lower = text.lower().strip()
    ws = set(words(lower))
    all_bots = bool(_ALL.search(lower))

    def with_bots(kind, params=None, ignore=()):
        intent = Intent(kind, params=params or {}, all_bots=all_bots)
        if all_bots:
            intent.bots = list(bots)
            return intent
        matched, ambiguous, leftover = resolve_bots(lower, bots, extra_ignore=ignore)
        intent.bots, intent.ambiguous, intent.unresolved = matched, ambiguous, leftover
        return intent

    # Position size: "increase position size by 20%", "reduce trade size of Beta by 10 percent",
    # "set position size to 15%"
    m = _SIZE.search(lower)
    if m:
        pct = _decimal(m.group(4))
        sign = 1 if m.group(1) in {"increase", "raise", "boost", "grow", "bump", "up"} else -1
        ignore = {
            m.group(1),
            m.group(2),
            "size",
            "sizes",
            "sizing",
            "percent",
            "pct",
            "position",
            "positions",
            "trade",
            "trades",
            "order",
            "orders",
        }
        intent = with_bots(POSITION_SIZE, {"change_pct": str(sign * pct)}, ignore)
        return intent
    m = _SIZE_SET.search(lower)
    if m:
        ignore = {"size", "sizing", "percent", "pct", "position", "trade", "order", "to"}
        return with_bots(POSITION_SIZE, {"target_pct": m.group(3)}, ignore)

    # "why didn't my DCA bot buy?": explained from the bot's last decision (before the action words: "buy", "trade")
    if _WHY_NOT.search(lower):
        intent = with_bots(WHY_NOT, ignore=_WHY_WORDS | {w.replace("'", "’") for w in _WHY_WORDS})  # noqa: RUF001
        if not intent.bots and not intent.ambiguous and len(bots) == 1:
            intent.bots, intent.unresolved = list(bots), ""  # the user's only bot
        return intent

    # "which accounts filled?", "show my group orders": the last group order, each account's result and why (mirror)
    if _GROUP_ORDERS.search(lower):
        return Intent(GROUP_ORDERS)

    # "create a momentum bot": not something the assistant does (said honestly, never mistaken for a command)
    if _CREATE.search(lower):
        return Intent(CREATE_BOT)

    # Risk mode: "switch bot Beta to safe mode", "make all bots aggressive"
    risk = next((_RISK_WORDS[w] for w in words(lower) if w in _RISK_WORDS), None)
    if risk and (
        _has(ws, "mode", "risk", "switch", "set", "change", "make", "put", "move", "go") or lower.startswith(risk)
    ):
        return with_bots(RISK_MODE, {"risk_mode": risk}, ignore=set(_RISK_WORDS) | {"go", "move", "level"})

    # Pause / resume / stop
    for kind in (PAUSE, RESUME, STOP):
        hit = _ACTION_WORDS[kind] & ws
        if hit:
            return with_bots(kind, ignore=hit | {"trading"})

    if _EXITS.search(lower):
        return with_bots(EXITS, ignore=_EXIT_WORDS)

    if _has(ws, "help", "commands", "capabilities") or "what can you do" in lower:
        return Intent(HELP)
    if _UNREALISED.search(lower):
        return Intent(UNREALISED)
    if _RANKING.search(re.sub(r"\bmost\s+recent\b", "recent", lower)):
        return Intent(RANKING)
    if _has(ws, "hi", "hello", "hey", "morning", "afternoon", "evening") and len(ws) <= 4:
        return Intent(GREETING)
    if (
        "win rate" in lower
        or _has(ws, "winrate", "win", "wins", "winning", "losses", "accuracy")
        or "success rate" in lower
    ):
        return with_bots(
            WIN_RATE, ignore={"win", "rate", "winrate", "wins", "winning", "success", "losses", "accuracy"}
        )
    if _has(ws, "exposure", "exposed", "positions", "position", "open"):
        return Intent(EXPOSURE)
    if _has(ws, "balance", "balances", "wallet", "wallets", "funds", "cash", "holdings"):
        return Intent(BALANCES)
    if _has(ws, "today", "today's", "daily", "report"):
        return Intent(TODAY)
    if _has(ws, "trade", "trades", "history", "fills", "recent", "orders"):
        return with_bots(TRADES, ignore={"trade", "trades", "history", "fills", "recent", "orders", "last", "latest"})
    if _has(ws, "portfolio", "overview", "summary", "capital", "pnl", "p&l", "account", "total") or "how am i" in lower:
        return Intent(PORTFOLIO)

    matched, ambiguous, _ = resolve_bots(lower, bots)
    if matched or ambiguous:
        return Intent(BOT_DETAIL, bots=matched, ambiguous=ambiguous)
    if ws & _BOTS_LIST or ws <= _FILLER | {"bot", "check", "list"}:
        return Intent(BOTS)
    if _has(ws, "profit", "profits", "earn", "earned", "made", "performance", "doing", "status"):
        return Intent(PORTFOLIO)
    return Intent(UNKNOWN)
