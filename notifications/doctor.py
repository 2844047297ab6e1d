"""notifications' checks for ``manage.py doctor`` (realtime.doctor): the Telegram bot answers getMe with the configured
token, and the configured FIELD_ENCRYPTION_KEY(s) open the newest stored webhook secret (never shown)."""

from notifications import transport
from notifications.kinds import ChannelKind
from notifications.models import Channel
from realtime.doctor import FAIL, OK, SKIP, WARN, Result
from wallets.crypto import DecryptionFailed, decrypt


def check_telegram() -> Result:
    if not transport.telegram_configured():
        return Result("telegram", SKIP, "TELEGRAM_BOT_TOKEN is not set: no Telegram notifications")
    username = transport.telegram_bot_username()
    if not username:
        return Result("telegram", WARN, "the Bot API did not answer getMe with this token (TELEGRAM_API_BASE, token)")
    return Result("telegram", OK, f"bot @{username}")


def check_webhook_secrets() -> Result:
    sample = Channel.objects.filter(kind=ChannelKind.WEBHOOK).exclude(secret_enc="").order_by("-updated_at").first()
    if sample is None:
        return Result("webhook secrets", SKIP, "no webhook channel")
    try:
        decrypt(sample.secret_enc)  # the plaintext is dropped at once
    except DecryptionFailed:
        return Result(
            "webhook secrets",
            FAIL,
            f"channel {sample.pk}'s secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY(s)",
        )
    return Result("webhook secrets", OK, "the newest webhook secret decrypts")
