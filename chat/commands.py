"""Dynamic commands: free text -> a typed command, analysed (what it would do and its impact) without applying it.

parse(text, bots) -> Command (keyword rules, like chat.intents: no model, no network). Bot names resolve among the
user's own bots only; a reference that matches several bots or none is an error that says so (never a guess).

analyse(user, command) -> the seed's ``analysis`` shape {command_type, action, description, impact, parameters} plus,
when it can be applied, a one-time ``confirmation_token`` and its ``expires_at``, from chat.actions.propose: the
assistant's confirmed-action machinery, so confirming a command and confirming an assistant action are one code path.
``action`` is "apply" (confirm it to apply it) or "ignore" (understood, nothing to do; ``reason`` says why).

Command types: position_size, risk_mode, pause_bots, resume_bots, stop_bots, stop_loss, take_profit, close_position,
trading_stop.
"""

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from amarktai.errors import ValidationFailed
from amarktai.utils import iso
from bots.models import Bot, BotStatus
from bots.strategies import RISK_PROFILES
from chat import actions, intents
from chat.models import PendingAction
from trading.models import Position
from trading.selectors import open_positions

POSITION_SIZE = "position_size"
RISK_MODE = "risk_mode"
PAUSE = "pause_bots"
RESUME = "resume_bots"
STOP = "stop_bots"
STOP_LOSS = "stop_loss"
TAKE_PROFIT = "take_profit"
CLOSE_POSITION = "close_position"
TRADING_STOP = "trading_stop"
COMMAND_TYPES = (POSITION_SIZE, RISK_MODE, PAUSE, RESUME, STOP, STOP_LOSS, TAKE_PROFIT, CLOSE_POSITION, TRADING_STOP)

ACTION_TYPES = {
    POSITION_SIZE: PendingAction.POSITION_SIZE,
    RISK_MODE: PendingAction.RISK_MODE,
    PAUSE: PendingAction.PAUSE,
    RESUME: PendingAction.RESUME,
    STOP: PendingAction.STOP,
    STOP_LOSS: PendingAction.STOP_LOSS,
    TAKE_PROFIT: PendingAction.TAKE_PROFIT,
    CLOSE_POSITION: PendingAction.CLOSE_POSITION,
    TRADING_STOP: PendingAction.TRADING_STOP,
}
_FROM_INTENT = {
    intents.POSITION_SIZE: POSITION_SIZE,
    intents.RISK_MODE: RISK_MODE,
    intents.PAUSE: PAUSE,
    intents.RESUME: RESUME,
    intents.STOP: STOP,
}

EXAMPLES = (
    '"Increase position size by 20%", "Set position size of Alpha to 15%", "Switch Beta to safe mode", '
    '"Pause Alpha", "Resume all bots", "Stop Beta", "Set stop loss of Alpha to 3%", '
    '"Set take profit of Alpha at 1300000", "Close Alpha\'s position", "Close all positions", '
    '"Stop all trading", "Stop all trading and close all positions"'
)
MIN_LIMIT_PCT = Decimal("0.1")
MAX_LIMIT_PCT = Decimal("50")
CENT = Decimal("0.01")


@dataclass
class Command:
    kind: str
    bots: list = field(default_factory=list)
    all_bots: bool = False
    ambiguous: list = field(default_factory=list)
    unresolved: str = ""
    params: dict = field(default_factory=dict)


_TRADING_STOP = re.compile(
    r"\b(stop|halt|end|kill|cease|suspend|pause|freeze)\b(\s+\w+){0,2}\s+\btrading\b|\bkill\s*-?\s*switch\b|"
    r"\bemergency\s+stop\b|\bstop\s+everything\b|\bpanic\b"
)
_CLOSE_ALL_TOO = re.compile(
    r"\b(close|exit|sell|liquidate|flatten)\b(\s+\w+){0,2}\s+\b(positions?|everything)\b|\bflatten\b"
)
_CLOSE = re.compile(r"\b(close|exit|liquidate|flatten)\b|\bsell\b.*\b(position|positions|everything|holdings?)\b")
_STOP_LOSS = re.compile(r"\bstop[\s-]*loss(es)?\b|\bsl\b")
_TAKE_PROFIT = re.compile(r"\btake[\s-]*profits?\b|\btp\b|\bprofit\s+target\b")
_PCT = re.compile(r"(\d+(?:\.\d+)?)\s*(%|percent\b|pct\b)")
_PRICE = re.compile(r"\b(?:at|to|=|of)\s+(?:r|\$|usd|zar)?\s*(\d[\d,]*(?:\.\d+)?)(?!\s*(?:%|percent|pct))\b")
_LIMIT_WORDS = {
    "stop",
    "loss",
    "losses",
    "sl",
    "take",
    "profit",
    "profits",
    "tp",
    "target",
    "tighten",
    "widen",
    "move",
    "at",
    "below",
    "above",
    "entry",
    "price",
    "percent",
    "pct",
    "r",
    "usd",
    "zar",
}
_CLOSE_WORDS = {
    "close",
    "exit",
    "sell",
    "liquidate",
    "flatten",
    "force",
    "position",
    "positions",
    "everything",
    "holding",
    "holdings",
    "out",
    "market",
    "at",
    "s",
}


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.replace(",", ""))
    except (InvalidOperation, AttributeError):
        return None
    return number if number.is_finite() else None


