"""The Native App installed from its bundle and run on the local engine, as a consumer
would run it: its setup script creates what its procedures need, its procedures load the
same vault as the standalone lake from the same files, an upgrade keeps the data, and a
bundle Snowflake would refuse is refused."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from lake import app as native_app
from lake import pipeline, sqlfiles
from lake.config import Settings
from lake.local import app as local_app
from lake.local.stack import Endpoints
from procedures.sample_data import Plan
from tests.conftest import SMALL, SMALL_BATCHES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_app.bundle(tmp_path_factory.mktemp("app") / "v1")


@pytest.fixture(scope="module")
def standalone(settings: Settings, applied: Endpoints) -> Settings:
    """The standalone lake the app is compared with: a database of its own on the shared
    servers, over a landing prefix of its own, with the three test batches generated,
    ingested and loaded. The app's graph ingests every file of the stage it is bound to,
    so files other tests land in the shared landing zone (tests run in any order) must not
    be in it."""
    own = settings.model_copy(
        update={
            "names": settings.names.model_copy(update={"database": "LAKE_APP_SOURCE"}),
            "local": settings.local.model_copy(update={"landing_prefix": "app-source/"}),
        }
    )
    pipeline.setup(own, applied)
    pipeline.generate(own, applied, Plan.build(**SMALL))
    for batch in SMALL_BATCHES:
        pipeline.ingest(own, applied, batch_id=batch)
        pipeline.load(own, applied, batch_id=batch)
    return own


def _counts(standalone: Settings, endpoints: Endpoints, database: str) -> dict[str, int]:
    """Rows per vault table that came from the test batches (other tests land more)."""
    from procedures import vault

    tables = vault.tables()
    batches = ", ".join(f"'{b}'" for b in SMALL_BATCHES)
    union = " UNION ALL ".join(
        f"SELECT '{t}', COUNT(*) FROM {database}.VAULT.{t} WHERE BATCH_ID IN ({batches})" for t in tables
    )
    return {str(r[0]): int(r[1]) for r in pipeline.fetch(standalone, endpoints, union)}


APP = "LAKE_APP_TEST"


@pytest.fixture(scope="module")
def app_run(standalone: Settings, applied: Endpoints, bundle_dir: Path) -> dict[str, Any]:
    """`lake app install --local`: the app installed, bound to the lake's landing stage,
    and its graph's procedures called in order."""
    report = local_app.install_and_run(standalone, applied, bundle_dir, APP)
    steps = {s.name: s.detail for s in report.steps}
    assert list(steps) == [
        f"install {APP} V1",
        "CALL BIND_LANDING_STAGE",
        "CALL INGEST_LANDING",
        "CALL LOAD_VAULT",
        "CALL VALIDATE_DATA",
    ]
    assert report.app_vault and report.lake_vault
    return {
        "installed": report.installed,
        "stage": f"{standalone.names.database}.{standalone.names.landing}.{standalone.names.landing_stage}",
        "bound": steps["CALL BIND_LANDING_STAGE"],
        "ingested": steps["CALL INGEST_LANDING"],
        "loaded": steps["CALL LOAD_VAULT"],
        "validated": steps["CALL VALIDATE_DATA"],
    }


