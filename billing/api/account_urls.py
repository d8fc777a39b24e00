from django.urls import path

from billing.api.accounts import CurrentAccountView, MembershipDetailView, MembershipListView

urlpatterns = [
    path("", CurrentAccountView.as_view(), name="account-current"),
    path("members/", MembershipListView.as_view(), name="account-members"),
    path("members/<int:pk>/", MembershipDetailView.as_view(), name="account-member-detail"),
]