def _with_bots(
    kind: str, text: str, bots: list[Bot], params: dict | None = None, ignore: set | frozenset = frozenset()
):
    command = Command(kind, params=params or {})
    if intents._ALL.search(text):
        command.all_bots = True
        command.bots = list(bots)
        return command
    matched, ambiguous, leftover = intents.resolve_bots(text, bots, extra_ignore=ignore)
    command.bots, command.ambiguous, command.unresolved = matched, ambiguous, leftover
    return command


def parse(text: str, bots: list[Bot]) -> Command | None:
    """The typed command in ``text``, or None when it is none of the command types. ``bots``: the user's own."""
    lower = " ".join(text.lower().split())
    if _TRADING_STOP.search(lower):
        matched, _ambiguous, _left = intents.resolve_bots(lower, bots, extra_ignore={"trading", "all", "everything"})
        if not matched or intents._ALL.search(lower):  # "pause trading on Alpha" is a pause of Alpha
            return Command(TRADING_STOP, params={"close_positions": bool(_CLOSE_ALL_TOO.search(lower))})
    has_sl, has_tp = bool(_STOP_LOSS.search(lower)), bool(_TAKE_PROFIT.search(lower))
    if has_sl or has_tp:
        kind = STOP_LOSS if has_sl else TAKE_PROFIT
        if has_sl and has_tp:
            return Command(kind, params={"error": "both"})
        params: dict[str, Any] = {}
        pct = _PCT.search(lower)
        price = _PRICE.search(_PCT.sub(" ", lower))
        if pct:
            params["percent"] = pct.group(1)
        elif price:
            params["price"] = price.group(1).replace(",", "")
        # Numbers are not bot names: strip them before resolving.
        names = re.sub(r"\d[\d,]*(?:\.\d+)?", " ", lower)
        return _with_bots(kind, names, bots, params, _LIMIT_WORDS)
    if _CLOSE.search(lower):
        return _with_bots(CLOSE_POSITION, lower, bots, {}, _CLOSE_WORDS)
    intent = intents.parse(text, bots)
    if intent.kind not in _FROM_INTENT:
        return None
    return Command(
        _FROM_INTENT[intent.kind],
        bots=intent.bots,
        all_bots=intent.all_bots,
        ambiguous=intent.ambiguous,
        unresolved=intent.unresolved,
        params=intent.params,
    )


# ------------------------------------------------------------------------------------------------ analysis


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"prompt": [message]})


def _targets(command: Command, bots: list[Bot], verb: str) -> list[Bot]:
    """The bots the command names, or an error that says why there are none (never a guess)."""
    if not bots:
        raise _refuse(f"You have no bots yet, so there is nothing to {verb}.")
    if command.ambiguous:
        raise _refuse(
            f"Several bots match: {actions.names(command.ambiguous)}. Which one do you mean? "
            'Use the full name, or say "all bots".'
        )
    if not command.bots:
        known = ", ".join(b.name for b in bots)
        if command.unresolved:
            raise _refuse(f'There is no bot called "{command.unresolved}". Your bots are: {known}.')
        raise _refuse(f'Which bot should I {verb}? Your bots are: {known}. You can also say "all bots".')
    return list(command.bots)


def _bot_ref(bot: Bot, **extra: Any) -> dict:
    return {"id": str(bot.id), "name": bot.name, **extra}


def _ignore(kind: str, description: str, reason: str, parameters: dict | None = None) -> dict:
    return {
        "command_type": kind,
        "action": "ignore",
        "description": description,
        "impact": "Nothing changes.",
        "reason": reason,
        "parameters": parameters or {},
    }


