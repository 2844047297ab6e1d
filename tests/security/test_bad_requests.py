"""Hostile or malformed requests get a 4xx in the error schema, never a 500 and a traceback, and cost the server no more
than the limits allow: oversized bodies (413 before they are read), JSON nested without end, numbers written in ways
Python's int()/Decimal() accept but an API must not ("1_000", other scripts' digits), numbers past what the database
holds, malformed Content-Length."""

import io
import json
import logging
import uuid

import pytest

from tests.helpers import assert_error

LOGIN = "/api/auth/login"


@pytest.fixture
def quiet(caplog):
    """The log records at WARNING and above; a bad request may leave one line, never a traceback."""
    caplog.set_level(logging.WARNING)

    def check():
        flood = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        assert not flood, [(r.name, r.getMessage()) for r in flood]

    return check


def _post_raw(client, path, body, content_type="application/json", **extra):
    return client.generic("POST", path, body, content_type=content_type, **extra)


# ------------------------------------------------------------------ body size


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10 * 1024 * 1024, 1024 * 1024 + 1])
def test_an_oversized_body_is_413_on_an_unauthenticated_endpoint(api_client, quiet, size):
    body = b'{"email": "' + b"a" * (size - 13) + b'"}'
    assert len(body) == size
    assert_error(_post_raw(api_client, LOGIN, body), 413, "PAYLOAD_TOO_LARGE")
    quiet()


@pytest.mark.django_db
def test_the_limit_is_the_setting_and_a_body_at_it_is_parsed(api_client, settings, quiet):
    settings.API_MAX_BODY_BYTES = 200
    body = json.dumps({"email": "nobody@example.com", "password": "x" * 100}).encode()
    body += b" " * (200 - len(body))
    assert_error(_post_raw(api_client, LOGIN, body), 401, "AUTH_INVALID")  # parsed: the credentials are wrong
    assert_error(_post_raw(api_client, LOGIN, body + b" "), 413, "PAYLOAD_TOO_LARGE")
    quiet()


@pytest.mark.django_db
def test_the_body_limit_covers_every_path(api_client, auth_client, quiet):
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    assert_error(_post_raw(auth_client, "/api/bots", big), 413, "PAYLOAD_TOO_LARGE")
    assert_error(_post_raw(api_client, "/api/auth/register", big), 413, "PAYLOAD_TOO_LARGE")
    r = _post_raw(api_client, "/admin/login/", b"a=" + b"b" * (2 * 1024 * 1024), "application/x-www-form-urlencoded")
    assert r.status_code == 413
    quiet()


@pytest.mark.django_db
@pytest.mark.parametrize("declared", ["abc", "-5", "1_000", "\u0661\u0660", " 12", "1e3"])
def test_a_malformed_content_length_is_400(api_client, quiet, declared):
    r = _post_raw(api_client, LOGIN, b'{"email": "a@example.com"}', CONTENT_LENGTH=declared)
    assert_error(r, 400, "VALIDATION_ERROR")
    quiet()


def test_the_parser_reads_no_further_than_the_limit(settings):
    """A body whose length nobody declared (chunked) is read at most API_MAX_BODY_BYTES + 1 bytes, then refused."""
    from amarktai.errors import PayloadTooLarge
    from amarktai.parsers import JSONParser

    settings.API_MAX_BODY_BYTES = 1000

    class Counting(io.BytesIO):
        taken = 0

        def read(self, size=-1):
            chunk = super().read(size)
            Counting.taken += len(chunk)
            return chunk

    stream = Counting(b"[" + b"1," * 10_000_000 + b"1]")
    with pytest.raises(PayloadTooLarge):
        JSONParser().parse(stream)
    assert Counting.taken == 1001
    assert JSONParser().parse(io.BytesIO(b'{"a": [1, {"b": null}]}')) == {"a": [1, {"b": None}]}


# ------------------------------------------------------------------ JSON that is no JSON, or too deep


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 33 + b"]" * 33,  # one past API_MAX_JSON_DEPTH
        b'{"email": "a@example.com", "password": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"email": "a@example.com", "password": "x"',  # truncated
        b'{"email": "\xff\xfe"}',  # not UTF-8
        b'{"email": NaN}',
        b'{"email": ' + b"9" * 5000 + b"}",  # past Python's int digit limit
        b"",
    ],
    ids=["array-100k", "object-100k", "depth-33", "nested-field", "truncated", "bad-utf8", "nan", "huge-int", "empty"],
)
def test_bad_json_is_400_in_the_error_schema(api_client, quiet, body):
    r = _post_raw(api_client, LOGIN, body)
    if body == b"":
        assert r.status_code in (400, 401)  # no body at all: the fields are missing (or the credentials wrong)
    else:
        assert_error(r, 400, "VALIDATION_ERROR")
    quiet()


