import json
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from amarktai.tenancy import OwnedQuerySet

ZERO = Decimal("0")


ACCOUNT_MODES = ("live", "paper")


class ExchangeCredential(models.Model):
    """A user's trading account on one platform (GET /api/accounts): a live account's API keys, or a paper account
    (``trading_mode`` "paper": no keys, its own simulated balances in trading.PaperBalance rows with ``account`` set).
    Key, secret and passphrase are stored only Fernet-encrypted (wallets.crypto); ``last4`` of the key is kept in clear
    for masking. Several accounts per platform are allowed; ``label`` is the account's name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_credentials")
    platform = models.CharField(max_length=32, db_index=True)
    label = models.CharField(max_length=64, blank=True)
    api_key_enc = models.TextField()
    api_secret_enc = models.TextField()
    passphrase_enc = models.TextField(blank=True, default="")
    # The platform's extra credential fields (trading.platforms.CredentialField: a broker's client code, TOTP
    # secret, gateway URL, paper/live...), one encrypted JSON object.
    extras_enc = models.TextField(blank=True, default="")
    # A broker's login session (mStock's access token), encrypted; "" when none is held.
    session_enc = models.TextField(blank=True, default="")
    # Keys for the exchange's sandbox/testnet (Platform.supports_testnet).
    testnet = models.BooleanField(default=False)
    # What the keys may do, as the exchange reported when they were last tested: {"read", "trade", "withdraw"}.
    permissions = models.JSONField(null=True, blank=True, default=None)
    # The user stored keys that can withdraw knowingly (otherwise such keys are refused).
    withdraw_accepted = models.BooleanField(default=False)
    last4 = models.CharField(max_length=4, blank=True)
    # "live": trades on the exchange with the keys above; "paper": a simulated account of its own (no keys).
    trading_mode = models.CharField(
        max_length=5, choices=[(m, m) for m in ACCOUNT_MODES], default="live", db_index=True
    )
    # The account's health as its last connection test found it: keys_valid (None: never tested), when, and why not.
    keys_valid = models.BooleanField(null=True, default=None)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "platform"])]

    def __str__(self):
        return f"{self.platform} {self.label or ''} {self.masked_key}"

    def __repr__(self):
        return f"<ExchangeCredential {self.pk} {self.platform} {self.masked_key}>"

    # Decrypted on access only; the database holds ciphertext.
    @property
    def api_key(self):
        from wallets.crypto import decrypt

        return decrypt(self.api_key_enc)

    @api_key.setter
    def api_key(self, value):
        from wallets.crypto import encrypt

        value = (value or "").strip()
        self.api_key_enc = encrypt(value)
        self.last4 = value[-4:]

    @property
    def api_secret(self):
        from wallets.crypto import decrypt

        return decrypt(self.api_secret_enc)

    @api_secret.setter
    def api_secret(self, value):
        from wallets.crypto import encrypt

        self.api_secret_enc = encrypt((value or "").strip())

    @property
    def passphrase(self):
        from wallets.crypto import decrypt

        return decrypt(self.passphrase_enc)

    @passphrase.setter
    def passphrase(self, value):
        from wallets.crypto import encrypt

        self.passphrase_enc = encrypt((value or "").strip())

    @property
    def platform_id(self):
        return self.platform

    @property
    def is_paper(self):
        return self.trading_mode == "paper"

    @property
    def name(self):
        return self.label

    @property
    def extras(self):
        from wallets.crypto import decrypt

        return json.loads(decrypt(self.extras_enc)) if self.extras_enc else {}

    @extras.setter
    def extras(self, value):
        from wallets.crypto import encrypt

        self.extras_enc = encrypt(json.dumps(value or {}, sort_keys=True)) if value else ""

    @property
    def session(self):
        from wallets.crypto import decrypt

        return decrypt(self.session_enc) if self.session_enc else ""

    def save_session(self, session):
        """Keep a broker's login session (encrypted) for the next call; "" forgets it."""
        from wallets.crypto import encrypt

        self.session_enc = encrypt(session) if session else ""
        if self.pk is not None:
            type(self).objects.filter(pk=self.pk).update(session_enc=self.session_enc)

    @property
    def masked_key(self):
        return f"****{self.last4}" if self.last4 else "****"

    @property
    def has_passphrase(self):
        return bool(self.passphrase_enc)


TRANSFER_STATUSES = ("pending", "completed", "failed", "canceled")
FINAL_TRANSFER_STATUSES = ("completed", "failed", "canceled")


class Transfer(models.Model):
    """A requested movement of funds between providers. A ledger entry: never edited after creation (save() refuses
    updates); its status is the latest TransferEvent. "pending" is the only status that changes: to one of the final
    ones (completed, failed, canceled)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="transfers")
    from_provider = models.CharField(max_length=32)
    to_provider = models.CharField(max_length=32)
    currency = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=30, decimal_places=12)
    reason = models.CharField(max_length=64, blank=True, default="manual_allocation")
    # The amount is held on the source's paper account (trading.services.hold_paper_funds) while the transfer is
    # pending: released when it is canceled or fails, sent to the destination's paper account when it completes.
    # False for transfers out of live accounts (the exchange holds the money) and for those recorded before holds.
    held = models.BooleanField(default=False)
    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="transfer_amount_positive")]

    def __str__(self):
        return f"{self.amount} {self.currency} {self.from_provider} -> {self.to_provider} ({self.correlation_id})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("transfers are append-only: record a TransferEvent instead of editing")
        super().save(*args, **kwargs)


class TransferEvent(models.Model):
    """One status change of a transfer (append-only)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=[(s, s) for s in TRANSFER_STATUSES])
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"transfer {self.transfer_id}: {self.status}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("transfer events are append-only")
        super().save(*args, **kwargs)
