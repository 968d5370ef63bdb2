"""The one base class of the errors a user can fix.

Every error the platform raises on purpose (a bad argument, a bad file, a missing
setting, a failed data-quality gate) is a ``UserError``: its message names what to fix
(the argument, file, row, key or variable), so the command line prints that one line and
exits non-zero, with no traceback (``lake --debug`` shows one). Anything else that reaches
the command line is a bug or an environment failure, reported as such.
"""

from __future__ import annotations


class UserError(Exception):
    """An error whose message says what the user can fix."""
