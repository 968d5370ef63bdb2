"""What a pipeline step did: one report class per kind of step, each typed by the summary
its step returns and saying in one line what it did.

A procedure's summary is the JSON object its ``CALL`` returns (typed where the handler
builds it: ``procedures.handlers.<name>.Summary``, ``procedures.ingest.IngestSummary``,
``procedures.sample_data.GenerationSummary``); the steps that run on this machine (``sql/``,
the Glue catalog, dbt) have theirs here. ``lake run --json`` prints them as they are. The
command line prints ``line()`` as each step finishes; the run's closing tables are
``lake.output``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, NotRequired, TypedDict, TypeVar

from procedures.handlers import bind_landing_stage, erase_subject, load_vault, publish_gold, replay, validate_data
from procedures.ingest import IngestSummary
from procedures.sample_data import GenerationSummary

S = TypeVar("S", bound=Mapping[str, Any])


@dataclass
class StepReport(Generic[S]):
    """A finished step: its name as the command line shows it, its seconds, its summary."""

    name: str
    seconds: float
    detail: S

    def line(self) -> str:
        """What the step did, in one line: its summary's numbers and words."""
        return ", ".join(f"{k} {v}" for k, v in self.detail.items() if not isinstance(v, dict | list))


class Applied(TypedDict):
    files: int
    statements: int


class Reconciled(TypedDict):
    partitions: int
    problems: int
    found: list[str]  # each problem: "<file>: <kind> (<detail>)"


SHOWN = 5  # problems named in a step line; the command that lists them all is named after


def named(found: list[str], command: str) -> str:
    """``found`` in a step line: the first few, then how many more and where they all are."""
    text = "; ".join(found[:SHOWN])
    if len(found) > SHOWN:
        text += f"; and {len(found) - SHOWN} more ({command} lists them)"
    return text


class Reconciliation(StepReport[Reconciled]):
    def line(self) -> str:
        d = self.detail
        text = f"{d['partitions']} folders, {d['problems']} problems"
        return text + (": " + named(d["found"], "lake quality --landing-only") if d["found"] else "")


class Repaired(TypedDict):
    removed: dict[str, int]  # duplicate rows deleted per hub and link


class Loaded(load_vault.Summary):
    """LOAD_VAULT's summary with the vault's rows per table and the quarantine's rows by
    entity and reason, which ``lake`` reads after the load."""

    tables: NotRequired[dict[str, int]]
    quarantine: NotRequired[dict[str, int]]


class DbtProblem(TypedDict):
    node: str
    status: str
    failures: int


class Built(TypedDict):
    """A dbt build: results by resource type and status, the nodes that did not pass,
    dbt's own seconds, and rows per mart as ``{"SCHEMA.model": rows}``."""

    counts: dict[str, dict[str, int]]
    problems: list[DbtProblem]
    elapsed: float
    marts: NotRequired[dict[str, int]]


class Generation(StepReport[GenerationSummary]):
    def line(self) -> str:
        d = self.detail
        return f"{d['total_rows']:,} rows in {d['files']} files, {d['bytes'] / 1e6:,.1f} MB"


class Ingestion(StepReport[IngestSummary]):
    @property
    def files(self) -> str:
        """The files by status: "8 loaded, 1 failed", or "no new files"."""
        return ", ".join(f"{n} {status.lower()}" for status, n in self.detail["files"].items()) or "no new files"

    def line(self) -> str:
        d = self.detail
        text = f"{d['total_rows']:,} rows landed ({self.files}), {d['reconciliation_issues']} issues"
        found = [f"{i['file']}: {i['issue']} ({i['detail']})" for i in d.get("reconciliation", [])]
        if found:
            text += ": " + named(found, "lake quality --landing-only")
        if d["schema_drift"]:
            text += f", {len(d['schema_drift'])} files with schema drift (LANDING.SCHEMA_DRIFT)"
        return text


class VaultLoad(StepReport[Loaded]):
    @property
    def vault_rows(self) -> int:
        return sum(n for t, n in self.detail["inserted"].items() if t != "quarantined")

    @property
    def quarantined(self) -> int:
        return self.detail["inserted"].get("quarantined", 0)

    def line(self) -> str:
        batches = len(self.detail["batches"])
        return f"{self.vault_rows:,} vault rows from {batches} batches, {self.quarantined:,} quarantined"


class Validation(StepReport[validate_data.Summary]):
    def line(self) -> str:
        d = self.detail
        return (
            f"{d['rules_run']} rules: {d['passed']} passed, {d['warned']} warned, {d['failed']} failed; "
            f"{d['exceptions']:,} exception rows"
        )


class DbtBuild(StepReport[Built]):
    def line(self) -> str:
        statuses: dict[str, int] = {}
        for by_status in self.detail["counts"].values():
            for status, n in by_status.items():
                statuses[status] = statuses.get(status, 0) + n
        return f"{sum(statuses.values())} nodes: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


class Published(StepReport[publish_gold.Summary]):
    def line(self) -> str:
        d = self.detail
        return f"{len(d['tables'])} tables published in {d['published']} ({sum(d['tables'].values()):,} rows)"


class Replay(StepReport[replay.Summary]):
    def line(self) -> str:
        d = self.detail
        done = ", ".join(r["batch"] for r in d["replayed"]) or "none"
        text = f"replayed {done} ({sum(r['vault_rows'] for r in d['replayed']):,} vault rows changed)"
        if d["files_gone"]:
            text += f"; files gone (expired from the landing zone): {', '.join(d['files_gone'])}"
        if d["not_delivered"]:
            text += f"; nothing delivered: {', '.join(d['not_delivered'])}"
        return text


class Binding(StepReport[bind_landing_stage.Summary]):
    def line(self) -> str:
        return f"{self.detail['stage']} ({self.detail['files']} files)"


class Erasure(StepReport[erase_subject.Summary]):
    pass


# The report of a procedure called by name (the installed Native App's steps)
BY_PROCEDURE: dict[str, type[StepReport[Any]]] = {
    "GENERATE_SAMPLE_DATA": Generation,
    "INGEST_LANDING": Ingestion,
    "LOAD_VAULT": VaultLoad,
    "VALIDATE_DATA": Validation,
    "PUBLISH_GOLD": Published,
    "REPLAY": Replay,
    "BIND_LANDING_STAGE": Binding,
    "ERASE_SUBJECT": Erasure,
}


def called(procedure: str, seconds: float, summary: Mapping[str, Any]) -> StepReport[Any]:
    """The report of ``CALL <procedure>``: typed by what the procedure returns."""
    return BY_PROCEDURE.get(procedure, StepReport)(f"CALL {procedure}", seconds, summary)
