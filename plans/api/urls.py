"""plans' URLs, included by billing_project/urls.py: the account's subscription under /api/v1/account/subscription/
and the staff's plans under /api/v1/admin/billing/ (beside the issue 16 toolkit)."""

from django.urls import path

from plans.api import account, staff, staff_toolkit

account_patterns = [
    path("", account.SubscriptionView.as_view(), name="subscription"),
    path("checkout/", account.CheckoutView.as_view(), name="subscription-checkout"),
    path("change/", account.ChangeView.as_view(), name="subscription-change"),
    path("cancel/", account.CancelView.as_view(), name="subscription-cancel"),
    path("resume/", account.ResumeView.as_view(), name="subscription-resume"),
    path("invoices/", account.InvoicesView.as_view(), name="subscription-invoices"),
]

staff_patterns = [
    path("plans/", staff.PlansView.as_view(), name="plans"),
    path("plans/<slug:slug>/versions/", staff.PlanVersionsView.as_view(), name="plan-versions"),
    path("customer/<uuid:account_id>/", staff_toolkit.CustomerView.as_view(), name="customer"),
    path("sync/<uuid:account_id>/", staff_toolkit.SyncView.as_view(), name="sync"),
    path("cancel/<uuid:account_id>/", staff_toolkit.CancelView.as_view(), name="cancel"),
    path("refunds/", staff_toolkit.RefundsView.as_view(), name="refunds"),
]
