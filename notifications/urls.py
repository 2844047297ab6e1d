from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/channels", views.ChannelListView.as_view()),
    path("notifications/channels/<uuid:channel_id>", views.ChannelDetailView.as_view()),
    path("notifications/channels/<uuid:channel_id>/test", views.ChannelTestView.as_view()),
    path("notifications/channels/<uuid:channel_id>/secret", views.ChannelSecretView.as_view()),
    path("notifications/preferences", views.PreferencesView.as_view()),
    path("notifications/deliveries", views.DeliveryListView.as_view()),
    path("notifications/telegram/link", views.TelegramLinkView.as_view()),
    path("notifications/telegram/webhook/<str:secret>", views.TelegramWebhookView.as_view()),
]
