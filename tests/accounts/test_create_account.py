import uuid
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Account, Membership

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("create_account", *args, stdout=out)
    return out.getvalue().strip()


def test_creates_account_owner_and_prints_the_id():
    printed = run("--name", "Acme Agency", "--owner", "alice", "--password", "s3cret-pass", "--email", "a@x.io")
    account = Account.objects.get(pk=uuid.UUID(printed))
    assert account.name == "Acme Agency"
    membership = Membership.objects.get(account=account)
    assert membership.role == "owner"
    assert membership.user.check_password("s3cret-pass")
    assert membership.user.email == "a@x.io"


def test_sub_account_of_a_parent_reuses_the_existing_user():
    parent_id = run("--name", "Agency", "--owner", "bob", "--password", "pw-123456")
    child_id = run("--name", "Client", "--owner", "bob", "--parent", parent_id)
    assert str(Account.objects.get(pk=child_id).parent_id) == parent_id
    assert get_user_model().objects.filter(username="bob").count() == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "X", "--owner", "newbie"], "give a password"),
        (["--name", "X", "--owner", "o", "--password", "pw-123456", "--parent", "nope"], "not an account id"),
        (
            ["--name", "X", "--owner", "o", "--password", "pw-123456", "--parent", str(uuid.uuid4())],
            "No parent",
        ),
        (["--name", " ", "--owner", "o", "--password", "pw-123456"], "needs a name"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert Account.objects.count() == 0
    assert not get_user_model().objects.filter(username__in=["newbie", "o"]).exists()
