"""The JSON log line (LOG_FORMAT=json, settings.LOGGING): one object per line, for a log shipper to parse instead
of a regular expression. Same context as the text line: the account and the request or task id
(core/logcontext.py's ContextFilter) are fields of their own; a traceback is one field, not extra lines."""

from pythonjsonlogger.json import JsonFormatter


class JsonLineFormatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(account_id)s %(request_id)s",
            # `time` is ISO 8601 in UTC from the record's own clock (python-json-logger's timestamp field).
            timestamp="time",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        )
