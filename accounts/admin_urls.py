from django.urls import path

from accounts import admin_api

urlpatterns = [
    path("admin/users", admin_api.AdminUsersView.as_view()),
]
