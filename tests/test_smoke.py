def test_ping(api_client, db):
    r = api_client.get("/api/system/ping")
    assert r.status_code == 200 and r.json()["status"] == "ok"
