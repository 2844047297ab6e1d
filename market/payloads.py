"""Response shapes of the market app."""

from amarktai.utils import iso, money
from market.models import Instrument


def instrument_payload(instrument: Instrument) -> dict:
    return {
        "id": str(instrument.id),
        "exchange": instrument.exchange,
        "symbol": instrument.symbol,
        "notes": instrument.notes,
        "alert_above": money(instrument.alert_above),
        "alert_below": money(instrument.alert_below),
        "alert_above_fired_at": iso(instrument.alert_above_fired_at),
        "alert_above_fired_price": money(instrument.alert_above_fired_price),
        "alert_below_fired_at": iso(instrument.alert_below_fired_at),
        "alert_below_fired_price": money(instrument.alert_below_fired_price),
        "created_at": iso(instrument.created_at),
        "updated_at": iso(instrument.updated_at),
    }