def test_the_installed_app_loads_the_same_vault_and_quality_results_as_the_standalone_lake(
    standalone: Settings, applied: Endpoints, app_run: dict[str, Any]
) -> None:
    installed = app_run["installed"]
    assert installed.version == "V1" and installed.upgraded_from is None
    assert set(installed.procedures) == {
        "APP_CODE.BIND_LANDING_STAGE",
        "APP_CODE.INGEST_LANDING",
        "APP_CODE.LOAD_VAULT",
        "APP_CODE.VALIDATE_DATA",
        "APP_CODE.FINISH_PIPELINE_RUN",
        "APP_CODE.ERASE_SUBJECT",
    }
    assert app_run["bound"]["stage"] == app_run["stage"] and app_run["bound"]["files"] > 0
    assert set(SMALL_BATCHES) <= set(app_run["ingested"]["batches"]), app_run["ingested"]["batches"]

    in_app = _counts(standalone, applied, APP)
    assert sum(in_app.values()) > 1000
    assert in_app == _counts(standalone, applied, standalone.names.database)

    lake_quality = pipeline.validate(standalone, applied, layer="landing,vault").detail
    assert app_run["validated"]["rules"] == lake_quality["rules"]
    # the app's runs are audited inside the app, with the stage it read
    audit = pipeline.fetch(
        standalone,
        applied,
        f"SELECT procedure_name, status, arguments FROM {APP}.AUDIT.PROCEDURE_RUNS ORDER BY started_at",
    )
    assert [r[:2] for r in audit] == [
        ("BIND_LANDING_STAGE", "SUCCEEDED"),
        ("INGEST_LANDING", "SUCCEEDED"),
        ("LOAD_VAULT", "SUCCEEDED"),
        ("VALIDATE_DATA", "SUCCEEDED"),
    ]
    assert app_run["stage"] in audit[1][2]


