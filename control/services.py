"""Configuration and system control (the control app's rules; views stay thin).

Configuration: a user's sections (control.sections) are stored in accounts.UserConfig, one row per section, written
only here. Every write is validated as a whole, drops the cached copy the engine reads (accounts.selectors
.config_section), is audited and published as config_update.

System control (admins): start/stop/restart of the bot engine platform-wide through the trading layer's switch
(trading.system), audited and broadcast to every connection as system_status.
"""

from typing import Any

from django.db import transaction
from rest_framework import serializers

from accounts.admin_api import audit
from accounts.models import UserConfig
from accounts.selectors import config_cache_key, config_sections
from amarktai import cache
from amarktai.errors import NotFound, ValidationFailed
from control import sections
from realtime import events
from trading import system
from trading.models import SystemStatus

# ------------------------------------------------------------------ configuration


def _section_or_404(user: Any, section: str) -> sections.Section:
    spec = sections.SECTIONS.get(section)
    if spec is None or (spec.admin_only and not user.is_admin):
        raise NotFound(f"Unknown configuration section {section!r}")
    return spec


def section_values(user: Any, section: str, stored: dict | None = None) -> dict:
    """One section as the user sees it: the defaults overlaid with what they stored."""
    spec = _section_or_404(user, section)
    if spec.reader is not None:
        return spec.reader()
    saved = config_sections(user).get(section, {}) if stored is None else stored
    known = {k: v for k, v in saved.items() if k in spec.defaults()}
    return {**spec.defaults(), **known}


def full_config(user: Any) -> dict:
    """Every section the user may see: {"user": {section: values}, "platform": {...} (admins only)}."""
    stored = config_sections(user)
    out: dict[str, dict] = {"user": {}, "platform": {}}
    for name in sections.visible(user):
        spec = sections.SECTIONS[name]
        out["platform" if spec.admin_only else "user"][name] = section_values(user, name, stored.get(name, {}))
    if not user.is_admin:
        del out["platform"]
    return out


def _validated(section: str, stored: dict, changes: Any, prefix: str = "") -> dict:
    try:
        return sections.validate(section, stored, changes)
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        details = {f"{prefix}{k}": [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
        first = next(iter(details.items()))
        raise ValidationFailed(f"{first[0]}: {first[1][0]}", details=details) from exc


def write_section(user: Any, section: str, values: dict) -> bool:
    """Store one validated section; True if it changed. Inside the caller's transaction."""
    row = UserConfig.objects.owned_by(user).select_for_update().filter(section=section).first()
    if row is not None and row.values == values:
        return False
    if row is None:
        UserConfig.objects.create(user=user, section=section, values=values)
    else:
        row.values = values
        row.save(update_fields=["values", "updated_at"])
    key = config_cache_key(user.pk, section)
    cache.delete_many([key])
    transaction.on_commit(lambda: cache.delete_many([key]))
    events.publish(user.pk, events.CONFIG_UPDATE, {"section": section, "values": values})
    return True


def update_section(user: Any, section: str, changes: Any) -> dict:
    """PUT /api/config/{section}: merge ``changes`` over the stored values, validate the whole section (field errors),
    store, audit and publish config_update. Returns the section's values."""
    spec = _section_or_404(user, section)
    if spec.read_only:
        raise ValidationFailed(
            f"The {section} section is read-only: it is set in the environment",
            details={"section": [f"{section} is read-only"]},
        )
    with transaction.atomic():
        stored = config_sections(user).get(section, {})
        values = _validated(section, stored, changes)
        if write_section(user, section, values):
            audit(user, "config.update", "config", section, {"section": section, "changes": changes})
    return values


# ------------------------------------------------------------------ system control (admins)

ACTIONS = {"start", "stop", "restart"}


def system_status(user: Any) -> dict:
    """The platform's trading switch; who changed it is shown to admins only."""
    state = system.current()
    return state.as_dict() if user.is_admin else state.public()


def control_system(actor: Any, action: str, reason: str = "") -> dict:
    """Start, stop or restart the bot engine platform-wide (``actor`` is an admin: the view checks). stop: no tick
    starts and no order is accepted anywhere until start (ticks already running finish); the state is persisted, so
    restarted processes stay stopped. restart: stop and start again in one step (the dispatcher's next round picks
    every due bot up afresh). Idempotent; every call is audited and broadcast as system_status."""
    if action not in ACTIONS:
        raise ValidationFailed(f"Unknown action {action!r}", details={"action": [f"one of {sorted(ACTIONS)}"]})
    with transaction.atomic():
        previous = system.current().status
        status = SystemStatus.STOPPED if action == "stop" else SystemStatus.RUNNING
        state = system.set_state(status, actor_email=actor.email, reason=reason, restart=action == "restart")
        audit(
            actor, f"system.{action}", "system", "trading", {"previous": previous, "status": status, "reason": reason}
        )
        events.broadcast(events.SYSTEM_STATUS, state.public())
    return {**state.as_dict(), "previous_status": previous}
