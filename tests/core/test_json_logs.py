"""LOG_FORMAT=json: a record logged through the configured handler is one JSON object per line, with the log
context as fields and a traceback as one field. Settings are read at import, hence a fresh process."""

import json

from tests.helpers.settings_process import start_settings

LOG_SOME = """
import logging
from core.logcontext import bind_account, request_id_var

request_id_var.set("req-42")
bind_account("acct-7")
logging.getLogger("billing.demo").warning("charged %s", "cus_1")
try:
    raise ValueError("no such plan")
except ValueError:
    logging.getLogger("billing.demo").exception("failed")
"""


def lines_of(stderr: str, logger: str) -> list[str]:
    return [line for line in stderr.splitlines() if f'"{logger}"' in line or f" {logger} " in line]


def test_json_lines_carry_the_context_and_the_traceback_as_fields():
    result = start_settings(LOG_SOME, BILLING_DEV_DEFAULTS="1", LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    warning, error = (json.loads(line) for line in lines_of(result.stderr, "billing.demo"))
    assert warning["message"] == "charged cus_1"
    assert (warning["level"], warning["logger"]) == ("WARNING", "billing.demo")
    assert (warning["account_id"], warning["request_id"]) == ("acct-7", "req-42")
    assert warning["time"].endswith("+00:00") and "T" in warning["time"]
    assert "exception" not in warning
    assert error["level"] == "ERROR" and error["message"] == "failed"
    assert "ValueError: no such plan" in error["exception"] and "Traceback" in error["exception"]


def test_the_default_stays_the_text_line():
    result = start_settings(LOG_SOME, BILLING_DEV_DEFAULTS="1")
    assert result.returncode == 0, result.stderr
    first = lines_of(result.stderr, "billing.demo")[0]
    assert "WARNING billing.demo [account=acct-7 req=req-42] charged cus_1" in first


def test_an_unknown_format_is_refused():
    result = start_settings(BILLING_DEV_DEFAULTS="1", LOG_FORMAT="xml")
    assert result.returncode != 0 and "LOG_FORMAT must be" in result.stderr
