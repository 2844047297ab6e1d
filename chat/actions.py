"""Actions the assistant proposes and runs only after confirmation with a one-time token.

propose(...) stores a PendingAction (only the token's SHA-256) and returns the contract's action item, token included.
confirm(user, token) consumes it with one conditional UPDATE (owner's, unconsumed, unexpired) inside the transaction
that runs it: a replay, another user's token, an expired token or a concurrent double-submit cannot execute twice.
Bot changes go through bots.services (which lock the bot row and publish bot_update events).
"""

import hashlib
import secrets
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from amarktai.errors import AmarktaiError, Conflict, NotFound, ValidationFailed
from bots import services as bot_services
from bots.models import Bot, BotStatus
from bots.selectors import access_bot
from bots.strategies import RISK_PROFILES
from bots.trading_switch import stop_trading
from chat.models import CommandRecord, CommandStatus, PendingAction
from chat.payloads import action_payload

MIN_POSITION_PCT = Decimal("1")
MAX_POSITION_PCT = Decimal("100")


def token_ttl():
    return timedelta(seconds=int(settings.CHAT_CONFIRMATION_TTL_SECONDS))


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def names(bots):
    """ "A", "A and B", "A, B and C", "A, B, C and 2 more"."""
    labels = [b.name for b in bots]
    if len(labels) > 4:
        return ", ".join(labels[:3]) + f" and {len(labels) - 3} more"
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def current_position_pct(bot):
    """The share of capital (in %) the bot puts into one position: its own setting, else its risk profile's."""
    raw = (bot.params or {}).get("position_pct")
    if raw is not None:
        return Decimal(str(raw)) * 100
    profile = RISK_PROFILES.get(bot.risk_mode, RISK_PROFILES["balanced"])
    return Decimal(str(profile.position_pct)) * 100


def new_position_pct(bot, params):
    if "target_pct" in params:
        value = Decimal(params["target_pct"])
    else:
        value = current_position_pct(bot) * (1 + Decimal(params["change_pct"]) / 100)
    value = min(max(value, MIN_POSITION_PCT), MAX_POSITION_PCT)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def propose(user, action_type, bots, description, params=None):
    """Store a pending action; returns the contract's action item (the raw token appears only here)."""
    pending, token = create_pending(user, action_type, bots, description, params)
    return action_payload(pending, token)


def create_pending(user, action_type, bots, description, params=None):
    """Store a pending action; returns (PendingAction, raw token). Only the token's SHA-256 is kept."""
    token = secrets.token_urlsafe(32)
    pending = PendingAction.objects.create(
        user=user,
        token_hash=_hash(token),
        action_type=action_type,
        description=description[:500],
        bot_ids=[str(b.id) for b in bots],
        params=params or {},
        expires_at=timezone.now() + token_ttl(),
    )
    return pending, token


def _consume(user, token):
    """Mark the user's pending action used, atomically; raises when the token is unknown, used or expired."""
    if not isinstance(token, str) or not token.strip():
        raise ValidationFailed("confirm must be a confirmation token", details={"confirm": ["required"]})
    digest = _hash(token.strip())
    now = timezone.now()
    mine = PendingAction.objects.owned_by(user).filter(token_hash=digest)
    claimed = mine.filter(consumed_at__isnull=True, expires_at__gt=now).update(consumed_at=now)
    pending = mine.first()
    if claimed == 1:
        return pending
    if pending is None:  # unknown, or another user's: indistinguishable on purpose
        raise NotFound("Confirmation token not found")
    if pending.consumed_at is not None:
        raise Conflict("This action was already confirmed; ask again to repeat it")
    raise ValidationFailed(
        "The confirmation token has expired; ask again to get a new one", details={"confirm": ["expired"]}
    )


def confirm(user, token):
    """Run the user's pending action once (whether the assistant or POST /api/commands proposed it). Returns
    (PendingAction, reply text); a command's history row records the outcome."""
    with transaction.atomic():
        pending = _consume(user, token)
        reply, status = _execute(user, pending)
        pending.result = reply
        pending.save(update_fields=["result"])
        CommandRecord.objects.owned_by(user).filter(action=pending).update(
            status=status, outcome=reply, applied_at=timezone.now()
        )
    return pending, reply


def _stop_trading(user, pending):
    close = bool(pending.params.get("close_positions"))
    stop_trading(user, close_positions=close)
    text = "Trading stopped: your bots are paused and their open orders canceled."
    if close:
        text += " Their open positions are being closed at market."
    return text, CommandStatus.APPLIED


