from django.urls import path

from accounts.api.views import CurrentAccountView, MembershipDetailView, MembershipListView

urlpatterns = [
    path("", CurrentAccountView.as_view(), name="account-current"),
    path("members/", MembershipListView.as_view(), name="account-members"),
    path("members/<int:pk>/", MembershipDetailView.as_view(), name="account-member-detail"),
]