@pytest.mark.django_db
def test_json_within_the_depth_limit_is_accepted(auth_client, settings):
    settings.API_MAX_JSON_DEPTH = 3
    ok = {"name": "Shallow", "exchange": "luno", "initial_capital": "100", "params": {"fast": 5}}  # depth 2
    assert auth_client.post("/api/bots", ok, format="json").status_code == 201
    deep = {**ok, "params": {"fast": {"x": [1]}}}  # depth 4
    assert_error(auth_client.post("/api/bots", deep, format="json"), 400, "VALIDATION_ERROR")


# ------------------------------------------------------------------ numbers


NOT_PLAIN_INTEGERS = ["1_000", "\u0661\u0660", "\uff11\uff10", " 10", "10 ", "+\u0031\u0660", "0x10", "true"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/trades?offset=99999999999999999999",
        f"/api/trades?offset={2**31}",
        "/api/trades?limit=99999999999999999999",
        "/api/orders?limit=99999999999999999999",
        "/api/ai/chat/history?limit=99999999999999999999",
        *[f"/api/trades?limit={value}" for value in NOT_PLAIN_INTEGERS],
        *[f"/api/trades?offset={value}" for value in NOT_PLAIN_INTEGERS],
        *[f"/api/orders?limit={value}" for value in NOT_PLAIN_INTEGERS],
        *[f"/api/ai/chat/history?limit={value}" for value in NOT_PLAIN_INTEGERS],
    ],
)
def test_numeric_query_parameters_are_bounded_plain_integers(auth_client, quiet, path):
    from urllib.parse import quote

    base, query = path.split("?")
    name, value = query.split("=", 1)
    assert_error(auth_client.get(f"{base}?{name}={quote(value)}"), 400, "VALIDATION_ERROR")
    quiet()


@pytest.mark.django_db
def test_plain_query_integers_still_work(auth_client):
    assert auth_client.get(f"/api/trades?limit=1000&offset={2**31 - 1}").status_code == 200
    assert auth_client.get("/api/orders?limit=1").status_code == 200
    assert auth_client.get("/api/ai/chat/history?limit=500").status_code == 200


NOT_PLAIN_AMOUNTS = [
    "1_000",
    "\u0661\u0660\u0660",  # Arabic-Indic 100
    "\u06f1\u06f0\u06f0",  # Extended Arabic-Indic 100
    "\uff11\uff10\uff10",  # fullwidth 100
    "\u0967\u0966\u0966",  # Devanagari 100
    " 100",
    "100 ",
    "NaN",
    "Infinity",
    "0x64",
    True,
]


@pytest.mark.django_db
@pytest.mark.parametrize("amount", NOT_PLAIN_AMOUNTS, ids=repr)
def test_amounts_must_be_plain_ascii_numbers(auth_client, quiet, amount):
    bot = {"name": "Strict", "exchange": "luno", "initial_capital": amount}
    assert_error(auth_client.post("/api/bots", bot, format="json"), 400, "VALIDATION_ERROR")
    order = {"exchange": "luno", "symbol": "BTC/ZAR", "side": "buy", "type": "limit", "amount": "1", "price": "1"}
    for field in ("amount", "price"):
        r = auth_client.post("/api/orders", {**order, field: amount}, format="json")
        assert_error(r, 400, "VALIDATION_ERROR")
        assert field in r.json().get("details", {}), r.json()
        r = auth_client.patch(f"/api/orders/{uuid.uuid4()}", {field: amount}, format="json")
        assert_error(r, 400, "VALIDATION_ERROR")  # validated before the order is looked up
        assert field in r.json()["details"], r.json()
    transfer = {"from_provider": "luno", "to_provider": "binance", "amount": amount, "currency": "USDT"}
    r = auth_client.post("/api/wallet/transfer", transfer, format="json")
    assert_error(r, 400, "VALIDATION_ERROR")
    assert "amount" in r.json()["details"], r.json()
    quiet()


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["1000", "1000.5", "0.00000001", "1E-8", "1e3", ".5", 1000, 1000.5])
def test_plain_amounts_are_accepted(auth_client, amount):
    r = auth_client.post("/api/bots", {"name": "Plain", "exchange": "luno", "initial_capital": amount}, format="json")
    assert r.status_code == 201, r.content


def test_every_numeric_input_field_is_strict():
    """A new serializer cannot bring back DRF's lenient number fields: every integer, decimal or float field the
    project declares is one of amarktai.api's strict ones."""
    from rest_framework import serializers

    import amarktai.urls  # noqa: F401 - imports every view and so every serializer
    from amarktai.api import StrictDecimalField, StrictIntegerField

    def every(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every(sub)

    project = ("accounts.", "amarktai.", "realtime.", "trading.", "wallets.", "bots.", "chat.")
    lenient, seen = [], 0
    for cls in set(every(serializers.Serializer)):
        if not cls.__module__.startswith(project):
            continue
        for name, field in cls._declared_fields.items():
            if isinstance(field, (serializers.IntegerField, serializers.DecimalField, serializers.FloatField)):
                seen += 1
                if not isinstance(field, (StrictIntegerField, StrictDecimalField)):
                    lenient.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert seen >= 8 and not lenient, lenient
