from django.urls import path

from accounts.api.auth import LogoutView, PasswordChangeView, TokenObtainView, TokenRefresh, WsTicketView

urlpatterns = [
    path("token/", TokenObtainView.as_view(), name="token-obtain"),
    path("token/refresh/", TokenRefresh.as_view(), name="token-refresh"),
    path("logout/", LogoutView.as_view(), name="auth-logout"),
    path("password/", PasswordChangeView.as_view(), name="auth-password"),
    path("ws-ticket/", WsTicketView.as_view(), name="auth-ws-ticket"),
]
