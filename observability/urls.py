from django.urls import path

from observability import health, metrics

urlpatterns = [
    path("healthz", health.ready, name="healthz"),  # the name load balancers already probe: readiness
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("metrics", metrics.metrics, name="metrics"),
]
