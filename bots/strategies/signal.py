"""The signal strategy: no indicator. The bot trades only when an alert arrives on its secret webhook URL
(POST /api/webhooks/{token}, bots.webhooks); the engine's ticks leave it alone."""

from bots.strategies.base import Strategy


class SignalStrategy(Strategy):
    """Trades on TradingView or ChartInk alerts sent to the bot's secret webhook URL: buy opens a position, sell or
    close sells it."""

    name = "signal"
    title = "Signal (webhook)"
    kind = "webhook"
    PARAMS: dict = {}  # only the common position_pct (bots.strategies.params.COMMON)

    def decide(self, candles, position=None, params=None, risk_mode="balanced"):
        return None  # alerts, not candles, decide

    def entry(self, data, params):
        return None

    def exit_signal(self, data, position, params):
        return None