def test_the_dashboard_reads_the_apps_objects(
    standalone: Settings, app_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from lake import ui

    for key, value in ui.environment(local_app.app_settings(standalone, APP)).items():
        monkeypatch.setenv(key, value)
    dashboard = AppTest.from_file(str(ui.DASHBOARD), default_timeout=120)
    dashboard.run()
    assert not dashboard.exception, [e.value for e in dashboard.exception]
    calls = next(m.value for m in dashboard.metric if m.label == "Procedure calls")
    assert int(calls) == 4  # the app's own audit trail: bind, ingest, load, validate
    dashboard.sidebar.radio[0].set_value("Gold KPIs").run()
    assert not dashboard.exception, [e.value for e in dashboard.exception]  # no marts in the app: said, not raised


def _version_2(v1: Path, out: Path) -> Path:
    """Version 2 of the app as a developer would make it: one new column in a state table
    of sql/ (the setup script regenerated from it) and a changed procedure."""
    shutil.copytree(v1, out)
    manifest = yaml.safe_load((out / "manifest.yml").read_text())
    manifest["version"]["name"] = "V2"
    (out / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    sql_dir = out / "sql-v2"
    shutil.copytree(sqlfiles.SQL_DIR, sql_dir)
    audit = sql_dir / "030_audit.sql"
    audit.write_text(
        audit.read_text().replace("    error VARCHAR\n);", "    error VARCHAR,\n    app_version VARCHAR\n);", 1)
    )
    setup = out / "setup_script.sql"
    setup.write_text(native_app.setup_script(setup.read_text(), sql_dir))
    archive = out / "procedures.zip"
    with zipfile.ZipFile(archive) as old:
        files = {name: old.read(name) for name in old.namelist()}
    handler = files["procedures/handlers/ingest_landing.py"].decode()
    changed = handler.replace("    return summary\n", '    summary["app_version"] = "V2"\n    return summary\n', 1)
    assert changed != handler
    files["procedures/handlers/ingest_landing.py"] = changed.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in files.items():
            new.writestr(name, data)
    archive.write_bytes(buffer.getvalue())
    return out


def test_the_app_erases_a_subject_in_its_own_tables(
    standalone: Settings, applied: Endpoints, app_run: dict[str, Any]
) -> None:
    """ERASE_SUBJECT ships in the app and forgets a client's contact people in the app's
    tables, leaving the standalone lake's alone."""
    customer_id = pipeline.fetch(
        standalone,
        applied,
        f"SELECT MIN(h.customer_id) FROM {APP}.VAULT.HUB_CUSTOMER h JOIN {APP}.VAULT.MSAT_CUSTOMER_CONTACT m "
        "ON m.customer_hk = h.customer_hk",
    )[0][0]
    emails = f"SELECT COUNT(email) FROM {{db}}.LANDING.CUSTOMERS WHERE customer_id = '{customer_id}'"
    in_lake = pipeline.fetch(standalone, applied, emails.format(db=standalone.names.database))
    erased = local_app.call(standalone, applied, "ERASE_SUBJECT", customer_id, "APP-1", True, app=APP)
    assert erased["found_before"] and erased["found_after"] == {}, erased
    assert {"LANDING.CUSTOMERS", "VAULT.SAT_CUSTOMER_PII", "VAULT.MSAT_CUSTOMER_CONTACT"} <= set(erased["erased"])
    assert pipeline.fetch(standalone, applied, emails.format(db=APP)) == [(0,)]
    assert pipeline.fetch(standalone, applied, emails.format(db=standalone.names.database)) == in_lake


def test_an_upgrade_keeps_the_state_replaces_the_code_and_adds_the_new_column(
    standalone: Settings, applied: Endpoints, bundle_dir: Path, tmp_path: Path
) -> None:
    app = "LAKE_APP_UPGRADE"
    stage = f"{standalone.names.database}.{standalone.names.landing}.{standalone.names.landing_stage}"
    local_app.install(standalone, applied, bundle_dir, app)
    # nothing bound yet: INGEST_LANDING reads LANDING.LANDING_STAGE, which an app does not have
    with pytest.raises(
        local_app.AppInstallError, match=r"stage LANDING\.LANDING_STAGE cannot be read.*BIND_LANDING_STAGE"
    ):
        local_app.call(standalone, applied, "INGEST_LANDING", app=app)
    local_app.call(standalone, applied, "BIND_LANDING_STAGE", stage, app=app)
    first = local_app.call(standalone, applied, "INGEST_LANDING", SMALL_BATCHES[0], app=app)
    assert "app_version" not in first
    local_app.call(standalone, applied, "LOAD_VAULT", SMALL_BATCHES[0], app=app)
    hubs_before = pipeline.fetch(standalone, applied, f"SELECT COUNT(*) FROM {app}.VAULT.HUB_CUSTOMER")[0][0]

    upgraded = local_app.install(standalone, applied, _version_2(bundle_dir, tmp_path / "v2"), app)
    assert (upgraded.upgraded_from, upgraded.version) == ("V1", "V2")
    second = local_app.call(standalone, applied, "INGEST_LANDING", SMALL_BATCHES[1], app=app)
    assert second["app_version"] == "V2", "the upgrade did not replace the procedure's code"
    assert second["batches"] == [SMALL_BATCHES[1]]
    loaded = local_app.call(standalone, applied, "LOAD_VAULT", SMALL_BATCHES[1], app=app)
    assert loaded["batches"] == [SMALL_BATCHES[1]]

    rows = dict(
        pipeline.fetch(
            standalone,
            applied,
            f"SELECT BATCH_ID, COUNT(*) FROM {app}.VAULT.HUB_CUSTOMER WHERE BATCH_ID <> 'SYSTEM' GROUP BY 1",
        )
    )
    assert set(rows) == set(SMALL_BATCHES[:2]), "the first batch's rows did not survive the upgrade"
    assert pipeline.fetch(standalone, applied, f"SELECT COUNT(*) FROM {app}.VAULT.HUB_CUSTOMER")[0][0] > hubs_before
    runs = pipeline.fetch(
        standalone, applied, f"SELECT procedure_name, app_version FROM {app}.AUDIT.PROCEDURE_RUNS ORDER BY started_at"
    )
    assert len(runs) == 6 and all(version is None for _, version in runs), "the new column is missing or filled"
    assert local_app.uninstall(standalone, applied, app)


def test_binding_a_stage_the_app_cannot_read_fails_naming_the_stage_and_the_grant(
    standalone: Settings, applied: Endpoints, app_run: dict[str, Any]
) -> None:
    with pytest.raises(local_app.AppInstallError, match=r"LAKE\.LANDING\.NO_SUCH_STAGE cannot be read.*GRANT USAGE"):
        local_app.call(standalone, applied, "BIND_LANDING_STAGE", "LAKE.LANDING.NO_SUCH_STAGE", app=APP)
    with pytest.raises(local_app.AppInstallError, match=r"stage must be fully qualified"):
        local_app.call(standalone, applied, "BIND_LANDING_STAGE", "LANDING_STAGE", app=APP)
    # the binding made before still holds
    bound = pipeline.fetch(
        standalone, applied, f"SELECT VALUE FROM {APP}.LANDING.SETTINGS WHERE NAME = 'LANDING_STAGE'"
    )
    assert bound == [(app_run["stage"],)]


# --------------------------------------------------------------------------- Snowflake's rules


def _bundle_with(bundle_dir: Path, out: Path, manifest_edit: Any = None, setup_edit: Any = None) -> Path:
    shutil.copytree(bundle_dir, out)
    if manifest_edit:
        manifest = yaml.safe_load((out / "manifest.yml").read_text())
        manifest_edit(manifest)
        (out / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    if setup_edit:
        (out / "setup_script.sql").write_text(setup_edit((out / "setup_script.sql").read_text()))
    return out


STAGE_REFERENCE = {
    "landing_stage": {"label": "Landing", "description": "S3", "privileges": ["USAGE"], "object_type": "STAGE"}
}


@pytest.mark.parametrize(
    ("manifest_edit", "setup_edit", "refusal"),
    [
        # https://docs.snowflake.com/en/developer-guide/native-apps/requesting-refs
        (
            lambda m: m["references"].append(STAGE_REFERENCE),
            None,
            r"reference landing_stage: a reference cannot hold a STAGE",
        ),
        (
            lambda m: m["references"][0]["consumer_warehouse"]["privileges"].append("READ"),
            None,
            r"READ is not a privilege of a WAREHOUSE reference",
        ),
        # https://docs.snowflake.com/en/developer-guide/native-apps/versioned-schema
        (
            None,
            lambda s: s + "\nCREATE TASK APP_CODE.NIGHTLY SCHEDULE = '60 MINUTE' AS SELECT 1;\n",
            r"a TASK cannot live in versioned schema APP_CODE",
        ),
        # https://docs.snowflake.com/en/developer-guide/native-apps/creating-setup-script
        (None, lambda s: "USE SCHEMA APP_CODE;\n" + s, r"a setup script cannot USE"),
        (
            None,
            lambda s: s.replace("    EXECUTE AS OWNER;", "    EXECUTE AS CALLER;", 1),
            r"cannot create an EXECUTE AS CALLER procedure",
        ),
    ],
)
def test_a_bundle_snowflake_would_refuse_is_refused_before_anything_is_installed(
    standalone: Settings,
    applied: Endpoints,
    bundle_dir: Path,
    tmp_path: Path,
    manifest_edit: Any,
    setup_edit: Any,
    refusal: str,
) -> None:
    bad = _bundle_with(bundle_dir, tmp_path / "bad", manifest_edit, setup_edit)
    with pytest.raises(native_app.AppError, match=refusal):
        local_app.install(standalone, applied, bad, "LAKE_APP_REFUSED")
    databases = {str(r[1]).upper() for r in pipeline.fetch(standalone, applied, "SHOW DATABASES")}
    assert "LAKE_APP_REFUSED" not in databases


def test_the_shipped_app_keeps_every_rule(bundle_dir: Path) -> None:
    manifest = yaml.safe_load((bundle_dir / "manifest.yml").read_text())
    statements = sqlfiles.split((bundle_dir / "setup_script.sql").read_text())
    assert native_app.manifest_problems(manifest) == []
    assert native_app.setup_script_problems(statements) == []
    assert not re.search(r"CREATE\s+(OR\s+REPLACE\s+)?TASK\s+APP_CODE\.", "\n".join(statements), re.I)


def test_the_command_line_installs_on_the_local_engine_only() -> None:
    from typer.testing import CliRunner

    from lake.cli import app as cli

    result = CliRunner().invoke(cli, ["app", "install"])
    assert result.exit_code == 2
    assert "make app-deploy" in result.output and "--local" in result.output