def _execute(user, pending):
    """Apply the action; returns (reply text, CommandStatus)."""
    if pending.action_type == PendingAction.TRADING_STOP:
        return _stop_trading(user, pending)
    bots = {str(b.id): b for b in Bot.objects.owned_by(user).filter(id__in=pending.bot_ids)}
    ordered = [bots[i] for i in pending.bot_ids if i in bots]
    gone = len(pending.bot_ids) - len(ordered)
    done, skipped, failed = [], [], []
    for bot in ordered:
        try:
            outcome = _apply(user, pending, bot)
        except AmarktaiError as exc:
            failed.append(f"{bot.name} ({exc.message})")
            continue
        (done if outcome else skipped).append(outcome or bot.name)
    parts = []
    verb = {
        PendingAction.PAUSE: "Paused",
        PendingAction.RESUME: "Resumed",
        PendingAction.STOP: "Stopped",
        PendingAction.RISK_MODE: f"Switched to {pending.params.get('risk_mode')} mode:",
        PendingAction.POSITION_SIZE: "Position size updated:",
        PendingAction.CLOSE_POSITION: "Closed the open position of",
        PendingAction.STOP_LOSS: "Stop loss set:",
        PendingAction.TAKE_PROFIT: "Take profit set:",
    }[pending.action_type]
    if done:
        parts.append(f"{verb} {', '.join(done)}.")
    if skipped:
        parts.append(f"No change needed for {', '.join(skipped)}.")
    if failed:
        parts.append(f"Could not update {', '.join(failed)}.")
    if gone:
        parts.append(f"{gone} bot(s) no longer exist.")
    if done and (failed or gone):
        status = CommandStatus.PARTIAL
    elif done:
        status = CommandStatus.APPLIED
    elif failed or gone:
        status = CommandStatus.FAILED
    else:
        status = CommandStatus.NO_CHANGE
    return " ".join(parts) or "Nothing to do.", status


def _apply(user, pending, bot):
    """Apply the action to one bot; returns a label of what changed, or "" when it was already in that state."""
    kind = pending.action_type
    if kind == PendingAction.PAUSE:
        if bot.status == BotStatus.PAUSED or bot.status == BotStatus.STOPPED:
            return ""
        bot_services.pause_bot(user, bot.id)
        return bot.name
    if kind == PendingAction.RESUME:
        if bot.status == BotStatus.ACTIVE:
            return ""
        bot_services.resume_bot(user, bot.id)
        return bot.name
    if kind == PendingAction.STOP:
        with transaction.atomic():
            locked = access_bot(user, bot.id, lock=True)
            if locked.status == BotStatus.STOPPED:
                return ""
            bot_services.set_status(locked, BotStatus.STOPPED)
        return bot.name
    if kind == PendingAction.RISK_MODE:
        mode = pending.params["risk_mode"]
        if bot.risk_mode == mode:
            return ""
        bot_services.update_bot(user, bot.id, {"risk_mode": mode})
        return bot.name
    if kind == PendingAction.POSITION_SIZE:
        # Position size is not a strategy parameter (bots.services.update_bot only accepts those), so it is stored on
        # the bot directly as params["position_pct"] (a fraction of capital) under the same row lock and event.
        with transaction.atomic():
            locked = access_bot(user, bot.id, lock=True)
            before = current_position_pct(locked)
            after = new_position_pct(locked, pending.params)
            if after == before:
                return ""
            locked.params = {**(locked.params or {}), "position_pct": float(after / 100)}
            locked.save(update_fields=["params", "updated_at"])
            bot_services.publish_bot(locked)
        return f"{bot.name} {before.normalize():f}% → {after.normalize():f}% of capital"
    if kind == PendingAction.CLOSE_POSITION:
        try:
            order, _position = bot_services.exit_bot(user, bot.id)
        except AmarktaiError as exc:
            if exc.error_code == "POSITION_CLOSED":
                return ""  # closed meanwhile (by its strategy or by hand): nothing left to do
            raise
        return f"{bot.name} (sold {order.amount.normalize():f} {bot.symbol.split('/')[0]} at market)"
    if kind in (PendingAction.STOP_LOSS, PendingAction.TAKE_PROFIT):
        field = "stop_loss" if kind == PendingAction.STOP_LOSS else "take_profit"
        prices = pending.params.get("prices") or {}
        if str(bot.id) not in prices:
            return ""
        price = Decimal(prices[str(bot.id)])
        bot_services.set_position_limits(user, bot.id, **{field: price})
        return f"{bot.name} at {price:,.2f}"
    raise ValidationFailed(f"Unknown action {kind}")  # pragma: no cover
