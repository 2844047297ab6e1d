"""The web portal: plain TemplateViews under templates/portal/.

The pages hold no data of their own. Each one loads static/portal/app.js, which signs in through the JSON API (the
refresh token in an HttpOnly cookie, the access token in the page's memory: accounts/cookies.py) and reads everything
(bots, trades, metrics, wallet, chat, admin lists) from the same /api/ endpoints and the /api/ws feed that every other
client uses, so the portal is not a second code path into the domain.
"""

from django.urls import path
from django.utils.cache import patch_cache_control
from django.views.generic import RedirectView, TemplateView


class PortalPage(TemplateView):
    """One portal page. ``page`` names the template and the JS controller (body[data-page]);
    ``public`` pages need no login."""

    page = ""
    title = ""
    public = False

    def get_template_names(self):
        return [f"portal/{self.page}.html"]

    def get(self, request, *args, **kwargs):
        # no-cache: the browser revalidates the page each time, so after a release it gets the new page and with it
        # the new hashed static names (which are cached for long).
        response = super().get(request, *args, **kwargs)
        patch_cache_control(response, no_cache=True)
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(page=self.page, title=self.title, public=self.public, nav=NAV)
        return context


# (url name, path, label) of the signed-in navigation; "admin" entries are shown to admins only (by app.js).
NAV = [
    ("dashboard", "/dashboard", "Dashboard"),
    ("bots", "/bots", "Bots"),
    ("trades", "/trades", "Trades"),
    ("wallet", "/wallet", "Wallet"),
    ("assistant", "/assistant", "Assistant"),
    ("settings", "/settings", "Settings"),
]

PAGES = [
    # page, url, title, public
    ("login", "login", "Log in", True),
    ("signup", "signup", "Create your account", True),
    ("two_factor", "security/two-factor", "Two-factor authentication", False),
    ("dashboard", "dashboard", "Dashboard", False),
    ("bots", "bots", "Bots", False),
    ("trades", "trades", "Trades", False),
    ("wallet", "wallet", "Wallet", False),
    ("assistant", "assistant", "Assistant", False),
    ("settings", "settings", "Settings", False),
    ("admin_panel", "console", "Admin console", False),
]

app_name = "portal"
urlpatterns = [path("", RedirectView.as_view(url="/dashboard", permanent=False), name="home")] + [
    path(url, PortalPage.as_view(page=page, title=title, public=public), name=page)
    for page, url, title, public in PAGES
]
