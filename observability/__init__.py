"""Watching the product from outside: /metrics (Prometheus) and /healthz/live, /healthz/ready. It reads every app
and no app imports it; only the URL configuration does (docs/observability.md)."""
