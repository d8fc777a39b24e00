"""Mounted by billing_project/urls.py at /api/v1/billing/store/ and /api/v1/billing/balance/."""

from django.urls import path

from marketplace.api import balance, payment_methods, purchases, store

store_patterns = [
    path("products/", store.StoreProductListView.as_view(), name="store-products"),
    path("products/<str:product_id>/", store.StoreProductDetailView.as_view(), name="store-product"),
    path("prices/", store.StorePriceListView.as_view(), name="store-prices"),
    path("prices/<str:price_id>/", store.StorePriceDetailView.as_view(), name="store-price"),
    path("payment-methods/", payment_methods.PaymentMethodListView.as_view(), name="payment-methods"),
    path("payment-methods/setup/", payment_methods.SetupIntentView.as_view(), name="payment-methods-setup"),
    path(
        "payment-methods/default/", payment_methods.DefaultPaymentMethodView.as_view(), name="payment-methods-default"
    ),
    path("purchases/", purchases.PurchaseListView.as_view(), name="purchases"),
    path("purchases/<uuid:purchase_id>/", purchases.PurchaseDetailView.as_view(), name="purchase"),
    path("balances/", balance.AgencyBalancesView.as_view(), name="agency-balances"),
]

balance_patterns = [
    path("", balance.BalanceView.as_view(), name="balance"),
    path("top-ups/", balance.TopUpView.as_view(), name="top-ups"),
    path("usage/", balance.UsageView.as_view(), name="usage"),
]
