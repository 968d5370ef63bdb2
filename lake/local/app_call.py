"""One CALL of a locally installed Native App procedure, in a process of its own.

``lake/local/app.py`` starts ``python -m lake.local.app_call`` with a JSON job on stdin.
The installed version's archive goes first on ``sys.path`` before anything imports
``procedures``, so the handler (and everything it imports) is the installed version's,
as a stage IMPORT is on Snowflake. The answer is one JSON line on stdout.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any


def run(job: dict[str, Any]) -> Any:
    for path in reversed(job["imports"]):
        sys.path.insert(0, path)
    module_name, _, function = job["handler"].rpartition(".")
    module = importlib.import_module(module_name)
    source = Path(str(module.__file__))
    if not any(str(source).startswith(path) for path in job["imports"]):
        raise RuntimeError(f"{module_name} was imported from {source}, not from the app's archive")
    handler = getattr(module, function)

    from lake.config import Settings
    from lake.local import strict
    from lake.local.stack import Endpoints
    from lake.session import snowpark_session

    settings = Settings.model_validate(job["settings"])
    with snowpark_session(settings, Endpoints(**job["endpoints"]), job["schema"]) as session:
        return handler(strict.owners_rights(session, job["procedure"]), *job["arguments"])


def main() -> int:
    job = json.loads(sys.stdin.read())
    try:
        result = run(job)
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
        return 1
    print(json.dumps({"result": result}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
