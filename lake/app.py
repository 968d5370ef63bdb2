"""The Native App's code archive: ``build/procedures.zip``, which the setup script's
procedures import (``IMPORTS = ('/procedures.zip')``). A stage import is a file, so the
``procedures`` package (modules and rule files) goes in as one zip, package path kept.

``python -m lake.app`` writes it; ``make app-deploy`` does so before ``snow app run``.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "procedures"
ARCHIVE = ROOT / "build" / "procedures.zip"


def zip_procedures(out: Path = ARCHIVE, package: Path = PACKAGE) -> Path:
    """Zip the package's .py, .yml and py.typed files, in a stable order (no caches)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".yml", ".typed"}
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(package.parent)), date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out


if __name__ == "__main__":
    target = zip_procedures(Path(sys.argv[1]) if len(sys.argv) > 1 else ARCHIVE)
    print(f"{target} ({target.stat().st_size:,} bytes)")
