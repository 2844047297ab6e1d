"""Open WebSockets and SSE streams end once the credential they were opened with does (realtime.sessions): deactivation,
deletion, API key revocation or expiry, admin demotion, revoked sessions and JWT expiry, within seconds, through the
real ASGI app. Other users' connections are never touched."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from tests.realtime.conftest import SSEStream, publish, run, token_for, ws_connect, ws_receive

pytestmark = pytest.mark.django_db(transaction=True)

# The event-driven tests turn the periodic re-check down to once a minute: what closes the connections there is the
# event, within the couple of seconds the tests wait.
EVENTS_ONLY = override_settings(REALTIME_RECHECK_SECONDS=60)
FAST_RECHECK = override_settings(REALTIME_RECHECK_SECONDS=0.2)


async def expect_closed(comm, code, timeout=2):
    assert await comm.receive_output(timeout) == {"type": "websocket.close", "code": code}


async def expect_open(comm):
    await comm.send_json_to({"type": "ping"})
    assert (await ws_receive(comm))["type"] == "pong"


async def expect_ended(stream, reason, code=4401, timeout=2):
    """The stream's last event is session_closed (code, reason), and the response body ends with it."""
    last = (await stream.events_until("session_closed", timeout))[-1]
    assert last["data"].pop("timestamp").endswith("Z")
    assert last["data"] == {"type": "session_closed", "code": code, "reason": reason}
    assert stream.more_body is False
    assert stream.buffer == ""


async def sse(credential):
    stream = await SSEStream(headers={"Authorization": f"Bearer {credential}"}).start()
    assert stream.status == 200
    assert (await stream.event())["event"] == "overview_update"
    return stream


async def still_delivers(user, comm, stream=None, message="still here"):
    """The user's WebSocket (and SSE stream) are open and keep receiving the user's events."""
    await expect_open(comm)
    await publish(user.pk, "trade_executed", {"trade": {"id": message, "profit_loss": 0}})
    assert (await ws_receive(comm))["trade"]["id"] == message
    if stream is not None:
        assert (await stream.event())["data"]["trades"][0]["id"] == message


def _save(instance, **fields):
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.save()


@EVENTS_ONLY
def test_deactivating_a_user_closes_their_websockets_and_streams(user, other_user):
    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "feed")

    async def scenario():
        by_jwt = await ws_connect(token=token_for(user))
        by_key = await ws_connect(token=raw)
        stream = await sse(token_for(user))
        key_stream = await sse(raw)
        bystander = await ws_connect(token=token_for(other_user))
        bystander_stream = await sse(token_for(other_user))

        await sync_to_async(_save)(user, is_active=False)

        await expect_closed(by_jwt, 4401)
        await expect_closed(by_key, 4401)
        await expect_ended(stream, "user_deactivated")
        await expect_ended(key_stream, "user_deactivated")
        await still_delivers(other_user, bystander, bystander_stream)

    run(scenario)


@EVENTS_ONLY
def test_deleting_a_user_closes_their_websockets_and_streams(user, other_user):
    async def scenario():
        comm = await ws_connect(token=token_for(user))
        stream = await sse(token_for(user))
        bystander = await ws_connect(token=token_for(other_user))

        await sync_to_async(user.delete)()

        await expect_closed(comm, 4401)
        await expect_ended(stream, "user_deleted")
        await still_delivers(other_user, bystander)

    run(scenario)


@EVENTS_ONLY
def test_revoking_an_api_key_closes_only_the_connections_opened_with_it(user, other_user):
    from accounts.models import ApiKey
    from accounts.services import revoke_api_key

    revoked, raw = ApiKey.generate(user, "revoked")
    _kept, kept_raw = ApiKey.generate(user, "kept")
    _theirs, their_raw = ApiKey.generate(other_user, "theirs")

    async def scenario():
        by_revoked = await ws_connect(token=raw)
        stream_by_revoked = await sse(raw)
        by_kept = await ws_connect(token=kept_raw)
        stream_by_kept = await sse(kept_raw)
        by_jwt = await ws_connect(token=token_for(user))
        bystander = await ws_connect(token=their_raw)

        await sync_to_async(revoke_api_key)(user, revoked.pk)

        await expect_closed(by_revoked, 4401)
        await expect_ended(stream_by_revoked, "api_key_revoked")
        await still_delivers(user, by_kept, stream_by_kept)
        assert (await ws_receive(by_jwt))["trade"]["id"] == "still here"
        await still_delivers(other_user, bystander)
        # The revoked key opens nothing any more.
        await expect_closed(await ws_connect(token=raw), 4401)

    run(scenario)


