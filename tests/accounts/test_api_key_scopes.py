"""API keys can do only what their scopes allow, and never what a password can: a stolen key must not make itself
permanent (more keys), lock the owner out (2FA), go live (system mode), or touch credentials and sessions."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import ApiKey, User
from bots.models import Bot
from tests.helpers import assert_error

BOT = {"name": "Key Bot", "exchange": "luno", "initial_capital": 1000.0}


def key_client(api_client, user, scopes=None, **extra):
    _key, raw = ApiKey.generate(user, "script", scopes=scopes, **extra)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api_client


# Everything that could take the account over: (method, path, body). None of these may work with an API key, however
# broad its scopes.
PASSWORD_ONLY = [
    ("post", "/api/auth/api-keys", {"name": "backdoor", "scopes": ["read", "trade"]}),
    ("delete", "/api/auth/api-keys/{key_id}", None),
    ("post", "/api/auth/2fa/enroll", None),
    ("post", "/api/auth/2fa/verify", {"totp_code": "123456"}),
    ("post", "/api/system/mode", {"mode": "live_trading"}),
    ("post", "/api/keys", {"provider": "luno", "api_key": "attacker-key-1234", "api_secret": "attacker-secret-5678"}),
    ("patch", "/api/keys/{credential_id}", {"label": "pwned"}),
    ("delete", "/api/keys/{credential_id}", None),
    ("post", "/api/keys/test", {"credential_id": "{credential_id}"}),
    ("post", "/api/auth/password/change", {"old_password": "x", "new_password": "An0ther-Secret-pass"}),
    ("post", "/api/auth/logout-everywhere", None),
]


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.django_db
@pytest.mark.parametrize("method, path, body", PASSWORD_ONLY)
def test_a_full_scope_api_key_cannot_manage_credentials_2fa_keys_mode_or_sessions(api_client, user, method, path, body):
    from wallets.models import ExchangeCredential
    from wallets.services.credentials import create_credential

    credential = create_credential(user, "luno", "owner-api-key-1234", "owner-api-secret-5678", label="main")
    owners_key, _raw = ApiKey.generate(user, "owner's other key", scopes=["read", "trade"])
    client = key_client(api_client, user, scopes=["read", "trade"])
    ids = {"key_id": owners_key.pk, "credential_id": credential.pk}

    response = getattr(client, method)(_fill(path, ids), _fill(body, ids), format="json")

    body_json = assert_error(response, 403, "PERMISSION_DENIED")
    assert "password" in body_json["error"]
    user.refresh_from_db()
    assert user.system_mode == "testing" and user.two_factor_enabled is False and user.tokens_valid_after is None
    assert ApiKey.objects.filter(user=user).count() == 2 and ApiKey.objects.get(pk=owners_key.pk).revoked_at is None
    stored = ExchangeCredential.objects.get(pk=credential.pk)
    assert stored.label == "main" and stored.keys_valid is None
    assert ExchangeCredential.objects.filter(user=user).count() == 1
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert not TOTPDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_the_same_requests_work_with_a_password_session(auth_client, user):
    """The other side of the rule above: a JWT from login still does all of it."""
    created = auth_client.post("/api/auth/api-keys", {"name": "mine", "scopes": ["trade"]}, format="json")
    assert created.status_code == 201 and created.json()["api_key"]["scopes"] == ["read", "trade"]
    assert auth_client.post("/api/auth/2fa/enroll").status_code == 200
    stored = auth_client.post(
        "/api/keys", {"provider": "luno", "api_key": "k" * 12, "api_secret": "s" * 12}, format="json"
    )
    assert stored.status_code == 201


@pytest.mark.django_db
class TestScopes:
    def test_new_keys_read_only_by_default(self, auth_client, api_client, user):
        created = auth_client.post("/api/auth/api-keys", {"name": "reporting"}, format="json").json()["api_key"]
        assert created["scopes"] == ["read"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
        assert api_client.get("/api/bots").status_code == 200
        assert api_client.get("/api/auth/me").status_code == 200
        assert api_client.get("/api/auth/api-keys").status_code == 200  # reading its own list is harmless
        refused = assert_error(api_client.post("/api/bots", BOT, format="json"), 403, "PERMISSION_DENIED")
        assert refused["details"] == {"required_scope": ["trade"]}
        assert not Bot.objects.filter(user=user).exists()

    @pytest.mark.parametrize(
        "method, path, body",
        [
            ("post", "/api/bots", BOT),
            ("post", "/api/orders", {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "amount": 0.001}),
            (
                "post",
                "/api/wallet/transfer",
                {"from_provider": "luno", "to_provider": "valr", "amount": 1, "currency": "BTC"},
            ),
            ("post", "/api/ai/chat", {"message": "pause all bots"}),
            ("post", "/api/ai/chat/clear", None),
            ("post", "/api/chat/message", {"message": "hello"}),
        ],
    )
    def test_read_key_cannot_write(self, api_client, user, method, path, body):
        client = key_client(api_client, user, scopes=["read"])
        assert_error(getattr(client, method)(path, body, format="json"), 403, "PERMISSION_DENIED")

    def test_trade_key_trades(self, api_client, user):
        client = key_client(api_client, user, scopes=["trade"])
        created = client.post("/api/bots", BOT, format="json")
        assert created.status_code == 201
        bot_id = created.json()["bot"]["id"]
        assert client.post(f"/api/bots/{bot_id}/pause").status_code == 200
        assert client.get("/api/bots").json()["total"] == 1

    def test_reading_needs_read(self, api_client, user):
        """A key stored without scopes (not possible through the API) can do nothing at all."""
        key, raw = ApiKey.generate(user, "empty")
        ApiKey.objects.filter(pk=key.pk).update(scopes=[])
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert_error(api_client.get("/api/bots"), 403, "PERMISSION_DENIED")

    @pytest.mark.parametrize("scopes", [["admin"], [], "read", ["read", "write"]])
    def test_unknown_scopes_are_refused(self, auth_client, scopes):
        r = auth_client.post("/api/auth/api-keys", {"name": "x", "scopes": scopes}, format="json")
        assert_error(r, 400, "VALIDATION_ERROR")
        assert not ApiKey.objects.exists()

    def test_admin_api_with_a_read_key(self, api_client, admin_user):
        client = key_client(api_client, admin_user, scopes=["read"])
        assert client.get("/api/admin/users").status_code == 200
        import uuid

        assert_error(client.post(f"/api/admin/bot/{uuid.uuid4()}/pause", {}, format="json"), 403, "PERMISSION_DENIED")


@pytest.mark.django_db
class TestExpiryAndLastUse:
    def test_expiry_and_last_used_at_are_shown_and_enforced(self, auth_client, api_client, user):
        expires = timezone.now() + timedelta(days=30)
        r = auth_client.post("/api/auth/api-keys", {"name": "ci", "expires_at": expires.isoformat()}, format="json")
        assert r.status_code == 201
        created = r.json()["api_key"]
        assert created["expires_at"].endswith("Z") and created["expired"] is False and created["last_used_at"] is None

        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
        assert api_client.get("/api/bots").status_code == 200
        listed = auth_client.get("/api/auth/api-keys").json()["api_keys"][0]
        assert listed["last_used_at"] is not None and listed["active"] is True

        ApiKey.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert_error(api_client.get("/api/bots"), 401, "AUTH_INVALID")
        listed = auth_client.get("/api/auth/api-keys").json()["api_keys"][0]
        assert listed["expired"] is True and listed["active"] is False

    def test_expiry_must_be_in_the_future(self, auth_client):
        past = (timezone.now() - timedelta(minutes=1)).isoformat()
        r = auth_client.post("/api/auth/api-keys", {"name": "ci", "expires_at": past}, format="json")
        assert_error(r, 400, "VALIDATION_ERROR")

    def test_expired_keys_do_not_count_towards_the_limit(self, auth_client, user):
        for i in range(20):
            ApiKey.generate(user, f"old {i}", expires_at=timezone.now() + timedelta(days=1))
        assert_error(
            auth_client.post("/api/auth/api-keys", {"name": "one more"}, format="json"), 400, "VALIDATION_ERROR"
        )
        ApiKey.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(days=1))
        assert auth_client.post("/api/auth/api-keys", {"name": "one more"}, format="json").status_code == 201


@pytest.mark.django_db
def test_keys_made_before_scopes_keep_reading_and_trading(user):
    """The data migration gives existing keys both scopes: today's scripts keep working."""
    key, _raw = ApiKey.generate(user, "legacy")
    ApiKey.objects.filter(pk=key.pk).update(scopes=["read"])
    migration = importlib.import_module("accounts.migrations.0003_api_key_scopes_and_session_revocation")
    migration.existing_keys_keep_trading(apps, None)
    assert ApiKey.objects.get(pk=key.pk).scopes == ["read", "trade"]
    assert User.objects.get(pk=user.pk).api_keys.get().has_scope("trade")


@pytest.mark.django_db(transaction=True)
def test_event_feeds_need_the_read_scope(user):
    from tests.realtime.conftest import SSEStream, run, ws_connect

    _key, reader = ApiKey.generate(user, "dashboard", scopes=["read"])
    blind, blind_raw = ApiKey.generate(user, "no scopes")
    ApiKey.objects.filter(pk=blind.pk).update(scopes=[])

    async def scenario():
        comm = await ws_connect(token=reader)
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(3))["type"] == "pong"
        await comm.disconnect()
        comm = await ws_connect(token=blind_raw)
        assert await comm.receive_output(3) == {"type": "websocket.close", "code": 4401}
        stream = await SSEStream(headers={"Authorization": f"Bearer {blind_raw}"}).start()
        assert stream.status == 401

    run(scenario)
