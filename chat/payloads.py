"""Response shapes of the chat app (contract: AI Chat): the assistant's reply, a proposed action, a history message,
the greeting and its daily report."""

from django.utils import timezone

from amarktai.utils import iso
from chat.models import ChatMessage, CommandRecord, CommandStatus, PendingAction


def message_payload(message: ChatMessage) -> dict:
    return {"role": message.role, "content": message.content, "timestamp": iso(message.created_at)}


def action_payload(pending: PendingAction, token: str) -> dict:
    """A proposed action: the only place its raw confirmation token is ever shown."""
    return {
        "type": pending.action_type,
        "description": pending.description,
        "bot_ids": pending.bot_ids,
        "confirmation_token": token,
        "expires_at": iso(pending.expires_at),
    }


def reply_payload(text: str, actions: list[dict] | None = None) -> dict:
    """The assistant's answer: its text and the actions (action_payload) waiting for confirmation, if any."""
    return {"response": text, "requires_confirmation": bool(actions), "actions": actions or []}


def daily_report_payload(summary: str, highlights: list[str]) -> dict:
    return {"summary": summary, "highlights": highlights}


def greeting_payload(greeting: str, daily_report: dict) -> dict:
    return {"greeting": greeting, "daily_report": daily_report}


def command_status(record: CommandRecord) -> str:
    """A proposed command whose token has expired unconfirmed is "expired"."""
    action = record.action
    if (
        record.status == CommandStatus.PROPOSED
        and action is not None
        and action.consumed_at is None
        and action.expires_at <= timezone.now()
    ):
        return "expired"
    return record.status


def command_payload(record: CommandRecord) -> dict:
    """One entry of GET /api/commands/history."""
    return {
        "id": str(record.id),
        "prompt": record.prompt,
        "command_type": record.command_type or None,
        "description": record.description,
        "status": command_status(record),
        "outcome": record.outcome,
        "timestamp": iso(record.created_at),
        "expires_at": iso(record.action.expires_at) if record.action is not None else None,
        "applied_at": iso(record.applied_at),
    }