@EVENTS_ONLY
def test_a_demoted_admin_gets_4403_and_no_more_of_other_users_events(user, admin_user, make_user):
    other_admin = make_user(first_name="Grace", is_admin=True)

    async def scenario():
        admin_socket = await ws_connect(token=token_for(admin_user))
        admin_stream = await sse(token_for(admin_user))  # the stream only ever carries the admin's own events
        still_admin = await ws_connect(token=token_for(other_admin))
        await publish(user.pk, "alert", {"level": "info", "message": "before"})
        assert (await ws_receive(admin_socket))["message"] == "before"
        assert (await ws_receive(still_admin))["message"] == "before"

        await sync_to_async(_save)(admin_user, is_admin=False)

        await expect_closed(admin_socket, 4403)
        await publish(user.pk, "alert", {"level": "info", "message": "after"})
        assert await admin_socket.receive_nothing(0.3)
        assert (await ws_receive(still_admin))["message"] == "after"  # another admin keeps the admins feed

        # Reconnected, the former admin gets only their own events; the stream (own events only) stayed open.
        again = await ws_connect(token=token_for(admin_user))
        await publish(user.pk, "alert", {"level": "info", "message": "not for a former admin"})
        assert await again.receive_nothing(0.3)
        await still_delivers(admin_user, again, admin_stream)

    run(scenario)


@EVENTS_ONLY
def test_sessions_revoked_closes_every_jwt_connection_of_the_user(user, other_user):
    """Log out everywhere, password change or reset: every connection opened with one of the user's JWTs ends. API
    keys outlive a revocation of the user's sessions (accounts.services.revoke_sessions), and so do their sockets."""
    from accounts.models import ApiKey
    from accounts.signals import sessions_revoked

    _key, raw = ApiKey.generate(user, "feed")

    def revoke_all():
        sessions_revoked.send(sender=type(user), user_id=user.pk, reason="logout_everywhere")

    async def scenario():
        by_jwt = await ws_connect(token=token_for(user))
        another_jwt = await ws_connect(headers=[(b"authorization", f"Bearer {token_for(user)}".encode())])
        stream = await sse(token_for(user))
        by_key = await ws_connect(token=raw)
        bystander = await ws_connect(token=token_for(other_user))
        bystander_stream = await sse(token_for(other_user))

        await sync_to_async(revoke_all)()

        await expect_closed(by_jwt, 4401)
        await expect_closed(another_jwt, 4401)
        await expect_ended(stream, "logout_everywhere")
        await still_delivers(user, by_key)
        await still_delivers(other_user, bystander, bystander_stream)

    run(scenario)


def test_a_jwt_opened_sse_stream_ends_at_the_token_expiry(user, other_user):
    short = AccessToken.for_user(user)
    short.set_exp(lifetime=timedelta(seconds=2))

    async def scenario():
        stream = await sse(str(short))
        bystander = await sse(token_for(other_user))
        await expect_ended(stream, "token_expired", timeout=4)
        await publish(other_user.pk, "trade_executed", {"trade": {"id": "later", "profit_loss": 0}})
        assert (await bystander.event())["data"]["trades"][0]["id"] == "later"

    run(scenario)


def test_an_api_key_connection_ends_at_the_key_expiry(user):
    from accounts.models import ApiKey

    _key, raw = ApiKey.generate(user, "short", expires_at=timezone.now() + timedelta(seconds=2))

    async def scenario():
        comm = await ws_connect(token=raw)
        stream = await sse(raw)
        await expect_open(comm)
        await expect_closed(comm, 4401, timeout=4)
        await expect_ended(stream, "api_key_expired", timeout=2)

    run(scenario)


@FAST_RECHECK
def test_the_periodic_recheck_ends_connections_whatever_changed_the_database(user, other_user, admin_user):
    """Queryset updates send no model signal: the re-check every REALTIME_RECHECK_SECONDS still ends the connections."""
    from accounts.models import ApiKey, User

    key, raw = ApiKey.generate(other_user, "feed")

    def update(model, pk, **fields):
        model.objects.filter(pk=pk).update(**fields)

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        stream = await sse(token_for(user))
        by_key = await ws_connect(token=raw)
        by_jwt = await ws_connect(token=token_for(other_user))
        admin = await ws_connect(token=token_for(admin_user))
        await expect_open(comm)

        await sync_to_async(update)(User, user.pk, is_active=False)
        await expect_closed(comm, 4401)
        await expect_ended(stream, "credential_invalid")

        await sync_to_async(update)(ApiKey, key.pk, revoked_at=timezone.now())
        await expect_closed(by_key, 4401)
        await expect_open(by_jwt)

        await sync_to_async(update)(User, admin_user.pk, is_admin=False)
        await expect_closed(admin, 4403)
        await expect_open(by_jwt)

    run(scenario)


@EVENTS_ONLY
def test_saves_that_change_neither_flag_leave_connections_open(user, admin_user):
    def edit():
        _save(user, first_name="Renamed")
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
        _save(admin_user, first_name="Still admin")
        admin_user.is_active = False  # not among the saved fields: not deactivated
        admin_user.save(update_fields=["first_name"])
        admin_user.is_active = True

    async def scenario():
        comm = await ws_connect(token=token_for(user))
        stream = await sse(token_for(user))
        admin = await ws_connect(token=token_for(admin_user))
        await sync_to_async(edit)()
        await still_delivers(user, comm, stream)
        assert (await ws_receive(admin))["trade"]["id"] == "still here"

    run(scenario)