def _apply(kind: str, description: str, impact: str, parameters: dict) -> dict:
    return {
        "command_type": kind,
        "action": "apply",
        "description": description,
        "impact": impact,
        "parameters": parameters,
    }


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}%"


def _open_positions(user: Any, bots: list[Bot]) -> dict[str, Position]:
    return {
        str(p.bot_id): p for p in Position.objects.owned_by(user).filter(is_open=True, bot__in=[b.pk for b in bots])
    }


def _analyse_status(user: Any, command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    verb = {PAUSE: "pause", RESUME: "resume", STOP: "stop"}[command.kind]
    targets = _targets(command, bots, verb)
    done = {PAUSE: {BotStatus.PAUSED, BotStatus.STOPPED}, RESUME: {BotStatus.ACTIVE}, STOP: {BotStatus.STOPPED}}
    eligible = [b for b in targets if b.status not in done[command.kind]]
    locked = [b for b in eligible if command.kind == RESUME and b.paused_by_admin]
    eligible = [b for b in eligible if b not in locked]
    positions = _open_positions(user, eligible)
    parameters = {
        "bots": [_bot_ref(b, status=b.status, open_position=str(b.id) in positions) for b in eligible],
        "unchanged": [_bot_ref(b, status=b.status) for b in targets if b not in eligible],
    }
    label = verb.capitalize()
    if not eligible:
        if locked:
            reason = " ".join(
                f"{b.name} was paused by an administrator and only an administrator can resume it." for b in locked
            )
        elif len(targets) == 1:
            reason = f"{targets[0].name} is already {targets[0].status}."
        else:
            past = {PAUSE: "paused", RESUME: "resumed", STOP: "stopped"}[command.kind]
            reason = f"None of those bots can be {past}: they are already {' or '.join(sorted(done[command.kind]))}."
        return _ignore(command.kind, f"{label} {actions.names(targets)}", reason, parameters), []
    description = f"{label} {actions.names(eligible)}"
    held = [b.name for b in eligible if str(b.id) in positions]
    if command.kind == RESUME:
        seconds = int(settings.BOT_TICK_SECONDS)
        impact = (
            f"The bot{'s' if len(eligible) != 1 else ''} trade again from the next tick (within about {seconds} s)."
        )
    else:
        stopped = (
            "A stopped bot no longer trades at all" if command.kind == STOP else "A paused bot places no new orders"
        )
        impact = f"{stopped}; open orders stay on the exchange."
        if held:
            impact += (
                f" The open position of {actions.names([b for b in eligible if b.name in held])} stays open and its "
                "stop loss and take profit are not watched meanwhile: close it separately if you want out."
            )
        else:
            impact += " None of them holds an open position."
    if locked:
        impact += f" Not included: {actions.names(locked)} (paused by an administrator)."
    return _apply(command.kind, description, impact, parameters), eligible


def _analyse_risk(command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    targets = _targets(command, bots, "change")
    mode = command.params["risk_mode"]
    eligible = [b for b in targets if b.risk_mode != mode]
    parameters = {"risk_mode": mode, "bots": [_bot_ref(b, current=b.risk_mode) for b in eligible]}
    if not eligible:
        which = f"{targets[0].name} is" if len(targets) == 1 else "All those bots are"
        return _ignore(RISK_MODE, f"Switch to {mode} mode", f"{which} already in {mode} mode.", parameters), []
    profile = RISK_PROFILES[mode]
    impact = (
        f"New positions follow the {mode} profile: {_pct(Decimal(str(profile.position_pct)) * 100)} of capital per "
        f"position (unless a position size is set), stop loss {_pct(Decimal(str(profile.stop_loss_pct)) * 100)} "
        f"below entry, take profit {_pct(Decimal(str(profile.take_profit_pct)) * 100)} above. Open positions keep "
        "their stop loss and take profit."
    )
    return _apply(RISK_MODE, f"Switch {actions.names(eligible)} to {mode} mode", impact, parameters), eligible


def _analyse_size(command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    if not command.bots and not command.ambiguous and not command.unresolved and bots:
        command.bots = list(bots)  # "increase position size by 20%": every bot
    targets = _targets(command, bots, "change")
    params = command.params
    changes = [(b, actions.current_position_pct(b), actions.new_position_pct(b, params)) for b in targets]
    eligible = [b for b, before, after in changes if before != after]
    parameters: dict[str, Any] = {
        "bots": [
            _bot_ref(
                b, current_pct=float(before), new_pct=float(after), capital=float(b.current_capital.quantize(CENT))
            )
            for b, before, after in changes
            if b in eligible
        ]
    }
    if "target_pct" in params:
        parameters["target_pct"] = float(params["target_pct"])
        description = f"Set position size to {params['target_pct']}% of capital"
    else:
        change = Decimal(params["change_pct"])
        parameters["adjustment"] = float(change)
        description = f"{'Increase' if change > 0 else 'Decrease'} position size by {_pct(abs(change))}"
    if not eligible:
        reason = (
            "That would not change the position size (limits: "
            f"{actions.MIN_POSITION_PCT}% to {actions.MAX_POSITION_PCT}% of capital)."
        )
        return _ignore(POSITION_SIZE, description, reason, parameters), []
    shown = ", ".join(f"{b.name} {_pct(before)} → {_pct(after)}" for b, before, after in changes if b in eligible)
    impact = (
        f"Each new buy uses that share of the bot's capital ({shown}): larger positions mean larger gains and losses "
        "per trade. Open positions are not resized."
    )
    return _apply(POSITION_SIZE, f"{description} ({shown})", impact, parameters), eligible


def _analyse_limit(user: Any, command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    kind = command.kind
    label = "stop loss" if kind == STOP_LOSS else "take profit"
    if command.params.get("error") == "both":
        raise _refuse("Change the stop loss and the take profit one at a time (two commands).")
    if "percent" not in command.params and "price" not in command.params:
        raise _refuse(
            f'Say where to put the {label}: a percentage from the entry price ("set {label} of Alpha to 3%") or a '
            f'price ("set {label} of Alpha at 1250000").'
        )
    targets = _targets(command, bots, f"set the {label} of")
    positions = _open_positions(user, targets)
    without = [b for b in targets if str(b.id) not in positions]
    holding = [b for b in targets if str(b.id) in positions]
    pct = _decimal(command.params.get("percent", "")) if "percent" in command.params else None
    price = _decimal(command.params.get("price", "")) if "price" in command.params else None
    if pct is not None and not MIN_LIMIT_PCT <= pct <= MAX_LIMIT_PCT:
        raise _refuse(f"The {label} must be between {MIN_LIMIT_PCT}% and {MAX_LIMIT_PCT}% from the entry price.")
    if price is not None and price <= 0:
        raise _refuse(f"The {label} must be a positive price.")
    rows, prices = [], {}
    for bot in holding:
        position = positions[str(bot.id)]
        if pct is not None:
            factor = (1 - pct / 100) if kind == STOP_LOSS else (1 + pct / 100)
            new = (position.entry_price * factor).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)
        else:
            assert price is not None
            new = price
        current = position.stop_loss if kind == STOP_LOSS else position.take_profit
        other = position.take_profit if kind == STOP_LOSS else position.stop_loss
        if other is not None and ((kind == STOP_LOSS and new >= other) or (kind == TAKE_PROFIT and new <= other)):
            raise _refuse(
                f"That {label} ({new:,.2f}) would be {'above' if kind == STOP_LOSS else 'below'} {bot.name}'s "
                f"{'take profit' if kind == STOP_LOSS else 'stop loss'} ({other:,.2f})."
            )
        prices[str(bot.id)] = str(new)
        rows.append(
            _bot_ref(
                bot,
                symbol=bot.symbol,
                entry_price=float(position.entry_price),
                current=float(current) if current is not None else None,
                new=float(new),
            )
        )
    parameters: dict[str, Any] = {"bots": rows, "without_position": [_bot_ref(b) for b in without]}
    if pct is not None:
        parameters["percent"] = float(pct)
    else:
        parameters["price"] = float(price) if price is not None else None
    command.params = {"prices": prices}
    if not holding:
        reason = (
            f"{actions.names(without)} {'has' if len(without) == 1 else 'have'} no open position: a new position "
            f"gets its {label} from the bot's risk mode."
        )
        return _ignore(kind, f"Set the {label}", reason, parameters), []
    shown = ", ".join(f"{r['name']} at {Decimal(str(r['new'])):,.2f}" for r in rows)
    description = f"Set the {label} of {shown}"
    if kind == STOP_LOSS:
        impact = "The bot sells its whole position at market on the first candle whose low reaches this price."
    else:
        impact = "The bot sells its whole position at market on the first candle whose high reaches this price."
    impact += " It applies to the open position only; a new position gets its own from the bot's risk mode."
    if without:
        impact += f" Not included: {actions.names(without)} (no open position)."
    return _apply(kind, description, impact, parameters), holding


def _analyse_close(user: Any, command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    targets = _targets(command, bots, "close the position of")
    positions = _open_positions(user, targets)
    holding = [b for b in targets if str(b.id) in positions]
    if not holding:
        which = targets[0].name + " has" if len(targets) == 1 else "None of those bots has"
        return _ignore(CLOSE_POSITION, "Close position", f"{which} an open position."), []
    try:
        marks = {row["id"]: row for row in open_positions(user)}
    except Exception:  # noqa: BLE001 - the estimate is optional: the market data may be unreachable
        marks = {}
    rows = []
    for bot in holding:
        position = positions[str(bot.id)]
        mark = marks.get(str(position.id), {})
        rows.append(
            _bot_ref(
                bot,
                position_id=str(position.id),
                symbol=position.symbol,
                amount=float(position.amount),
                entry_price=float(position.entry_price),
                current_price=mark.get("current_price"),
                unrealised_pnl=mark.get("unrealised_pnl"),
                trading_mode=bot.trading_mode,
            )
        )
    description = "Close the open position of " + actions.names(holding) + " at market"
    live = [b for b in holding if b.trading_mode == "live"]
    impact = (
        f"Sells {'each whole position' if len(holding) > 1 else 'the whole position'} at market now "
        f"({'real funds on the exchange' if live else 'paper trading'}); the realised profit or loss is booked to the "
        "bot. The bots keep their status: an active bot may buy again on its next signal (pause it first to stop that)."
    )
    known = [r for r in rows if r["unrealised_pnl"] is not None]
    if known:
        impact += " At the current price: " + ", ".join(f"{r['name']} {r['unrealised_pnl']:+,.2f}" for r in known) + "."
    without = [b for b in targets if b not in holding]
    if without:
        impact += f" Not included: {actions.names(without)} (no open position)."
    return _apply(CLOSE_POSITION, description, impact, {"bots": rows}), holding


def _analyse_trading_stop(user: Any, command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    close = bool(command.params.get("close_positions"))
    running = [b for b in bots if b.status in (BotStatus.ACTIVE, BotStatus.CREATED)]
    held = Position.objects.owned_by(user).filter(is_open=True).count()
    parameters = {
        "close_positions": close,
        "bots": [_bot_ref(b, status=b.status) for b in running],
        "open_positions": held,
    }
    description = "Stop all trading" + (" and close all positions" if close else "")
    impact = f"Pauses every bot ({len(running)} running now) and cancels their open orders. " + (
        f"Sells all {held} open position{'s' if held != 1 else ''} at market."
        if close
        else f"Open positions ({held}) stay open and are not watched: close them separately, or say "
        '"stop all trading and close all positions".'
    )
    return _apply(TRADING_STOP, description, impact, parameters), []


def analyse(user: Any, command: Command, bots: list[Bot]) -> tuple[dict, list[Bot]]:
    """(analysis, the bots it applies to). Raises ValidationFailed (with details.prompt) when the command names no bot,
    several bots or an unknown one, or cannot be carried out as asked."""
    if command.kind in (PAUSE, RESUME, STOP):
        return _analyse_status(user, command, bots)
    if command.kind == RISK_MODE:
        return _analyse_risk(command, bots)
    if command.kind == POSITION_SIZE:
        return _analyse_size(command, bots)
    if command.kind in (STOP_LOSS, TAKE_PROFIT):
        return _analyse_limit(user, command, bots)
    if command.kind == CLOSE_POSITION:
        return _analyse_close(user, command, bots)
    return _analyse_trading_stop(user, command, bots)


def propose(user: Any, command: Command, analysis: dict, targets: list[Bot]) -> PendingAction | None:
    """Store the confirmable action of an "apply" analysis and add its confirmation_token and expires_at to it."""
    if analysis["action"] != "apply":
        return None
    pending, token = actions.create_pending(
        user, ACTION_TYPES[command.kind], targets, analysis["description"], command.params
    )
    analysis["confirmation_token"] = token
    analysis["expires_at"] = iso(pending.expires_at)
    return pending


def not_understood() -> str:
    return "I could not turn that into a command. Commands I understand: " + EXAMPLES + "."
