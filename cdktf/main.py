"""Synthesize the lake's infrastructure: ``python cdktf/main.py [--out DIR] [--env NAME ...]``.

``lake infra synth`` runs this; so does ``cdktn synth`` (see cdktf.json). Offline: it
needs Node.js for the jsii runtime, no terraform binary and no cloud credentials.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # lake_infra, and the entity spec it reads
# Node.js 20 runs jsii fine but is past its end of life, which jsii announces in a banner
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from lake_infra import app, settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("cdktf.out"), help="output folder (default cdktf.out)")
    parser.add_argument("--config", type=Path, default=None, help="settings file (default cdktf/environments.toml)")
    parser.add_argument("--env", action="append", default=None, help="only this environment (repeatable)")
    args = parser.parse_args(argv)
    try:
        environments = settings.load(args.config)
    except settings.InfraConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.env:
        unknown = sorted(set(args.env) - set(environments))
        if unknown:
            print(f"error: unknown environment(s) {unknown}; defined: {sorted(environments)}", file=sys.stderr)
            return 2
        environments = {name: environments[name] for name in args.env}
    for path in app.synth(environments, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
