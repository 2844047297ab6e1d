from django.urls import path

from chat import views

urlpatterns = [
    path("ai/chat", views.AiChatView.as_view()),
    path("ai/chat/history", views.ChatHistoryView.as_view()),
    path("ai/chat/greeting", views.ChatGreetingView.as_view()),
    path("ai/chat/clear", views.ChatClearView.as_view()),
    path("chat/message", views.ChatMessageView.as_view()),
    path("commands", views.CommandView.as_view()),
    path("commands/confirm", views.CommandConfirmView.as_view()),
    path("commands/history", views.CommandHistoryView.as_view()),
]
