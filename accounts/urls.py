from django.urls import path

from accounts import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view()),
    path("auth/login", views.LoginView.as_view()),
    path("auth/refresh", views.RefreshView.as_view()),
    path("auth/logout", views.LogoutView.as_view()),
    path("auth/logout-everywhere", views.LogoutEverywhereView.as_view()),
    path("auth/password/change", views.PasswordChangeView.as_view()),
    path("auth/password/reset", views.PasswordResetView.as_view()),
    path("auth/password/reset/confirm", views.PasswordResetConfirmView.as_view()),
    path("auth/me", views.MeView.as_view()),
    path("auth/2fa/enroll", views.TwoFactorEnrollView.as_view()),
    path("auth/2fa/verify", views.TwoFactorVerifyView.as_view()),
    path("auth/2fa/backup-codes", views.BackupCodesView.as_view()),
    path("auth/api-keys", views.ApiKeyListView.as_view()),
    path("auth/api-keys/<uuid:key_id>", views.ApiKeyDetailView.as_view()),
    path("system/mode", views.SystemModeView.as_view()),
]
