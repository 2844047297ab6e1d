"""The web portal: plain TemplateViews under templates/portal/.

The pages hold no data of their own. Each one loads static/portal/app.js, which signs in through the JSON API (the
refresh token in an HttpOnly cookie, the access token in the page's memory: accounts/cookies.py) and reads everything
(bots, trades, metrics, wallet, chat, admin lists) from the same /api/ endpoints and the /api/ws feed that every other
client uses, so the portal is not a second code path into the domain.
"""

from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404
from django.urls import path
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView, TemplateView


class PortalPage(TemplateView):
    """One portal page. ``page`` names the template and the JS controller (body[data-page]);
    ``public`` pages need no login."""

    page = ""
    title = ""
    public = False
    nav_active = ""  # the navigation entry to highlight, when not the page's own (a bot's page: "bots")

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
        context.update(
            page=self.page,
            title=self.title,
            public=self.public,
            nav=NAV,
            nav_active=self.nav_active or NAV_PARENT.get(self.page, self.page),
        )
        return context


# (url name, path, label) of the signed-in navigation; "admin" entries are shown to admins only (by app.js).
NAV = [
    ("dashboard", "/dashboard", "Dashboard"),
    ("bots", "/bots", "Bots"),
    ("markets", "/markets", "Markets"),
    ("trades", "/trades", "Trades"),
    ("signals", "/signals", "Signals"),
    ("research", "/research", "Research"),
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
    ("markets", "markets", "Markets", False),
    ("trades", "trades", "Trades", False),
    ("signals", "signals", "Signals", False),
    ("watchlist", "watchlist", "Watchlist", False),
    ("research", "research", "Research", False),
    ("models", "research/models", "Models: ranking and parameter search", False),
    ("wallet", "wallet", "Wallet", False),
    ("accounts", "accounts", "Trading accounts", False),
    ("assistant", "assistant", "Assistant", False),
    ("settings", "settings", "Settings", False),
    ("settings_trading", "settings/trading", "Trading and risk settings", False),
    ("notifications", "settings/notifications", "Notifications", False),
    ("admin_panel", "console", "Admin console", False),
    ("admin_control", "console/control", "System control", False),
]

# Sub-pages highlight their section's navigation entry.
# (Ten top-level entries do not fit a 1360 px top bar: the watch list lives under Signals, the models under Research.)
NAV_PARENT = {
    "settings_trading": "settings",
    "notifications": "settings",
    "admin_control": "admin_panel",
    "watchlist": "signals",
    "models": "research",
    "accounts": "wallet",  # trading accounts: reached from the wallet page
}

# Pages of one object: (page, url with its converter, title, public, the navigation entry they belong to). The object
# id in the URL is read by the page's JS, which asks the API for it (404 for another user's id, shown on the page).
DETAIL_PAGES = [
    ("bot_detail", "bots/<uuid:bot_id>", "Bot", False, "bots"),
]


@require_safe
def favicon(request):
    """/favicon.ico, which browsers ask for on their own (the pages link to the SVG). nginx serves the same file."""
    found = finders.find("portal/favicon.ico")
    if not found:
        raise Http404("no favicon")
    response = FileResponse(open(found, "rb"), content_type="image/x-icon")
    patch_cache_control(response, public=True, max_age=86400)
    return response


app_name = "portal"
urlpatterns = (
    [
        path("", RedirectView.as_view(url="/dashboard", permanent=False), name="home"),
        path("favicon.ico", favicon, name="favicon"),
    ]
    + [
        path(url, PortalPage.as_view(page=page, title=title, public=public), name=page)
        for page, url, title, public in PAGES
    ]
    + [
        path(url, PortalPage.as_view(page=page, title=title, public=public, nav_active=nav), name=page)
        for page, url, title, public, nav in DETAIL_PAGES
    ]
)
