"""The producer contract, written to ``docs/producer-contract.md`` by ``make ddl`` from the
spec (``procedures/spec.py``, ``procedures/landing.py``, ``procedures/ingest.py``): what a
producer sends, what the lake checks, and what a producer may change. Generated, so it
cannot drift from what ingestion does (tests/test_repository.py keeps it current)."""

from __future__ import annotations

from pathlib import Path

from procedures import ingest, landing, spec

DOC = Path("docs") / "producer-contract.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _values(column: spec.Column) -> str:
    if not column.values:
        return ""
    shown = ", ".join(f"`{v}`" for v in column.values[:8])
    return shown + (f" and {len(column.values) - 8} more" if len(column.values) > 8 else "")


def _entity(entity: spec.Entity) -> list[str]:
    delivery = "`full` (a complete snapshot, every day)" if entity.snapshot else "`delta` (changed rows)"
    parent = f"; a set of rows per `{entity.references[0].column}`" if entity.multi_active else ""
    lines = [
        f"### {entity.producer}/{entity.name}",
        "",
        f"{entity.description} Key: `{entity.key}`; delivered as {delivery}{parent}; the business "
        f"timestamp is `{entity.event_column}`.",
        "",
        "| column | type | personal data | allowed values | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{c.name}` | {c.type} | {c.pii or ''} | {_values(c)} | {_cell(c.description)} |" for c in entity.columns
    ]
    return [*lines, ""]


def producer_contract() -> str:
    """The whole document."""
    control_rows = []
    for name, meaning, default in landing.CONTROL_FIELDS:
        since = min(v for v, columns in landing.CONTROL_VERSIONS.items() if name in columns)
        needed = "required" if name in landing.REQUIRED_CONTROL_COLUMNS else f"optional (default `{default}`)"
        control_rows.append(f"| `{name}` | {since} | {needed} | {_cell(meaning)} |")
    versions = [
        f"- **Version {v}**: {', '.join(f'`{c}`' for c in columns)}."
        for v, columns in sorted(landing.CONTROL_VERSIONS.items())
    ]
    issues = [f"| `{name}` | {meaning} |" for name, meaning in ingest.ISSUES.items()]
    entities = [line for e in spec.ENTITIES for line in _entity(e)]
    return (
        "\n".join(
            [
                "# The producer contract",
                "",
                "<!-- Generated from procedures/spec.py, procedures/landing.py and procedures/ingest.py by",
                "     `make ddl` (lake/contract.py); do not edit by hand. -->",
                "",
                "What a producer (finance, operations, CRM) sends to the landing zone, what the lake",
                "checks, and what a producer may change without asking. Contract version: "
                f"**{landing.CONTRACT_VERSION}**.",
                "",
                "## Layout",
                "",
                "One folder per producer, entity and load date under the landing URL; the load date is",
                "the batch (`load_date=2026-01-05` is batch `B20260105`):",
                "",
                "```",
                "<producer>/<entity>/load_date=YYYY-MM-DD/<data file>     any name; parquet, csv or jsonl",
                "<producer>/<entity>/load_date=YYYY-MM-DD/_control.csv    one per folder, written last",
                "```",
                "",
                "A folder whose producer or entity is not in the tables below is refused by `lake upload`",
                "and recorded as `unknown_folder` by ingestion; the other folders of the batch load.",
                "",
                "## The control file",
                "",
                f"`{landing.CONTROL_FILE}`: CSV, a header line, then one line per data file of the folder. Columns",
                "are read by the header's names (any order, any case), never by position.",
                "",
                "| column | since version | required | meaning |",
                "| --- | --- | --- | --- |",
                *control_rows,
                "",
                *versions,
                "",
                "A control file of an earlier version is read as that version says: a version-1 file (no",
                "`delivery`) is a `delta` delivery. A column no version has, a required column missing, or",
                "a file that is not CSV refuses the control file (`unreadable_control`): `lake upload`",
                "names it before anything is uploaded, ingestion records it and loads the rest.",
                "",
                "## What the lake checks",
                "",
                "Before ingestion (`lake quality --landing-only`, the `reconcile landing` step of `lake",
                "run`): every file the control file names is in the folder with its size and MD5, and",
                "no other file is (whatever its name). During ingestion, each file's rows against",
                "`row_count`, recorded in `LANDING.RECONCILIATION` with a `DETAIL`:",
                "",
                "| issue | meaning |",
                "| --- | --- |",
                *issues,
                "",
                "Every issue is named in the step's line, by `lake ingest` and by `lake quality",
                "--landing-only`, which exit 1 when there is one (`lake run` too, after its last step).",
                "",
                "## What a producer may change",
                "",
                "- **Add a column**: it is ignored and recorded (`LANDING.SCHEMA_DRIFT`, `extra_column`);",
                "  the rows load.",
                "- **Drop a column**: the file's rows are quarantined with the reason (`missing_column`),",
                "  never loaded with a hole.",
                "- **Reorder columns, change a file's format or name**: columns are matched by name, the",
                "  format and name come from the control file.",
                "- **Send an empty extract**: a file with no rows, promised as 0, is a quiet day.",
                "",
                "A producer may not rewrite a landed file: the landing zone refuses other bytes under a",
                "name it holds, and a file rewritten behind its back is reported (`changed_after_load`).",
                "",
                "## Corrections",
                "",
                "- `lake landing supersede PATH --with FILE --reason R`: the landed file is moved under",
                "  `_withdrawn/` (kept), the corrected one lands under its name, the batch is ingested",
                "  again; a corrected control file is checked against this contract first.",
                "- `lake landing withdraw PATH --reason R`: the file is moved under `_withdrawn/`, and what",
                "  ingestion took from it is removed.",
                "- Both are refused for a data file the vault has loaded: the vault keeps history, so send",
                "  the corrected rows in a later delivery (a newer change of the key supersedes it).",
                "- `lake repair --batch B --reason R`: a batch recorded as loaded that landed no file.",
                "",
                "Each is a row of `AUDIT.CORRECTIONS` (when, what, why, who, and what it changed).",
                "",
                "## Entities",
                "",
                *entities,
            ]
        ).rstrip()
        + "\n"
    )
