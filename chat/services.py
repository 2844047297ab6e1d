"""The assistant: answers from the user's own data and turns commands into confirmable actions.

handle_message(user, text) -> {"response", "requires_confirmation", "actions"}; confirm_action(user, token) runs one.
Every exchange (question and answer) is stored in the user's history. Reads are in chat.selectors, the reply shapes in
chat.payloads.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from amarktai.errors import AmarktaiError, ValidationFailed
from amarktai.utils import iso
from bots.exits import plan_from_params
from bots.models import Bot, BotStatus
from bots.payloads import activity
from bots.selectors import bot_exits_and_protections, last_webhook_event
from bots.services import locked_message
from bots.tokens import is_webhook_strategy
from chat import actions, commands, intents, selectors
from chat.models import ChatMessage, CommandRecord, CommandStatus, PendingAction
from chat.payloads import daily_report_payload, greeting_payload, reply_payload
from mirror import selectors as mirror_selectors
from mirror.payloads import group_order_payload
from trading.selectors import open_positions
from trading.valuation import quote_of
from wallets.services.balances import is_paper, provider_balances

CURRENCY_SYMBOLS = {"ZAR": "R", "USD": "$", "USDT": "$", "EUR": "€", "GBP": "£"}

CAPABILITIES = (
    "Here is what I can do:\n"
    '• Portfolio: "What is my portfolio status?", "How much profit today?", "What is my unrealised P&L?"\n'
    '• Bots: "Check my bots", "How is Alpha Trader doing?"\n'
    '• Trades and risk: "Show recent trades", "What is my win rate?", "What is my exposure?", "Show my balances"\n'
    '• Commands (you confirm each one first): "Pause Alpha Trader", "Resume all bots", "Stop Beta", '
    '"Switch bot Beta to safe mode", "Increase position size by 20%", "Close Alpha Trader\'s position", '
    '"Set stop loss of Alpha Trader to 3%"\n'
    '• Exits: "What are my exits on Alpha Trader?", "Why didn\'t Alpha Trader buy?" (its exit plan and protections)\n'
    '• Account groups: "Which accounts filled?", "Show my group orders" (each account\'s result and why)'
)
CANT_RANK = (
    "I can't compare or rank your bots yet, so I won't guess which one is best. You can ask about one bot at a time "
    '("How is Alpha Trader doing?") and compare their profit and win rate yourself.'
)
CANT_CREATE = (
    "I can't create bots yet. Create one on the Bots page (Create a bot) or through the API (POST /api/bots): "
    "you choose the exchange, pair, strategy, risk mode and capital there."
)
CANT_ANSWER = "I can't answer that yet."


# ---------------------------------------------------------------- formatting

Number = Decimal | float | int | None


def fmt_money(user: Any, value: Number, signed: bool = False, currency: str | None = None) -> str:
    """An amount in ``currency`` (default: the user's base currency, which every total is converted into)."""
    value = Decimal(value or 0).quantize(Decimal("0.01"))
    currency = (currency or user.currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}{symbol}{abs(value):,.2f}"


def fmt_pct(value: Number, signed: bool = True) -> str:
    value = Decimal(value or 0).quantize(Decimal("0.01"))
    return f"{'+' if signed and value > 0 else ''}{value:,.2f}%"


def fmt_amount(value: Decimal | float | int) -> str:
    return f"{Decimal(value).normalize():f}"


def _bot_line(user: Any, bot: Bot) -> str:
    ccy = quote_of(bot.symbol)  # a bot's money is in its market's quote currency
    return (
        f"{bot.name} ({bot.exchange} {bot.symbol}, {bot.status}, {bot.risk_mode}, {bot.trading_mode}): "
        f"profit {fmt_money(user, bot.total_profit, signed=True, currency=ccy)} ({fmt_pct(bot.profit_percentage)}), "
        f"capital {fmt_money(user, bot.current_capital, currency=ccy)}"
    )


def _bot_list(user: Any, bots: list[Bot]) -> str:
    return "\n".join(f"• {_bot_line(user, b)}" for b in bots)


# ---------------------------------------------------------------- daily report


def daily_report(user: Any, now: datetime | None = None) -> dict:
    """{"summary", "highlights"} from today's Trade rows and the user's bots."""
    report = selectors.daily_report(user, now)
    if report.trade_count and not report.closed_trades:
        # Only buys today: positions were opened, nothing was booked. Never "generated R0.00" or "broke even".
        summary = (
            f"Today your bots opened positions in {report.trade_count} trade{'s' if report.trade_count != 1 else ''}; "
            "no profit or loss is booked until they close."
        )
    elif report.trade_count:
        verb = "generated" if report.profit >= 0 else "lost"
        amount = fmt_money(user, abs(report.profit))
        summary = (
            f"Today your bots {verb} {amount} {'in profit ' if report.profit >= 0 else ''}across "
            f"{report.trade_count} trade{'s' if report.trade_count != 1 else ''}."
        )
    elif report.total_bots:
        summary = "No trades yet today."
    else:
        summary = "You have no bots yet: create one to start trading."
    if report.total_bots:
        summary += f" {report.active_bots} of {report.total_bots} bot{'s' if report.total_bots != 1 else ''} active."
    highlights = []
    for day in (report.best, report.worst):
        if day is None:
            continue
        if not day.closed:
            highlights.append(
                f"{day.bot.name} opened a position today ({day.trades} trade{'s' if day.trades != 1 else ''}); "
                "it is still open, so no profit or loss is booked yet"
            )
            continue
        if day.profit > 0:
            what = (
                f"gained {fmt_money(user, day.profit, currency=quote_of(day.bot.symbol))} ({fmt_pct(day.percentage)})"
            )
        elif day.profit < 0:
            what = f"lost {fmt_money(user, -day.profit, currency=quote_of(day.bot.symbol))} ({fmt_pct(day.percentage)})"
        else:
            what = "broke even"
        highlights.append(f"{day.bot.name} {what} today over {day.trades} trade{'s' if day.trades != 1 else ''}")
    if report.wins or report.losses:
        highlights.append(
            f"{report.wins} winning and {report.losses} losing closed trade"
            f"{'s' if report.wins + report.losses != 1 else ''} today"
        )
    for bot in report.paused:
        highlights.append(f"{bot.name} is paused" + (f": {bot.last_error[:200]}" if bot.last_error else ""))
    return daily_report_payload(summary, highlights)


def greeting(user: Any) -> dict:
    name = user.first_name or user.email.split("@")[0]
    return greeting_payload(f"Welcome back, {name}!", daily_report(user))


# ---------------------------------------------------------------- answers


def _portfolio(user: Any) -> str:
    p = selectors.portfolio(user)
    if not p.total_bots:
        return "You have no bots yet. Create a bot to start trading (paper trading is free of risk)."
    report = selectors.daily_report(user)
    return (
        f"Your portfolio has {p.active_bots} active bot{'s' if p.active_bots != 1 else ''} of {p.total_bots} "
        f"({p.paused_bots} paused) with a total profit of {fmt_money(user, p.total_profit, signed=True)} "
        f"({fmt_pct(p.profit_percentage)}) on capital of {fmt_money(user, p.total_capital)}. "
        f"Today: {fmt_money(user, report.profit, signed=True)} from {report.trade_count} trade"
        f"{'s' if report.trade_count != 1 else ''}."
        + (f" Not included (no price available): {', '.join(p.unpriced)}." if p.unpriced else "")
    )


def _bots(user: Any, bots: list[Bot]) -> str:
    if not bots:
        return "You have no bots yet."
    active = sum(1 for b in bots if b.status == BotStatus.ACTIVE)
    return f"You have {active} active bot{'s' if active != 1 else ''} of {len(bots)}:\n{_bot_list(user, bots)}"


def _bot_detail(user: Any, bot: Bot) -> str:
    wr = selectors.win_rate(user, bot)
    text = _bot_line(user, bot) + "."
    if wr.closed:
        text += f" Win rate {fmt_pct(wr.rate, signed=False)} ({wr.wins} wins, {wr.losses} losses)."
    else:
        text += " No closed trades yet."
    if bot.last_error:
        text += f" Last error: {bot.last_error[:200]}"
    return text


def _group_orders(user: Any) -> str:
    """The last group order, account by account: which filled (how much, at what price) and which failed or were
    skipped, and why (mirror)."""
    rows, total = mirror_selectors.group_orders_page(user, limit=1)
    if not rows:
        return "You have sent no order to an account group yet. Make a group on the Accounts page and send one there."
    body = group_order_payload(rows[0], list(rows[0].children.all()))
    state = {"working": "still working", "filled": "filled on every account", "partial": "partly filled"}.get(
        body["status"], "not filled anywhere"
    )
    lines = [
        f"Your last group order ({total} in all): {body['side']} {body['amount']:g} {body['symbol']} to "
        f"{body['group_name']}, {state}."
    ]
    for child in body["children"]:
        part = f" part {child['slice'] + 1}" if child["slice"] else ""
        if child["status"] == "closed":
            price = f" at {child['average']:g}" if child["average"] else ""
            lines.append(f"• {child['account_label']}{part}: filled {child['filled']:g}{price}")
        elif child["status"] in ("open", "pending"):
            lines.append(f"• {child['account_label']}{part}: {child['amount']:g} still working")
        else:
            why = f": {child['error']}" if child["error"] else ""
            lines.append(f"• {child['account_label']}{part}: {child['status']}{why}")
    return "\n".join(lines)


def _why_not(bot: Bot) -> str:
    """Why a bot did (not) trade: its activity (bots.payloads.activity: status, failures, the engine's last decision and
    reason) and, for a signal bot, what became of its last alert."""
    state = activity(bot)
    text = f"{bot.name} ({bot.strategy}, {bot.status})"
    if bot.paused_by_admin:
        text += f": {locked_message(bot)}"
    elif state["state"] == "waiting":
        text += (
            ": it has received no alert yet. Point your TradingView or ChartInk alert at its webhook URL."
            if is_webhook_strategy(bot.strategy)
            else ": the engine has not decided anything for it yet (it ticks every few seconds once active)."
        )
    else:
        label = state["state"].replace("_", " ")
        text += f": {label}. {state['message']}".rstrip()
        if state.get("at"):
            text += f" (at {state['at']})"
    if bot.risk_block:
        text += f" Entries are blocked now: {bot.risk_block}."  # a risk limit or a protection (bots.engine)
    if is_webhook_strategy(bot.strategy):
        event = last_webhook_event(bot)
        if event is None:
            text += " No alert has reached its webhook yet."
        else:
            text += (
                f" Its last alert ({event.source} {event.action or 'unreadable'}, {iso(event.received_at)}) was "
                f"{event.outcome}: {event.reason}."
            )
    blocking = bot_exits_and_protections(bot)["protections"]["blocking"]
    if blocking and not bot.risk_block:  # not decided on yet (no buy signal since), but already in force
        text += f" Entries are blocked now: {blocking['reason']}."
    return text


def _exits(bot: Bot) -> str:
    """The bot's exit plan (its open position's, else what its next position gets) and its protections."""
    found = bot_exits_and_protections(bot)
    view = found["exits"]
    plan = view["plan"] if view else plan_from_params(bot.params)
    parts = []
    for i, t in enumerate(plan["targets"]):
        parts.append(f"take profit {i + 1}: {t['pct_of_position']:g}% of the position at +{t['at_profit_pct']:g}%")
    if plan["trailing_take_profit"]:
        ttp = plan["trailing_take_profit"]
        parts.append(
            f"trailing take profit: arms at +{ttp['activate_at_pct']:g}%, sells {ttp['callback_pct']:g}% off the high"
        )
    if plan["trailing_stop"]:
        parts.append(f"trailing stop {plan['trailing_stop']['distance_pct']:g}% below the high since entry")
    if plan["breakeven_after_first_target"]:
        parts.append("the stop moves to the entry price after the first target")
    if plan["time_stop_minutes"]:
        parts.append(f"time stop after {plan['time_stop_minutes']} min")
    where = "Its open position's exits" if view else "Exits for its next position"
    text = (
        f"{where}: {'; '.join(parts)} (run by the engine on every tick)."
        if parts
        else f"{bot.name} has no exits set beyond its risk mode's stop loss and take profit."
    )
    if view and view["state"]["trailing_stop_price"] is not None:
        text += f" The stop is at {view['state']['trailing_stop_price']:,.2f} now."
    protections = found["protections"]
    on = {
        k: v
        for k, v in protections["settings"].items()
        if v and k in ("sl_guard_count", "max_drawdown_pct", "cooldown_minutes", "pair_lock_trips")
    }
    labels = {
        "sl_guard_count": "stop-loss guard",
        "max_drawdown_pct": "max-drawdown pause",
        "cooldown_minutes": "cooldown after exit",
        "pair_lock_trips": "low-profit pair lock",
    }
    text += f" Protections: {', '.join(labels[k] for k in on)}." if on else " No protections are set."
    if protections["blocking"]:
        text += f" Entries are blocked now: {protections['blocking']['reason']}."
    elif bot.last_decision_reason:
        text += f" Last decision: {bot.last_decision_reason}"
    return text


def _trades(user: Any, bot: Bot | None = None) -> str:
    trades = (
        selectors.recent_trades(user, limit=5)
        if bot is None
        else [t for t in selectors.recent_trades(user, limit=50) if t.bot_id == bot.id][:5]
    )
    if not trades:
        return "No trades yet." if bot is None else f"{bot.name} has no trades yet."
    lines = []
    for t in trades:
        who = t.bot.name if t.bot else "manual"
        pnl = f", P&L {fmt_money(user, t.profit_loss, signed=True)}" if t.profit_loss else ""
        mode = "paper" if t.is_paper else "live"
        lines.append(
            f"• {t.side} {fmt_amount(t.amount)} {t.symbol} @ {Decimal(t.price):,.2f} on {t.exchange} "
            f"({who}, {mode}){pnl} — {iso(t.created_at)}"
        )
    return f"Your last {len(lines)} trade{'s' if len(lines) != 1 else ''}:\n" + "\n".join(lines)


def _win_rate(user: Any, bot: Bot | None = None) -> str:
    wr = selectors.win_rate(user, bot)
    whose = f"{bot.name}'s" if bot else "Your"
    if not wr.closed:
        return f"{whose} win rate is not available yet: no closed trades."
    return (
        f"{whose} win rate is {fmt_pct(wr.rate, signed=False)}: {wr.wins} winning and {wr.losses} losing of "
        f"{wr.closed} closed trades."
    )


def _exposure(user: Any) -> str:
    ex = selectors.exposure(user)
    if not ex.positions:
        return "You have no open positions: exposure is 0%."
    lines = [
        f"• {p.symbol} on {p.exchange}: {fmt_amount(p.amount)} @ {p.entry_price:,.2f}"
        f" ({p.bot.name if p.bot else 'manual'})"
        for p in ex.positions[:10]
    ]
    return (
        f"You have {len(ex.positions)} open position{'s' if len(ex.positions) != 1 else ''} worth "
        f"{fmt_money(user, ex.value)} at entry price, {fmt_pct(ex.percentage, signed=False)} of your capital "
        f"({fmt_money(user, ex.total_capital)}):\n" + "\n".join(lines)
    )


def _balances(user: Any) -> str:
    """Through the wallets service (paper accounts in testing mode, the exchanges with the user's keys otherwise)."""
    paper = is_paper(user)
    raw, errors = provider_balances(user)
    balances = {p: {c: row["total"] for c, row in currencies.items() if row["total"]} for p, currencies in raw.items()}
    balances = {p: c for p, c in balances.items() if c}
    kind = "paper trading" if paper else "live exchange"
    if balances:
        lines = [
            f"• {platform}: " + ", ".join(f"{fmt_amount(v)} {cur}" for cur, v in sorted(currencies.items()))
            for platform, currencies in sorted(balances.items())
        ]
        text = f"Your {kind} balances:\n" + "\n".join(lines)
    else:
        text = f"You have no {kind} balances yet."
    if errors:
        text += "\nI could not read: " + ", ".join(f"{p} ({msg})" for p, msg in sorted(errors.items()))
    return text


def _today(user: Any) -> str:
    report = daily_report(user)
    return report["summary"] + (
        "\n" + "\n".join(f"• {h}" for h in report["highlights"]) if report["highlights"] else ""
    )


# ---------------------------------------------------------------- commands

_DONE_STATES = {
    intents.PAUSE: ({BotStatus.PAUSED, BotStatus.STOPPED}, "is already paused or stopped", "active"),
    intents.RESUME: ({BotStatus.ACTIVE}, "is already active", "paused"),
    intents.STOP: ({BotStatus.STOPPED}, "is already stopped", "running"),
}
_ACTION_TYPES = {
    intents.PAUSE: PendingAction.PAUSE,
    intents.RESUME: PendingAction.RESUME,
    intents.STOP: PendingAction.STOP,
    intents.RISK_MODE: PendingAction.RISK_MODE,
    intents.POSITION_SIZE: PendingAction.POSITION_SIZE,
}


def _command(user: Any, intent: intents.Intent, all_bots: list[Bot], confirmable: bool = True) -> dict:
    verb = {
        intents.PAUSE: "pause",
        intents.RESUME: "resume",
        intents.STOP: "stop",
        intents.RISK_MODE: "change",
        intents.POSITION_SIZE: "change",
    }[intent.kind]
    if not all_bots:
        return reply_payload("You have no bots yet, so there is nothing to " + verb + ".")
    if intent.ambiguous:
        return reply_payload(
            f"Several bots match: {actions.names(intent.ambiguous)}. Which one do you mean? "
            'Use the full name, or say "all bots".'
        )
    if not intent.bots and intent.kind == intents.POSITION_SIZE and not intent.unresolved:
        intent.bots = list(all_bots)  # "increase position size by 20%": a portfolio-wide change
    if not intent.bots:
        known = ", ".join(b.name for b in all_bots)
        if intent.unresolved:
            return reply_payload(f'I couldn\'t find a bot called "{intent.unresolved}". Your bots are: {known}.')
        return reply_payload(f'Which bot should I {verb}? Your bots are: {known}. You can also say "all bots".')

    targets = intent.bots
    if intent.kind in _DONE_STATES:
        done, already, wanted = _DONE_STATES[intent.kind]
        eligible = [b for b in targets if b.status not in done]
        if intent.kind == intents.RESUME:
            locked = [b for b in eligible if b.paused_by_admin]
            eligible = [b for b in eligible if not b.paused_by_admin]
            if locked and not eligible:
                return reply_payload(" ".join(locked_message(b) for b in locked))
        if not eligible:
            if len(targets) == 1:
                return reply_payload(f"{targets[0].name} {already} (status: {targets[0].status}).")
            return reply_payload(f"None of your bots is {wanted}: nothing to {verb}.")
        label = "Pause" if intent.kind == intents.PAUSE else "Resume" if intent.kind == intents.RESUME else "Stop"
        description = f"{label} {actions.names(eligible)}"
        if intent.kind == intents.STOP:
            description += " (a stopped bot no longer trades)"
    elif intent.kind == intents.RISK_MODE:
        mode = intent.params["risk_mode"]
        eligible = [b for b in targets if b.risk_mode != mode]
        if not eligible:
            which = targets[0].name + " is" if len(targets) == 1 else "All those bots are"
            return reply_payload(f"{which} already in {mode} mode.")
        description = f"Switch {actions.names(eligible)} to {mode} mode"
    else:
        params = intent.params
        eligible = [b for b in targets if actions.new_position_pct(b, params) != actions.current_position_pct(b)]
        if not eligible:
            return reply_payload(
                "That would not change the position size (limits: "
                f"{actions.MIN_POSITION_PCT}% to {actions.MAX_POSITION_PCT}% of capital)."
            )
        changes = ", ".join(
            f"{b.name} {actions.current_position_pct(b).normalize():f}% → "
            f"{actions.new_position_pct(b, params).normalize():f}%"
            for b in eligible[:5]
        )
        if "target_pct" in params:
            description = f"Set position size to {params['target_pct']}% of capital ({changes})"
        else:
            change = Decimal(params["change_pct"])
            word = "Increase" if change > 0 else "Decrease"
            description = f"{word} position size by {abs(change).normalize():f}% ({changes})"
    if not confirmable:
        return reply_payload(
            f"{description}: commands that change your bots need a confirmation, so send them to the "
            "assistant (POST /api/ai/chat), which returns a confirmation token."
        )
    item = actions.propose(user, _ACTION_TYPES[intent.kind], eligible, description, intent.params)
    minutes = int(actions.token_ttl().total_seconds() // 60) or 1
    return reply_payload(
        f"{description}. This changes your bots, so please confirm it within {minutes} minute"
        f"{'s' if minutes != 1 else ''}.",
        [item],
    )


# Commands the assistant takes from chat.commands (the same parser and analysis as POST /api/commands).
_COMMAND_KINDS = {commands.CLOSE_POSITION, commands.STOP_LOSS, commands.TAKE_PROFIT, commands.TRADING_STOP}


def _dynamic_command(user: Any, command: commands.Command, bots: list[Bot], confirmable: bool) -> dict:
    try:
        analysis, targets = commands.analyse(user, command, bots)
    except ValidationFailed as exc:
        return reply_payload(exc.message)
    if analysis["action"] != "apply":
        return reply_payload(analysis.get("reason") or "Nothing to do.")
    text = f"{analysis['description']}. {analysis['impact']}"
    if not confirmable:
        return reply_payload(
            f"{text} Commands that change your bots need a confirmation, so send them to the assistant "
            "(POST /api/ai/chat), which returns a confirmation token."
        )
    item = actions.propose(user, commands.ACTION_TYPES[command.kind], targets, analysis["description"], command.params)
    minutes = int(actions.token_ttl().total_seconds() // 60) or 1
    return reply_payload(f"{text} Please confirm it within {minutes} minute{'s' if minutes != 1 else ''}.", [item])


def _unrealised(user: Any, bots: list[Bot]) -> str:
    """Open positions at the current price (after entry fees), per quote currency: nothing is booked until sold."""
    try:
        rows = open_positions(user)
    except AmarktaiError as exc:
        return f"I could not price your open positions right now ({exc.message}). Try again in a moment."
    if not rows:
        return "You have no open positions, so there is no unrealised profit or loss."
    names = {str(b.id): b.name for b in bots}
    totals: dict[str, Decimal] = {}
    lines = []
    for row in rows:
        quote = row["symbol"].split("/")[-1]
        pnl = Decimal(str(row["unrealised_pnl"]))
        totals[quote] = totals.get(quote, Decimal("0")) + pnl
        lines.append(
            f"• {names.get(row['bot_id'] or '', 'manual')}: {fmt_amount(Decimal(str(row['amount'])))} {row['symbol']} "
            f"bought at {Decimal(str(row['entry_price'])):,.2f}, now {Decimal(str(row['current_price'])):,.2f}: "
            f"{_quoted(pnl, quote)} ({fmt_pct(row['unrealised_pnl_pct'])})"
        )
    total = ", ".join(_quoted(v, q) for q, v in sorted(totals.items()))
    count = len(rows)
    return (
        f"Your unrealised P&L is {total} on {count} open position{'s' if count != 1 else ''} at current prices "
        "(entry fees included; nothing is booked until a position is sold):\n" + "\n".join(lines)
    )


def _quoted(value: Decimal, currency: str) -> str:
    value = value.quantize(Decimal("0.01"))
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), f"{currency} ")
    return f"{'-' if value < 0 else '+' if value > 0 else ''}{symbol}{abs(value):,.2f}"


def answer(user: Any, text: str, confirmable: bool = True) -> dict:
    """The assistant's reply (no history written): {"response", "requires_confirmation", "actions"}."""
    bots = selectors.user_bots(user)
    command = commands.parse(text, bots)
    if command is not None and command.kind in _COMMAND_KINDS:
        return _dynamic_command(user, command, bots, confirmable)  # "stop all trading" is the kill switch
    intent = intents.parse(text, bots)
    kind = intent.kind
    if kind in intents.ACTION_KINDS:
        return _command(user, intent, bots, confirmable)
    single = intent.bots[0] if len(intent.bots) == 1 and not intent.all_bots else None
    if intent.ambiguous and kind in {intents.BOT_DETAIL, intents.TRADES, intents.WIN_RATE}:
        return reply_payload(f"Several bots match: {actions.names(intent.ambiguous)}. Which one do you mean?")
    if kind == intents.PORTFOLIO:
        return reply_payload(_portfolio(user))
    if kind == intents.BOTS:
        return reply_payload(_bots(user, bots))
    if kind == intents.BOT_DETAIL and single is not None:  # a detail question names exactly one bot
        return reply_payload(_bot_detail(user, single))
    if kind == intents.WHY_NOT:
        if single is not None:
            return reply_payload(_why_not(single))
        if intent.ambiguous:
            return reply_payload(f"Several bots match: {actions.names(intent.ambiguous)}. Which one do you mean?")
        if not bots:
            return reply_payload("You have no bots yet.")
        return reply_payload(f"Which bot do you mean? Your bots: {actions.names(bots)}.")
    if kind == intents.EXITS:
        if intent.ambiguous:
            return reply_payload(f"Several bots match: {actions.names(intent.ambiguous)}. Which one do you mean?")
        if single is None:
            return reply_payload('Which bot? Ask e.g. "What are my exits on Alpha Trader?"')
        return reply_payload(_exits(single))
    if kind == intents.GROUP_ORDERS:
        return reply_payload(_group_orders(user))
    if kind == intents.TRADES:
        return reply_payload(_trades(user, single))
    if kind == intents.WIN_RATE:
        return reply_payload(_win_rate(user, single))
    if kind == intents.EXPOSURE:
        return reply_payload(_exposure(user))
    if kind == intents.BALANCES:
        return reply_payload(_balances(user))
    if kind == intents.TODAY:
        return reply_payload(_today(user))
    if kind == intents.GREETING:
        name = user.first_name or "there"
        return reply_payload(
            f'Hello {name}! {_today(user)}\nAsk me about your portfolio, bots or trades, or say "help".'
        )
    if kind == intents.HELP:
        return reply_payload(CAPABILITIES)
    if kind == intents.UNREALISED:
        return reply_payload(_unrealised(user, bots))
    if kind == intents.RANKING:
        return reply_payload(CANT_RANK + "\n" + CAPABILITIES)
    if kind == intents.CREATE_BOT:
        return reply_payload(CANT_CREATE + "\n" + CAPABILITIES)
    return reply_payload(CANT_ANSWER + " " + CAPABILITIES)


def _store(user: Any, question: str, reply_text: str) -> None:
    now = timezone.now()
    ChatMessage.objects.bulk_create(
        [
            ChatMessage(user=user, role="user", content=question, created_at=now),
            ChatMessage(user=user, role="assistant", content=reply_text, created_at=timezone.now()),
        ]
    )


def handle_message(user: Any, text: str, confirmable: bool = True) -> dict:
    """Answer and store the exchange. With confirmable=False commands are explained, never proposed."""
    reply = answer(user, text, confirmable)
    with transaction.atomic():
        _store(user, text, reply["response"])
    return reply


def confirm_action(user: Any, token: str) -> dict:
    """Execute a confirmed action once; stores the exchange; returns the reply dict."""
    pending, text = actions.confirm(user, token)
    _store(user, f"Confirm: {pending.description}", text)
    return reply_payload(text)


def clear_history(user: Any) -> None:
    ChatMessage.objects.owned_by(user).delete()


# ---------------------------------------------------------------- dynamic commands (POST /api/commands)


def submit_command(user: Any, prompt: str) -> dict:
    """Parse and analyse a free-text command without applying it; record it in the user's command history.

    Returns {"command_id", "analysis"}; an "apply" analysis carries the one-time confirmation token that
    ``confirm_command`` (or the assistant's confirm) takes. A prompt that is no command, or names no bot, several or an
    unknown one, raises ValidationFailed (recorded as "rejected")."""
    prompt = prompt.strip()
    bots = selectors.user_bots(user)
    command = commands.parse(prompt, bots)
    if command is None:
        message = commands.not_understood()
        CommandRecord.objects.create(user=user, prompt=prompt[:500], status=CommandStatus.REJECTED, outcome=message)
        raise ValidationFailed(message, details={"prompt": [message]})
    try:
        analysis, targets = commands.analyse(user, command, bots)
    except ValidationFailed as exc:
        CommandRecord.objects.create(
            user=user,
            prompt=prompt[:500],
            command_type=command.kind,
            status=CommandStatus.REJECTED,
            outcome=exc.message,
        )
        raise
    with transaction.atomic():
        pending = commands.propose(user, command, analysis, targets)
        record = CommandRecord.objects.create(
            user=user,
            prompt=prompt[:500],
            command_type=command.kind,
            description=analysis["description"][:500],
            status=CommandStatus.PROPOSED if pending is not None else CommandStatus.IGNORED,
            outcome="" if pending is not None else analysis.get("reason", ""),
            action=pending,
        )
    return {"command_id": str(record.id), "analysis": analysis}


def confirm_command(user: Any, token: str) -> dict:
    """Apply a proposed command once (the assistant's confirmed-action path). Returns {"command_id", "status",
    "result"}; the history row records the outcome."""
    pending, text = actions.confirm(user, token)
    record = CommandRecord.objects.owned_by(user).filter(action=pending).first()
    return {
        "command_id": str(record.id) if record is not None else None,
        "status": record.status if record is not None else CommandStatus.APPLIED,
        "result": text,
    }
