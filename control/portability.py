"""Export and import of a user's whole set-up as one versioned JSON document:

    {"version": 1, "exported_at": "...Z", "config": {section: values}, "bots": [...], <other parts>}

The document is built from parts registered here (``register``); each part says how to export itself, how to validate
an incoming copy without touching the database, and how to apply it. Built in: ``config`` (the user sections) and
``bots`` (name, market, mode, strategy, params, capital: never ids, status, P&L or keys) and ``instruments`` (the watch
list: market, notes, alert levels). Another part (e.g. account groups) is added with ``register(Part(...))``.

Import: (1) the whole document is validated first, every part, no database access beyond reads; every fault is
reported at once with its path (``bots[1].initial_capital``) and nothing changes; (2) every part is applied in one
transaction: a rule that only the database can check (the capital a paper account still has, a platform's bot limit)
rolls back everything and names its field the same way. ``dry_run`` runs both steps and rolls back: the answer lists
what would be created, updated or left unchanged. Imported bots arrive paused; secrets and other users' ids are never
part of a document (unknown fields are refused).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from rest_framework import serializers

from amarktai.api import StrictDecimalField
from amarktai.errors import AmarktaiError, ValidationFailed
from amarktai.utils import iso_now
from bots.models import Bot, BotStatus, RiskMode, TradingMode
from bots.strategies import STRATEGIES
from control.sections import StrictSectionSerializer

VERSION = 1
MAX_ITEMS = 500


@dataclass(frozen=True)
class Part:
    """One part of the document. ``validate(user, data)`` returns (clean data, {path: [messages]}) and must not
    write; ``apply(user, clean)`` writes (inside the import's transaction) and returns diff items
    ``{"kind", "key", "action": "created"|"updated"|"unchanged", "changes": [field, ...]}`` (bots: plus ``"kept"``, the
    fields an existing bot of the same name keeps although the document differs)."""

    key: str
    export: Callable[[Any], Any]
    validate: Callable[[Any, Any], tuple[Any, dict]]
    apply: Callable[[Any, Any], list[dict]]


_parts: dict[str, Part] = {}


def register(part: Part) -> None:
    _parts[part.key] = part


def parts() -> list[Part]:
    return list(_parts.values())


# ------------------------------------------------------------------ errors


def _drf_errors(prefix: str, detail: Any) -> dict:
    """DRF's nested error detail as flat {"prefix.field": [messages]}."""
    if isinstance(detail, dict):
        out: dict = {}
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            out.update(_drf_errors(name, value))
        return out
    if isinstance(detail, list) and detail and all(not isinstance(d, (dict, list)) for d in detail):
        return {prefix: [str(d) for d in detail]}
    if isinstance(detail, list):
        out = {}
        for index, value in enumerate(detail):
            if value:
                out.update(_drf_errors(f"{prefix}[{index}]", value))
        return out
    return {prefix: [str(detail)]}


# ------------------------------------------------------------------ the config part


def _export_config(user: Any) -> dict:
    from control import services

    return services.full_config(user)["user"]


def _validate_config(user: Any, data: Any) -> tuple[Any, dict]:
    from control import sections

    if not isinstance(data, dict):
        return None, {"config": ["Expected an object of sections."]}
    errors: dict = {}
    clean = {}
    for name, values in data.items():
        spec = sections.SECTIONS.get(name)
        if spec is None or spec.admin_only:
            errors[f"config.{name}"] = ["Unknown section."]
            continue
        try:
            clean[name] = sections.validate(name, {}, values)
        except serializers.ValidationError as exc:
            errors.update(_drf_errors(f"config.{name}", exc.detail))
    return clean, errors


def _apply_config(user: Any, clean: dict) -> list[dict]:
    from control import services

    items = []
    for name, values in clean.items():
        before = services.section_values(user, name)
        changes = sorted(k for k in values if before.get(k) != values[k])
        if changes:
            services.write_section(user, name, values)
        items.append(
            {"kind": "config", "key": name, "action": "updated" if changes else "unchanged", "changes": changes}
        )
    return items


# ------------------------------------------------------------------ the bots part

BOT_FIELDS = ("name", "exchange", "symbol", "timeframe", "trading_mode", "risk_mode", "strategy", "params")
UPDATABLE = ("risk_mode", "strategy", "params")  # what an import changes on a bot of the same name
FIXED = ("exchange", "symbol", "timeframe", "trading_mode")  # what it never changes there


class BotDocument(StrictSectionSerializer):
    name = serializers.CharField(max_length=100)
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    timeframe = serializers.RegexField(r"^[0-9]{1,3}[mhdw]$", max_length=8, default="1m")
    trading_mode = serializers.ChoiceField(choices=TradingMode.values, default=TradingMode.PAPER)
    risk_mode = serializers.ChoiceField(choices=RiskMode.values, default=RiskMode.BALANCED)
    strategy = serializers.ChoiceField(choices=sorted(STRATEGIES))
    params = serializers.DictField(required=False, default=dict)
    initial_capital = StrictDecimalField(max_digits=20, decimal_places=8, min_value=0)


def _export_bots(user: Any) -> list[dict]:
    return [
        {**{f: getattr(bot, f) for f in BOT_FIELDS}, "initial_capital": str(bot.initial_capital)}
        for bot in Bot.objects.owned_by(user).order_by("created_at")
    ]


def _validate_bots(user: Any, data: Any) -> tuple[Any, dict]:
    from bots.services import _validate_params
    from trading.platforms import get_platform

    if not isinstance(data, list):
        return None, {"bots": ["Expected a list of bots."]}
    if len(data) > MAX_ITEMS:
        return None, {"bots": [f"At most {MAX_ITEMS} bots."]}
    errors: dict = {}
    clean = []
    names: set[str] = set()
    for index, item in enumerate(data):
        path = f"bots[{index}]"
        serializer = BotDocument(data=item)
        if not serializer.is_valid():
            errors.update(_drf_errors(path, serializer.errors))
            continue
        bot = dict(serializer.validated_data)
        bot["name"] = bot["name"].strip()
        if not bot["name"]:
            errors[f"{path}.name"] = ["This field may not be blank."]
        elif bot["name"].lower() in names:
            errors[f"{path}.name"] = ["Two bots in the document have this name."]
        names.add(bot["name"].lower())
        platform = get_platform(bot["exchange"])
        if platform is None or not platform.enabled:
            errors[f"{path}.exchange"] = ["Unknown exchange."]
        elif bot["symbol"].upper() not in platform.symbols:
            errors[f"{path}.symbol"] = [f"{platform.name} bots can trade: {', '.join(platform.symbols)}"]
        try:
            bot["params"] = _validate_params(bot["strategy"], bot["params"])
        except ValidationFailed as exc:
            errors[f"{path}.params"] = [exc.message]
        clean.append(bot)
    return clean, errors


def _apply_bots(user: Any, clean: list[dict]) -> list[dict]:
    from bots.services import create_bot, set_status, update_bot

    existing = {b.name.lower(): b for b in Bot.objects.owned_by(user)}
    items = []
    for index, data in enumerate(clean):
        path = f"bots[{index}]"
        found = existing.get(data["name"].lower())
        try:
            if found is None:
                bot = create_bot(user, **data)
                if bot.status != BotStatus.PAUSED or bot.pause_origin:
                    set_status(bot, BotStatus.PAUSED)  # imported bots wait, paused, for their owner
                items.append({"kind": "bot", "key": data["name"], "action": "created", "changes": []})
                continue
            changes = [f for f in UPDATABLE if getattr(found, f) != data[f]]
            if changes:
                update_bot(user, found.pk, {f: data[f] for f in changes})
            kept = [f for f in FIXED if str(getattr(found, f)).upper() != str(data[f]).upper()]
            item = {
                "kind": "bot",
                "key": data["name"],
                "action": "updated" if changes else "unchanged",
                "changes": changes,
            }
            if kept:  # an existing bot keeps its market and mode: say where the document differs from it
                item["kept"] = kept
            items.append(item)
        except AmarktaiError as exc:
            fields = (exc.details or {}) if isinstance(exc.details, dict) else {}
            details = {f"{path}.{k}": v if isinstance(v, list) else [str(v)] for k, v in fields.items()}
            raise ValidationFailed(f"{path}: {exc.message}", details=details or {path: [exc.message]}) from exc
    return items


class InstrumentDocument(StrictSectionSerializer):
    exchange = serializers.CharField(max_length=32)
    symbol = serializers.CharField(max_length=32)
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    alert_above = StrictDecimalField(max_digits=24, decimal_places=8, required=False, allow_null=True, default=None)
    alert_below = StrictDecimalField(max_digits=24, decimal_places=8, required=False, allow_null=True, default=None)


INSTRUMENT_FIELDS = ("notes", "alert_above", "alert_below")


def _export_instruments(user: Any) -> list[dict]:
    from market.models import Instrument

    return [
        {
            "exchange": item.exchange,
            "symbol": item.symbol,
            "notes": item.notes,
            "alert_above": None if item.alert_above is None else str(item.alert_above),
            "alert_below": None if item.alert_below is None else str(item.alert_below),
        }
        for item in Instrument.objects.owned_by(user).order_by("exchange", "symbol")
    ]


def _validate_instruments(user: Any, data: Any) -> tuple[Any, dict]:
    from market.services import MAX_INSTRUMENTS, _check_levels, _market

    if not isinstance(data, list):
        return None, {"instruments": ["Expected a list of instruments."]}
    if len(data) > MAX_INSTRUMENTS:
        return None, {"instruments": [f"At most {MAX_INSTRUMENTS} instruments."]}
    errors: dict = {}
    clean = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(data):
        path = f"instruments[{index}]"
        serializer = InstrumentDocument(data=item)
        if not serializer.is_valid():
            errors.update(_drf_errors(path, serializer.errors))
            continue
        row = dict(serializer.validated_data)
        try:  # reads only: the platform's markets and the levels' rules, the same checks as POST /api/instruments
            row["exchange"], row["symbol"] = _market(user, row["exchange"], row["symbol"])
            _check_levels(row["alert_above"], row["alert_below"])
        except ValidationFailed as exc:
            fields = exc.details if isinstance(exc.details, dict) else {}
            errors.update({f"{path}.{k}": v if isinstance(v, list) else [str(v)] for k, v in fields.items()})
            continue
        if (row["exchange"], row["symbol"]) in seen:
            errors[f"{path}.symbol"] = ["Two instruments in the document are the same market."]
        seen.add((row["exchange"], row["symbol"]))
        clean.append(row)
    return clean, errors


def _apply_instruments(user: Any, clean: list[dict]) -> list[dict]:
    from market.models import Instrument
    from market.services import create_instrument, update_instrument

    existing = {(i.exchange, i.symbol): i for i in Instrument.objects.owned_by(user)}
    items = []
    for index, row in enumerate(clean):
        key = f"{row['exchange']} {row['symbol']}"
        found = existing.get((row["exchange"], row["symbol"]))
        try:
            if found is None:
                create_instrument(user, **row)
                items.append({"kind": "instrument", "key": key, "action": "created", "changes": []})
                continue
            changes = [f for f in INSTRUMENT_FIELDS if getattr(found, f) != row[f]]
            if changes:
                update_instrument(user, found.pk, {f: row[f] for f in changes})
            action = "updated" if changes else "unchanged"
            items.append({"kind": "instrument", "key": key, "action": action, "changes": changes})
        except AmarktaiError as exc:
            path = f"instruments[{index}]"
            raise ValidationFailed(f"{path}: {exc.message}", details={path: [exc.message]}) from exc
    return items


def register_builtin_parts() -> None:
    register(Part("config", _export_config, _validate_config, _apply_config))
    register(Part("bots", _export_bots, _validate_bots, _apply_bots))
    register(Part("instruments", _export_instruments, _validate_instruments, _apply_instruments))


# ------------------------------------------------------------------ export / import


def export_document(user: Any) -> dict:
    return {"version": VERSION, "exported_at": iso_now(), **{part.key: part.export(user) for part in parts()}}


class _DryRun(Exception):
    pass


def import_document(user: Any, document: Any, *, dry_run: bool = False) -> dict:
    """Validate the whole document, then apply it in one transaction (rolled back for a dry run). Returns
    {"dry_run", "applied", "items": [diff item, ...], "summary": {"created", "updated", "unchanged"}}."""
    if not isinstance(document, dict):
        raise ValidationFailed("The document must be a JSON object", details={"document": ["Expected an object."]})
    errors: dict = {}
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        errors["version"] = [f"Unsupported version {version!r}: this server reads version {VERSION}."]
    known = {part.key for part in parts()} | {"version", "exported_at"}
    for key in sorted(set(document) - known):
        errors[key] = ["Unknown part of the document."]
    cleaned = {}
    for part in parts():
        if part.key not in document:
            continue
        clean, part_errors = part.validate(user, document[part.key])
        errors.update(part_errors)
        cleaned[part.key] = clean
    if errors:
        first = next(iter(errors.items()))
        raise ValidationFailed(
            f"The document is invalid ({len(errors)} fault(s)); nothing was changed. {first[0]}: {first[1][0]}",
            details=errors,
        )
    items: list[dict] = []
    try:
        with transaction.atomic():
            for part in parts():
                if part.key in cleaned:
                    items.extend(part.apply(user, cleaned[part.key]))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    if not dry_run:
        from accounts.admin_api import audit

        audit(user, "config.import", "config", "", {"items": items})
    summary = {action: sum(1 for i in items if i["action"] == action) for action in ("created", "updated", "unchanged")}
    return {"dry_run": dry_run, "applied": not dry_run, "items": items, "summary": summary}
