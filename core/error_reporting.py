"""Optional Sentry (docs/observability.md): settings call `init_sentry` only when SENTRY_DSN is set, so without it
sentry_sdk is never imported. Django and Celery integrations; no personal data sent (send_default_pii=False:
no user ids, cookies, headers' values or request bodies beyond Sentry's safe defaults)."""


def init_sentry(dsn: str, environment: str | None, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
    )
