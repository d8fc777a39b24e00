"""What other apps hang on plans without plans knowing them (metering builds on plans, never the reverse).

`on_plan_change(fn)` registers `fn(*, subscription, previous_version, new_version)`, called inside the transaction
that moves an `AccountSubscription` to another plan version (a webhook, a staff sync, the default plan after a
cancellation): metering rotates the open usage week's quota there (METERING.md, "A plan change mid-week"). A hook
that raises rolls the change back with it. Register from your `AppConfig.ready()`; registering twice is harmless.
"""

from collections.abc import Callable

PlanChangeHook = Callable[..., None]

_plan_change_hooks: list[PlanChangeHook] = []


def on_plan_change(hook: PlanChangeHook) -> PlanChangeHook:
    if hook not in _plan_change_hooks:
        _plan_change_hooks.append(hook)
    return hook


def plan_changed(*, subscription, previous_version, new_version) -> None:
    """Called by plans' services after writing a new plan version on a subscription (inside their transaction)."""
    if previous_version == new_version:
        return
    for hook in _plan_change_hooks:
        hook(subscription=subscription, previous_version=previous_version, new_version=new_version)


def remove_plan_change_hook(hook: PlanChangeHook) -> None:
    """Tests only."""
    if hook in _plan_change_hooks:
        _plan_change_hooks.remove(hook)
