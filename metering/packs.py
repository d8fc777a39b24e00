"""The credit packs on sale (settings.METERING_CREDIT_PACKS): pack id → units, price in cents, currency, expiry
days. Read here once so that a bad setting fails loudly at the first use rather than at a customer's payment."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Pack:
    pack_id: str
    units: int
    price_cents: int
    currency: str
    expiry_days: int


def packs() -> dict[str, Pack]:
    found = {}
    for pack_id, spec in settings.METERING_CREDIT_PACKS.items():
        pack = Pack(
            pack_id=pack_id,
            units=int(spec["units"]),
            price_cents=int(spec["price_cents"]),
            currency=str(spec["currency"]).lower(),
            expiry_days=int(spec["expiry_days"]),
        )
        if pack.units <= 0 or pack.price_cents <= 0 or pack.expiry_days <= 0:
            raise ValueError(f"METERING_CREDIT_PACKS[{pack_id!r}]: units, price_cents and expiry_days are positive.")
        found[pack_id] = pack
    return found


def pack_get(pack_id: str) -> Pack | None:
    return packs().get(pack_id)
