from django.urls import path

from accounts.api.auth import TokenObtainView, TokenRefresh

urlpatterns = [
    path("token/", TokenObtainView.as_view(), name="token-obtain"),
    path("token/refresh/", TokenRefresh.as_view(), name="token-refresh"),
]
