from django.urls import path

from mirror import views

urlpatterns = [
    path("account-groups", views.GroupListView.as_view()),
    path("account-groups/<uuid:group_id>", views.GroupDetailView.as_view()),
    path("account-groups/<uuid:group_id>/members", views.MemberListView.as_view()),
    path("account-groups/<uuid:group_id>/members/<uuid:member_id>", views.MemberDetailView.as_view()),
    path("account-groups/<uuid:group_id>/orders", views.GroupOrderCreateView.as_view()),
    path("group-orders", views.GroupOrderListView.as_view()),
    path("group-orders/<uuid:group_order_id>", views.GroupOrderDetailView.as_view()),
]
