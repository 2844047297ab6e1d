"""The Django admin, served by accounts.admin_site.AmarktaiAdminSite: ``admin.site`` and ``@admin.register`` keep
working everywhere. Kept apart from admin_site.py because INSTALLED_APPS imports this module before any model loads."""

from django.contrib.admin.apps import AdminConfig


class AmarktaiAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.AmarktaiAdminSite"
