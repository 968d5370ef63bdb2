"""``CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(...)`` on the local engine: the notification is
written to a record in the state folder instead of an e-mail.

On Snowflake the system procedure sends a message through a notification integration
(https://docs.snowflake.com/en/user-guide/notifications/snowflake-notifications); its
arguments are built by ``SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('<message>')`` and
``SNOWFLAKE.NOTIFICATION.INTEGRATION('<name>')``
(https://docs.snowflake.com/en/sql-reference/functions-notification). fakesnow has no CALL,
so this module answers the statement itself: both arguments must be those two functions
of string literals (what FINISH_PIPELINE_RUN sends), or the statement fails as a call
Snowflake could not run would. Each notification is one JSON line of
``<state folder>/notifications.jsonl`` with the message, the integration and the time;
``lake run`` prints the ones its run sent and ``lake status`` the latest.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlglot import errors, exp

RECORD = "notifications.jsonl"
SEND = re.compile(r"^\s*CALL\s+SYSTEM\$SEND_SNOWFLAKE_NOTIFICATION\s*\(", re.IGNORECASE)
_LITERAL = r"'((?:[^'\\]|''|\\.)*)'"
_TEXT = re.compile(r"SNOWFLAKE\.NOTIFICATION\.TEXT_PLAIN\s*\(\s*" + _LITERAL + r"\s*\)", re.IGNORECASE)
_INTEGRATION = re.compile(r"SNOWFLAKE\.NOTIFICATION\.INTEGRATION\s*\(\s*" + _LITERAL + r"\s*\)", re.IGNORECASE)
_EMAIL_CONFIG = re.compile(
    r"SNOWFLAKE\.NOTIFICATION\.EMAIL_INTEGRATION_CONFIG\s*\(\s*"
    + _LITERAL
    + r"\s*,\s*"
    + _LITERAL
    + r"\s*,\s*ARRAY_CONSTRUCT\s*\(([^)]*)\)\s*\)",
    re.IGNORECASE,
)
_lock = threading.Lock()


SUBJECT_LIMIT = 256  # https://docs.snowflake.com/en/sql-reference/functions/email_integration_config


@dataclass(frozen=True)
class Notification:
    message: str
    integration: str
    sent_at: str  # ISO 8601, UTC
    subject: str = ""  # EMAIL_INTEGRATION_CONFIG's (else the integration's default)
    to: tuple[str, ...] = ()  # its To: line (else the integration's DEFAULT_RECIPIENTS)


class _Record:
    path: Path | None = None  # set by the server (lake/local/serve.py)


record = _Record()


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text.replace("''", "'"))


def send(sql: str) -> exp.Expr | None:
    """Record the notification of a ``CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` statement and
    answer as the procedure does (one row, its name as the column); None for other SQL."""
    if not SEND.match(sql):
        return None
    text, integration, config = _TEXT.search(sql), _INTEGRATION.search(sql), _EMAIL_CONFIG.search(sql)
    if text is None or (integration is None and config is None):
        raise errors.ParseError(
            "SYSTEM$SEND_SNOWFLAKE_NOTIFICATION: the local engine takes SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('...') "
            "and SNOWFLAKE.NOTIFICATION.INTEGRATION('...') or EMAIL_INTEGRATION_CONFIG('...', '...', "
            "ARRAY_CONSTRUCT('...')) of string literals"
        )
    now = datetime.now(UTC).isoformat()
    if config is not None:
        subject = _unquote(config.group(2))
        if len(subject) > SUBJECT_LIMIT:  # Snowflake refuses a longer subject
            raise errors.ParseError(f"EMAIL_INTEGRATION_CONFIG: the subject exceeds {SUBJECT_LIMIT} characters")
        to = [_unquote(a) for a in re.findall(_LITERAL, config.group(3))]
        if not to:  # "You cannot send an email notification if you only specify the Bcc: line"
            raise errors.ParseError("EMAIL_INTEGRATION_CONFIG: no address in the To: line")
        note = Notification(_unquote(text.group(1)), _unquote(config.group(1)), now, subject, tuple(to))
    else:
        assert integration is not None
        note = Notification(_unquote(text.group(1)), _unquote(integration.group(1)), now)
    if record.path is not None:
        with _lock, record.path.open("a") as out:
            out.write(json.dumps(asdict(note)) + "\n")
    column = exp.to_identifier("SYSTEM$SEND_SNOWFLAKE_NOTIFICATION", quoted=True)
    return exp.select(exp.alias_(exp.Literal.string("Notification sent"), column))


def read(path: Path, since: str = "") -> list[Notification]:
    """The notifications in the record, oldest first; ``since``: only those sent after it."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        if line.strip():
            fields = json.loads(line)
            found.append(Notification(**{**fields, "to": tuple(fields.get("to", ()))}))
    return [n for n in found if n.sent_at > since]
