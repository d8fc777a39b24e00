"""Makes the local Stripe fixtures available here even when tests/conftest.py does not load them (for example
`pytest tests/harness -p no:django --confcutdir tests/harness`), without loading them twice when it does."""

PLUGIN = "tests.harness.stripe_fixtures"


def pytest_configure(config):
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
