"""A bot's capital and P&L follow its fills. Registered with trading.fills by BotsConfig.ready(): trading books the
trade and the position, this books the bot's side in the same transaction and tells the owner.

After each fill the owner gets (once committed) a per-bot pnl_update (``scope: "bot"``, the bot's own figures in its
quote currency), an account-level pnl_update (``scope: "account"``, the seed's shape: total and daily P&L and open
positions, in the user's base currency) and an overview_update."""

import logging

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest

from amarktai.utils import money
from bots.models import Bot
from bots.selectors import account_pnl, account_totals, overview
from realtime import events
from trading.models import Order, Trade
from trading.valuation import quote_of

logger = logging.getLogger(__name__)


class BotFillListener:
    def before_fill(self, order: Order) -> None:
        if order.bot_id:
            Bot.objects.select_for_update().filter(pk=order.bot_id).first()

    def after_fill(self, trade: Trade) -> None:
        user_id = trade.user_id
        if trade.bot_id:
            if trade.profit_loss:
                Bot.objects.filter(pk=trade.bot_id).update(
                    total_profit=F("total_profit") + trade.profit_loss,
                    current_capital=F("current_capital") + trade.profit_loss,
                )
                if trade.profit_loss > 0:  # the max-drawdown protection measures from the highest capital
                    Bot.objects.filter(pk=trade.bot_id).update(
                        peak_capital=Greatest(Coalesce(F("peak_capital"), F("initial_capital")), F("current_capital"))
                    )
            bot = (
                Bot.objects.filter(pk=trade.bot_id)
                .only("id", "user_id", "total_profit", "current_capital", "initial_capital")
                .first()
            )
            if bot is not None:
                events.publish(
                    user_id,
                    events.PNL_UPDATE,
                    {
                        "scope": "bot",
                        "bot_id": str(bot.pk),
                        "currency": quote_of(trade.symbol),
                        "total_profit": money(bot.total_profit),
                        "current_capital": money(bot.current_capital),
                        "profit_percentage": money(bot.profit_percentage, 4),
                    },
                )
        transaction.on_commit(lambda: _account_events(user_id))


def _account_events(user_id: object) -> None:
    """The account-level figures after a fill (sent once the fill is committed; the fill stands whatever happens
    here, so a failure to build them is logged, never raised into the fill's caller)."""
    try:
        acct = account_totals(user_id)
        pnl, figures = account_pnl(user_id, acct), overview(user_id, acct)
    except Exception:
        logger.exception("could not compute the account figures of user %s after a fill", user_id)
        return
    events.send_now(user_id, events.PNL_UPDATE, pnl)
    events.send_now(user_id, events.OVERVIEW_UPDATE, figures)


listener = BotFillListener()
