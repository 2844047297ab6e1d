import hashlib
import secrets
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from amarktai import cache
from amarktai.tenancy import OwnedQuerySet


def user_cache_key(user_id):
    """The cache key of a user's cached copy (accounts.authentication keeps it; every change to the user drops it)."""
    return f"auth:user:{user_id}"


class SystemMode(models.TextChoices):
    TESTING = "testing", "Testing (paper trading)"
    LIVE_TRADING = "live_trading", "Live trading"
    AUTOPILOT = "autopilot", "Autopilot"


LIVE_MODES = {SystemMode.LIVE_TRADING, SystemMode.AUTOPILOT}  # the modes that trade real funds

# The currencies a user may choose as base currency (User.currency): every aggregate is converted into it
# (trading.valuation), so only currencies the markets can price are offered.
BASE_CURRENCIES = ("ZAR", "USD", "USDT")


class ApiKeyScope(models.TextChoices):
    """What an API key may do. ``read``: every GET/HEAD/OPTIONS and the event feeds (WebSocket, SSE). ``trade``: the
    writes (orders, bots, transfers, the assistant's actions); it implies ``read``. Managing credentials, 2FA, API keys,
    the password and the system mode is never open to an API key, whatever its scopes (accounts.permissions)."""

    READ = "read", "Read"
    TRADE = "trade", "Trade"


def default_api_key_scopes():
    """A new key reads only unless its creator asks for more."""
    return [ApiKeyScope.READ.value]


def normalize_scopes(scopes):
    """The scopes as stored: known values only, ``trade`` implying ``read``, in a fixed order."""
    chosen = set(scopes or default_api_key_scopes())
    if ApiKeyScope.TRADE in chosen:
        chosen.add(ApiKeyScope.READ)
    return [value for value in ApiKeyScope.values if value in chosen]


class UserQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """Queryset updates skip save() signals: drop the cached copies of the users they change."""
        ids = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        cache.delete_many([user_cache_key(pk) for pk in ids])
        return count


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("email is required")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_admin", False)
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_admin=True, is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    currency = models.CharField(max_length=8, default="ZAR")
    system_mode = models.CharField(max_length=20, choices=SystemMode.choices, default=SystemMode.TESTING)
    is_admin = models.BooleanField(default=False, help_text="Platform admin: sees and pauses every user's bots.")
    is_staff = models.BooleanField(default=False, help_text="May log in to the Django admin site.")
    is_active = models.BooleanField(default=True)
    two_factor_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    tokens_valid_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Sessions (JWTs) started before this moment are refused: set by log out everywhere, password change "
        "and password reset.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["created_at"]
        # GET /api/admin/users pages on (created_at, id) by keyset (accounts.selectors.all_users).
        indexes = [models.Index(fields=["created_at", "id"], name="user_created")]

    def __str__(self):
        return self.email


class ApiKey(models.Model):
    """A programmatic key. Only a SHA-256 of the secret is stored; the key is shown once, at creation."""

    PREFIX = "amk_"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=default_api_key_scopes, help_text="ApiKeyScope values: read, trade.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from this moment on; empty: never.")

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash(raw_key):
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def generate(cls, user, name, scopes=None, expires_at=None):
        """Create a key; returns (ApiKey, raw_key). The raw key is never stored."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            user=user,
            name=name,
            key_prefix=raw[:12],
            key_hash=cls.hash(raw),
            scopes=normalize_scopes(scopes),
            expires_at=expires_at,
        )
        return key, raw

    @property
    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self):
        return self.revoked_at is None and not self.is_expired

    def has_scope(self, scope):
        return scope in (self.scopes or ())


class InviteCode(models.Model):
    code = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    used_by = models.OneToOneField(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite")
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.code


class AuditLog(models.Model):
    """One row per action taken through the admin API (who did what to which object). Never edited after creation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="audit_actions")
    actor_email = models.EmailField(blank=True, help_text="Kept when the actor account is deleted.")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_email} {self.action} {self.target_type}:{self.target_id}"
        )


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an ``Idempotency-Key`` header (accounts.idempotency): a retry with the same
    key and the same request gets this answer again instead of doing the write twice. Kept for 24 hours."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body (canonical JSON).")
    # Written in the same transaction as the write itself, so no other request ever sees them empty.
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True, help_text="The response body, replayed as it was.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key_per_user")]

    def __str__(self):
        return f"{self.method} {self.path} [{self.key}] -> {self.status_code}"


class UserConfig(models.Model):
    """One section of a user's configuration (control app: risk, notifications, trading), as validated JSON. Stored at
    this layer so the bot engine can read the risk section (accounts.selectors.config_section) without importing the
    app that validates and serves it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="config_sections")
    section = models.CharField(max_length=32)
    values = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "section"], name="uniq_user_config_section")]

    def __str__(self):
        return f"{self.user_id} {self.section}"


class BackupCode(models.Model):
    """A single-use two-factor backup code (accounts.services.generate_backup_codes). Only a keyed hash is stored
    (HMAC-SHA256 under SECRET_KEY, salted with the user's id): the codes are shown once, when generated. (django-otp's
    otp_static device would keep them in plain text, hence this model.)"""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True, help_text="When it was spent; a used code never works again.")

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"backup code of {self.user_id} ({'used' if self.used_at else 'unused'})"
