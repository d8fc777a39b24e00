from marketplace.models.balance import Balance, ExchangeRate, LedgerEntry, TopUp
from marketplace.models.purchases import Purchase
from marketplace.models.store import Store, StoreCustomer, StorePrice, StoreProduct

__all__ = [
    "Balance",
    "ExchangeRate",
    "LedgerEntry",
    "Purchase",
    "Store",
    "StoreCustomer",
    "StorePrice",
    "StoreProduct",
    "TopUp",
]
