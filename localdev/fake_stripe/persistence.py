"""Keep localstripe's store in memory only.

localstripe pickles its whole store to a fixed file in the system temp folder on every write: slow (~31 creates/s)
and shared by every instance on the machine, so one run's objects leak into the next. Every fake starts empty.
"""

from localstripe.resources import Store


def _not_on_disk(store: Store) -> None:
    """Stands in for Store.dump_to_disk / try_load_from_disk."""


def disable_disk_persistence() -> None:
    Store.dump_to_disk = _not_on_disk
    Store.try_load_from_disk = _not_on_disk
