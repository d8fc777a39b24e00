"""The marketplace's errors, in the one family (core.errors)."""

from core.errors import AppError, Conflict, Forbidden


class InsufficientBalance(AppError):
    status = 402
    code = "insufficient_balance"


class NotAnAgency(Forbidden):
    code = "not_an_agency"


class NotASubAccount(Forbidden):
    code = "not_a_sub_account"


class RequestInProgress(Conflict):
    code = "request_in_progress"
