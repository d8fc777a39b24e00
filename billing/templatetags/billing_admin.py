"""The admin index's chart (issue 16 §5): the last 30 days of gross and net volume across every account's mirror,
drawn as inline SVG (no script, no external asset), per currency. Kept in the cache for a few minutes: the index is
the staff's landing page, and the figures move with the sync and webhooks, not by the second."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from billing.selectors.overview import Window, product_volume

register = template.Library()

DAYS = 30
CACHE_KEY = "billing:admin:product-volume"
CACHE_SECONDS = 300
WIDTH, HEIGHT, GAP = 600, 160, 2


def _chart(volume: dict) -> dict:
    daily = volume["daily"]
    top = max([d["gross_volume"] for d in daily] + [1])
    slot = WIDTH / len(daily)
    bars = []
    for n, day in enumerate(daily):
        gross = round(day["gross_volume"] / top * HEIGHT)
        net = round(max(day["net_volume"], 0) / top * HEIGHT)
        bars.append(
            {
                "x": round(n * slot + GAP / 2, 1),
                "width": round(slot - GAP, 1),
                "gross_y": HEIGHT - gross,
                "gross_h": gross,
                "net_y": HEIGHT - net,
                "net_h": net,
                "title": f"{day['date']:%Y-%m-%d}: gross {day['gross_volume']}, net {day['net_volume']}",
            }
        )
    return {**volume, "bars": bars}


def product_volume_last_days(days: int = DAYS) -> dict:
    today = timezone.now().date()
    window = Window(today - timedelta(days=days - 1), today, ZoneInfo("UTC"))
    volumes = product_volume(window=window)
    return {
        "start": window.start,
        "end": window.end,
        "base_currency": settings.BASE_CURRENCY,
        "charts": [_chart(v) for v in volumes],
    }


@register.inclusion_tag("admin/billing/product_volume.html")
def product_volume_chart() -> dict:
    figures = cache.get(CACHE_KEY)
    if figures is None:
        figures = product_volume_last_days()
        cache.set(CACHE_KEY, figures, CACHE_SECONDS)
    return {**figures, "width": WIDTH, "height": HEIGHT}
