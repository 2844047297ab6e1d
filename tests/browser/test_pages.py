"""The portal's pages through Django's full stack (fast, no browser): every page renders its shell, loads the one
static script and stylesheet, carries no data of its own, and the static files are served."""

import re
import uuid

import pytest

from amarktai.portal import DETAIL_PAGES, PAGES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page,url,title,public", PAGES + [row[:4] for row in DETAIL_PAGES])
def test_page_renders(client, page, url, title, public):
    resp = client.get("/" + re.sub(r"<uuid:\w+>", str(uuid.uuid4()), url))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert f'data-page="{page}"' in html
    assert f"<title>{title} · Amarktai</title>" in html
    assert '/static/portal/app.js"' in html and '/static/portal/app.css"' in html
    assert "<script>" not in html  # no inline scripts: everything comes from app.js
    assert ('data-testid="nav-dashboard"' in html) is (not public)
    assert resp["X-Frame-Options"] == "DENY"


def test_root_redirects_to_dashboard(client):
    resp = client.get("/")
    assert resp.status_code == 302 and resp["Location"] == "/dashboard"


def test_pages_hold_no_user_data(client, user):
    client.force_login(user)
    html = client.get("/dashboard").content.decode()
    assert user.email not in html and str(user.id) not in html


@pytest.mark.parametrize("name", ["app.js", "app.css", "favicon.svg", "favicon.ico"])
def test_static_files_are_served(client, name):
    resp = client.get(f"/static/portal/{name}")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content if resp.streaming else [resp.content])


def test_favicon_ico_is_served(client):
    # Browsers ask for /favicon.ico by themselves (API docs, a JSON response, a bookmark): a real icon, not a 404.
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "image/x-icon"
    body = b"".join(resp.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert "max-age=86400" in resp["Cache-Control"]
    assert client.post("/favicon.ico").status_code == 405


def test_api_paths_are_not_shadowed(client):
    # The portal is included last: an unknown /api/ path is still the API's JSON 404.
    resp = client.get("/api/definitely-not-here")
    assert resp.status_code == 404 and resp.json()["error_code"] == "NOT_FOUND"
