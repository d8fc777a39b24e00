from metering.models.extras import Consumption, ExtrasBalance, LedgerEntry, Topup
from metering.models.usage import Attribution, UsageWeek

__all__ = ["Attribution", "Consumption", "ExtrasBalance", "LedgerEntry", "Topup", "UsageWeek"]
