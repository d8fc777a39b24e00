"""The test settings: the product's settings with the development defaults asked for (BILLING_DEV_DEFAULTS=1),
which the processes the tests start (workers, the development stack, servers) inherit. DEBUG stays off, as in
production."""

import os

os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")

from billing_project.settings import *  # noqa: E402,F403
