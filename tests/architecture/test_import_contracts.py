"""The architecture is checked, not just written down: `lint-imports` keeps the contracts in pyproject.toml
(docs/architecture.md), and it really refuses an import that breaks one. Each broken case runs on a copy of the
tree with one offending import added."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "core",
    "accounts",
    "billing",
    "plans",
    "marketplace",
    "contacts_import",
    "metering",
    "billing_project",
    "localdev",
    "observability",
]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize(
    ("module", "offending_import", "contract"),
    [
        ("billing/services/connection.py", "import localdev.demo_data", "the product never imports localdev"),
        ("billing/stripe/sync.py", "from billing import tasks", "nothing imports the tasks modules"),
        ("billing/models/events.py", "from billing.webhooks import intake", "billing: api, admin, tasks above"),
        ("billing/webhooks/registry.py", "from billing import models", "the webhook handler registry imports no"),
        ("billing/services/connection.py", "from accounts.api import views", "no other app imports accounts' api"),
        ("core/errors.py", "import accounts.models", "core is beneath every app"),
        ("billing/webhooks/processing.py", "import observability.collector", "no app imports observability"),
        ("billing/handlers.py", "import stripe", "the only module that imports the Stripe SDK"),
        ("accounts/services.py", "from accounts.api import auth", "accounts: api, websocket, admin"),
        ("core/queue.py", "from billing_project import celery", "no app imports billing_project"),
        ("billing/services/customers.py", "import plans.models", "billing (the account's own Stripe) knows nothing"),
        ("plans/models.py", "from plans.services import defaults", "plans: api, admin, tasks and commands above"),
        ("metering/units.py", "from metering import models", "metering: api, admin, tasks and commands above"),
        ("metering/services/ledger.py", "from metering.selectors import checks", "metering: api, admin, tasks"),
        ("plans/services/defaults.py", "import metering.models", "billing and plans know nothing of metering"),
        ("billing/handlers.py", "import metering.services.extras", "billing and plans know nothing of metering"),
        ("accounts/models.py", "import metering.weeks", "accounts know nothing of billing"),
        ("localdev/demo.py", "from metering.api import urls", "no other app imports metering's api"),
        ("billing/webhooks/registry.py", "import metering.handlers", "the webhook handler registry imports no"),
        ("marketplace/models/store.py", "from marketplace.services import store", "marketplace: api, admin, tasks"),
        ("billing/services/catalog.py", "import marketplace.models", "billing and accounts know nothing of the"),
        ("billing/services/customer_billing.py", "import contacts_import.models", "billing and everything beneath"),
        ("contacts_import/mapping.py", "from contacts_import import models", "contacts_import/mapping.py is pure"),
        (
            "contacts_import/models/contact.py",
            "from contacts_import.services import jobs",
            "contacts_import: api, admin",
        ),
        ("contacts_import/services/run.py", "from contacts_import import tasks", "nothing imports the tasks modules"),
    ],
)
def test_a_broken_contract_fails_the_check(tree_copy, module, offending_import, contract):
    path = tree_copy / module
    original = path.read_text()
    path.write_text(original + f"\n{offending_import}  # noqa\n")
    try:
        result = lint_imports(tree_copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in " ".join(broken.split()), result.stdout
