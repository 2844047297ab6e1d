"""POST /api/models/train reports its progress to the requesting user over the WebSocket (model_training_progress),
and to nobody else."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.helpers import client_for
from tests.realtime.conftest import _fresh_layer, run, token_for, ws_connect, ws_receive  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_train_progress_over_websocket(user, other_user):
    def start():
        response = client_for(user).post(
            "/api/models/train", {"exchange": "binance", "symbol": "BTC/USDT"}, format="json"
        )
        assert response.status_code == 202, response.content
        return response.json()["run"]["id"]

    async def scenario():
        mine = await ws_connect(token=token_for(user))
        theirs = await ws_connect(token=token_for(other_user))
        run_id = await sync_to_async(start)()
        seen = []
        while True:
            message = await ws_receive(mine, timeout=10)
            if message["type"] != "model_training_progress":
                continue
            seen.append(message)
            if message["status"] != "running":
                break
        assert {m["run_id"] for m in seen} == {run_id} and {m["kind"] for m in seen} == {"ranking"}
        progress = [m["progress"] for m in seen]
        assert progress == sorted(progress) and progress[-1] == 1.0 and seen[-1]["status"] == "completed"
        assert seen[0]["total"] == len(seen) - 1 and seen[-1]["scored"] == seen[0]["total"]
        assert seen[0]["timestamp"]
        with pytest.raises(asyncio.TimeoutError):
            await theirs.receive_from(timeout=0.3)

    run(scenario)


def test_progress_message_shape():
    from realtime import translate

    payload = {"kind": "optimization", "run_id": "r1", "progress": 0.5, "status": "running", "evaluated": 3}
    message = {"event": "model_training_progress", "payload": payload, "timestamp": "2026-01-01T00:00:00Z"}
    assert translate.ws_message(message) == {
        "type": "model_training_progress",
        **payload,
        "timestamp": "2026-01-01T00:00:00Z",
    }
