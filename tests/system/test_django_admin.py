"""The Django admin lists users, bots, trades, orders and transfers with search and filters, for staff only."""

import pytest

PAGES = [
    "/admin/accounts/user/",
    "/admin/bots/bot/",
    "/admin/trading/trade/",
    "/admin/trading/order/",
    "/admin/trading/position/",
    "/admin/wallets/transfer/",
    "/admin/accounts/auditlog/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_admin_changelists(client, django_user_model, url):
    admin = django_user_model.objects.create_superuser(email="root@example.com", password="Str0ng-Passphrase!")
    client.force_login(admin)
    response = client.get(url + "?q=example")
    assert response.status_code == 200, url


@pytest.mark.django_db
def test_admin_requires_staff(client, make_user):
    client.force_login(make_user())
    assert client.get("/admin/bots/bot/").status_code == 302
