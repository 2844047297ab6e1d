from django.urls import path

from wallets import views

urlpatterns = [
    path("keys", views.KeyListView.as_view()),
    path("keys/test", views.KeyTestView.as_view()),
    path("keys/<uuid:credential_id>", views.KeyDetailView.as_view()),
    path("accounts", views.AccountListView.as_view()),
    path("accounts/<uuid:account_id>", views.AccountDetailView.as_view()),
    path("accounts/<uuid:account_id>/test", views.AccountTestView.as_view()),
    path("accounts/<uuid:account_id>/funds", views.AccountFundsView.as_view()),
    path("accounts/<uuid:account_id>/positions", views.AccountPositionsView.as_view()),
    path("accounts/<uuid:account_id>/orders", views.AccountOrdersView.as_view()),
    path("platforms/health", views.PlatformHealthView.as_view()),
    path("wallet/balances", views.BalancesView.as_view()),
    path("wallet/transfers", views.TransferListView.as_view()),
    path("wallet/transfer", views.TransferCreateView.as_view()),
    path("wallet/transfers/<uuid:transfer_id>/cancel", views.TransferCancelView.as_view()),
    path("wallet/transfers/<uuid:transfer_id>/complete", views.TransferCompleteView.as_view()),
]
