"""The infrastructure in cdktf/: what it creates and the properties that matter, a golden
snapshot of the synthesized JSON, the checkov gate, and settings that refuse bad input."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from lake import catalog, infra
from procedures import governance, spec

pytestmark = pytest.mark.infra

GOLDEN = Path(__file__).parent / "golden"
ENVIRONMENTS = ("dev", "prod")


def resources(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return stack["resource"].get(kind, {})


def one(stack: dict[str, Any], kind: str, name_part: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in resources(stack, kind).items() if name_part in k]
    assert len(found) == 1, f"{kind} *{name_part}*: {[k for k, _ in found]}"
    return found[0]


def ref(kind: str, key: str, attr: str) -> str:
    return "${" + f"{kind}.{key}.{attr}" + "}"


def for_bucket(stack: dict[str, Any], kind: str, bucket_key: str) -> dict[str, Any]:
    matches = [v for v in resources(stack, kind).values() if v["bucket"] == ref("aws_s3_bucket", bucket_key, "id")]
    assert len(matches) == 1, f"{kind} for {bucket_key}: {len(matches)}"
    return matches[0]


@pytest.fixture(params=ENVIRONMENTS)
def stack(request: pytest.FixtureRequest, stacks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return stacks[request.param]


def test_one_stack_per_environment(stacks: dict[str, dict[str, Any]]) -> None:
    assert sorted(stacks) == sorted(ENVIRONMENTS)
    for env, stack in stacks.items():
        assert stack["//"]["metadata"]["stackName"] == f"lake-{env}"
        assert set(stack["terraform"]["required_providers"]) == {"aws", "snowflake"}


def test_buckets_are_encrypted_versioned_private_tls_only_and_expire_old_versions(stack: dict[str, Any]) -> None:
    landing_key, landing = one(stack, "aws_s3_bucket", "landing_zone_landing_")
    logs_key, _ = one(stack, "aws_s3_bucket", "access_logs")
    key_ref = ref("aws_kms_key", one(stack, "aws_kms_key", "landing_key")[0], "arn")
    assert landing["force_destroy"] is False
    sse = for_bucket(stack, "aws_s3_bucket_server_side_encryption_configuration", landing_key)["rule"][0]
    assert sse["apply_server_side_encryption_by_default"] == {"sse_algorithm": "aws:kms", "kms_master_key_id": key_ref}
    assert sse["bucket_key_enabled"] is True
    kms_key = one(stack, "aws_kms_key", "landing_key")[1]
    assert kms_key["enable_key_rotation"] is True
    for bucket in (landing_key, logs_key):
        assert for_bucket(stack, "aws_s3_bucket_versioning", bucket)["versioning_configuration"] == {
            "status": "Enabled"
        }
        block = for_bucket(stack, "aws_s3_bucket_public_access_block", bucket)
        assert all(
            block[k] is True
            for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        )
        policy = json.loads(for_bucket(stack, "aws_s3_bucket_policy", bucket)["policy"])
        deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Principal"] == "*" and deny[0]["Action"] == "s3:*"
        assert f"{ref('aws_s3_bucket', bucket, 'arn')}/*" in deny[0]["Resource"]
        rule = for_bucket(stack, "aws_s3_bucket_lifecycle_configuration", bucket)["rule"][0]
        assert rule["status"] == "Enabled"
        assert rule["noncurrent_version_expiration"][0]["noncurrent_days"] >= 1
        assert rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] >= 1
        # landed files expire after the governance spec's age; access logs after their own
        assert rule["expiration"][0]["days"] == governance.LANDING_FILE_DAYS or bucket == logs_key
    logging = for_bucket(stack, "aws_s3_bucket_logging", landing_key)
    assert logging["target_bucket"] == ref("aws_s3_bucket", logs_key, "id")


def test_snowflake_role_trusts_the_integration_by_external_id_in_one_apply(stack: dict[str, Any]) -> None:
    integration_key, integration = one(stack, "snowflake_storage_integration_aws", "storage_integration")
    _, role = one(stack, "aws_iam_role", "snowflake_role")
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert len(trust) == 1 and trust[0]["Action"] == "sts:AssumeRole"
    # the principal is the integration's own IAM user, read from the integration resource
    principal = ref("snowflake_storage_integration_aws", integration_key, "describe_output[0].iam_user_arn")
    assert trust[0]["Principal"] == {"AWS": principal}
    assert trust[0]["Condition"] == {"StringEquals": {"sts:ExternalId": integration["storage_aws_external_id"]}}
    # the integration takes the role's ARN as a string: no reference back to the role, so no cycle
    arn = integration["storage_aws_role_arn"]
    assert "aws_iam_role." not in arn
    assert re.fullmatch(
        r"arn:\$\{data\.aws_partition\.\w+\.partition\}:iam::\$\{data\.aws_caller_identity\.\w+\.account_id\}:role/"
        + role["name"],
        arn,
    )
    # the role reads the landing prefix and decrypts it; it cannot write or delete
    _, policy = one(stack, "aws_iam_role_policy", "snowflake_role_policy")
    actions = {a for s in json.loads(policy["policy"])["Statement"] for a in s["Action"]}
    assert actions == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "kms:Decrypt",
        "kms:DescribeKey",
    }
    stage = next(iter(resources(stack, "snowflake_stage_external_s3").values()))
    assert stage["storage_integration"] == ref("snowflake_storage_integration_aws", integration_key, "name")
    assert stage["url"] in integration["storage_allowed_locations"]


def test_warehouses_auto_suspend_under_a_resource_monitor(stack: dict[str, Any]) -> None:
    monitor_key, monitor = one(stack, "snowflake_resource_monitor", "monitor")
    assert monitor["credit_quota"] > 0 and monitor["suspend_trigger"] == 100
    warehouses = resources(stack, "snowflake_warehouse")
    assert warehouses
    for warehouse in warehouses.values():
        assert 60 <= warehouse["auto_suspend"] <= 300
        assert warehouse["auto_resume"] == "true" and warehouse["initially_suspended"] is True
        assert warehouse["resource_monitor"] == ref("snowflake_resource_monitor", monitor_key, "name")


def _grants(stack: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Role function (ADMIN, ANALYST, ...) -> its privilege grants."""
    roles = {
        ref("snowflake_account_role", k, "name"): v["name"].rsplit("_", 1)[1]
        for k, v in resources(stack, "snowflake_account_role").items()
    }
    by_role: dict[str, list[dict[str, Any]]] = {}
    for grant in resources(stack, "snowflake_grant_privileges_to_account_role").values():
        by_role.setdefault(roles[grant["account_role_name"]], []).append(grant)
    return by_role


def _schema_of(stack: dict[str, Any], reference: str) -> str:
    key = re.search(r"snowflake_schema\.(\w+)\.name", reference)
    assert key, reference
    return resources(stack, "snowflake_schema")[key.group(1)]["name"]


def test_governance_roles_are_least_privilege_and_roll_up_to_sysadmin(stack: dict[str, Any]) -> None:
    # names are <prefix>_<ENV>_<FUNCTION>
    roles = {v["name"].split("_", 2)[2]: k for k, v in resources(stack, "snowflake_account_role").items()}
    assert set(roles) == {"ADMIN", "ENGINEER", "ANALYST", "AUDITOR", *governance.REGION_ROLES}
    parents = set()
    for grant in resources(stack, "snowflake_grant_account_role").values():
        child = next(f for f, k in roles.items() if grant["role_name"] == ref("snowflake_account_role", k, "name"))
        parent = next(
            (f for f, k in roles.items() if grant["parent_role_name"] == ref("snowflake_account_role", k, "name")),
            grant["parent_role_name"],
        )
        parents.add((child, parent))
    assert parents >= {("ADMIN", "SYSADMIN"), ("ENGINEER", "ADMIN"), ("ANALYST", "ENGINEER"), ("AUDITOR", "ADMIN")}
    # region analysts roll up to the admin and inherit the analyst's grants
    assert parents == set(governance.PARENT.items()) | {
        (i, r) for r, inherited in governance.INHERITS.items() for i in inherited
    }
    grants = _grants(stack)
    # the analyst reads gold and nothing else (its future grants are on GOLD_PENDING too, which
    # the publishing swap turns into GOLD, but USAGE only on GOLD); the auditor reads audit,
    # quality and the vault
    for function, readable, future_too in (
        ("ANALYST", {"GOLD"}, {"GOLD_PENDING"}),
        ("AUDITOR", {"AUDIT", "QUALITY", "VAULT", "GOVERNANCE"}, set()),
    ):
        future = [g for g in grants[function] if "on_schema_object" in g and "future" in g["on_schema_object"]]
        assert {
            _schema_of(stack, g["on_schema_object"]["future"]["in_schema"]) for g in future
        } == readable | future_too
        assert all(g["privileges"] == ["SELECT"] for g in future)
        schema_grants = [g for g in grants[function] if "on_schema" in g]
        assert all(g["privileges"] == ["USAGE"] for g in schema_grants)
        assert {_schema_of(stack, g["on_schema"]["schema_name"]) for g in schema_grants} == readable
        assert not any(g.get("all_privileges") for g in grants[function])
    # nobody holds all privileges: the deployer owns what it needs (next test)
    assert not any(g.get("all_privileges") for role in grants.values() for g in role)
    # every role that queries can use a warehouse
    for function in ("ENGINEER", "ANALYST", "AUDITOR"):
        assert any(g.get("on_account_object", {}).get("object_type") == "WAREHOUSE" for g in grants[function]), function


def test_database_schemas_and_file_formats_match_the_local_ddl(stack: dict[str, Any]) -> None:
    from lake.config import Names

    schemas = {v["name"] for v in resources(stack, "snowflake_schema").values()}
    assert schemas == set(Names().schemas.values())
    formats = {
        v["name"]
        for kind in ("csv", "json", "parquet")
        for v in resources(stack, f"snowflake_file_format_{kind}").values()
    }
    ddl = (Path(infra.ROOT) / "sql" / "020_landing.sql").read_text()
    assert formats == set(re.findall(r"CREATE FILE FORMAT IF NOT EXISTS .*\.(\w+)$", ddl, re.M))


def test_a_glue_crawler_per_landing_entity_names_the_tables_catalog_sync_registers(stack: dict[str, Any]) -> None:
    database_key, database = one(stack, "aws_glue_catalog_database", "glue_database")
    crawlers = list(resources(stack, "aws_glue_crawler").values())
    assert len(crawlers) == len(spec.ENTITIES)
    landing_url = next(iter(resources(stack, "snowflake_stage_external_s3").values()))["url"]
    by_path = {c["s3_target"][0]["path"]: c for c in crawlers}
    for entity in spec.ENTITIES:
        crawler = by_path[f"{landing_url}{entity.producer}/{entity.name}/"]
        # a crawler names the table after the folder, with its prefix: the same name as catalog sync
        assert crawler["table_prefix"] + entity.name == catalog.table_name(entity)
        assert crawler["database_name"] == ref("aws_glue_catalog_database", database_key, "name")
        assert crawler["security_configuration"].startswith("${aws_glue_security_configuration.")
        assert crawler["schedule"].startswith("cron(")
        config = json.loads(crawler["configuration"])
        assert config["CrawlerOutput"]["Partitions"]["AddOrUpdateBehavior"] == "InheritFromTable"
    assert database["name"]


def test_synthesized_json_matches_the_golden_snapshot(stacks: dict[str, dict[str, Any]]) -> None:
    """A change to the infrastructure shows up as a reviewed diff of tests/infra/golden.
    Regenerate with LAKE_UPDATE_GOLDEN=1 pytest tests/infra after checking the change."""
    for env, stack in stacks.items():
        golden = GOLDEN / f"lake-{env}.cdk.tf.json"
        text = json.dumps(stack, indent=2, sort_keys=True) + "\n"
        if os.environ.get("LAKE_UPDATE_GOLDEN"):
            golden.write_text(text)
        assert golden.is_file(), f"{golden} is missing: run LAKE_UPDATE_GOLDEN=1 pytest tests/infra"
        expected = json.loads(golden.read_text())
        changed = sorted(
            f"{kind}.{name}"
            for kind in set(stack["resource"]) | set(expected["resource"])
            for name in set(stack["resource"].get(kind, {})) | set(expected["resource"].get(kind, {}))
            if stack["resource"].get(kind, {}).get(name) != expected["resource"].get(kind, {}).get(name)
        )
        assert stack == expected, f"lake-{env} differs from {golden.name}; resources changed: {changed[:20]}"


def test_checkov_passes_every_stack_apart_from_the_reasoned_skip_list(synth_dir: Path) -> None:
    skips = infra.load_skips()
    assert skips and all(len(s.reason) > 40 for s in skips)
    reports = [infra.check(stack, skips) for stack in sorted((synth_dir / "stacks").iterdir())]
    assert len(reports) == len(ENVIRONMENTS)
    for report in reports:
        assert report.parsing_errors == [], report.summary()
        assert report.failed == [], [(f["check_id"], f["resource"]) for f in report.failed]
        assert report.passed >= 50, report.summary()
    # a skip that no longer matches anything is stale and must go
    assert not set.intersection(*(set(r.unused_skips) for r in reports))


def test_checkov_gate_fails_on_a_finding_outside_the_skip_list(synth_dir: Path) -> None:
    report = infra.check(synth_dir / "stacks" / "lake-dev", skips=[])
    assert not report.ok and {f["check_id"] for f in report.failed} >= {"CKV_AWS_144"}


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "skips.toml"
    path.write_text('[[skip]]\ncheck = "CKV_AWS_144"\nresource = "aws_s3_bucket.*"\n')
    with pytest.raises(infra.InfraError, match="skip entry 1 lacks reason"):
        infra.load_skips(path)


def test_the_deployer_holds_what_the_account_bootstrap_gives_it(stack: dict[str, Any]) -> None:
    """cdktf and sql/005_account.sql agree (lake/privileges.py checks the deploy plan
    against the bootstrap): the deployer owns the database, every schema (managed access)
    and the landing stage, and holds the account privileges, SNOWFLAKE database roles and
    warehouses of procedures/governance.py."""
    roles = {v["name"].split("_", 2)[2]: k for k, v in resources(stack, "snowflake_account_role").items()}
    deployer = ref("snowflake_account_role", roles[governance.DEPLOYER], "name")
    owned = {
        (g["on"]["object_type"], g["on"]["object_name"])
        for g in resources(stack, "snowflake_grant_ownership").values()
        if g["account_role_name"] == deployer and g.get("outbound_privileges") == "COPY"
    }
    assert {kind for kind, _ in owned} == {"DATABASE", "SCHEMA", "STAGE"}
    for key in resources(stack, "snowflake_schema"):
        assert any(kind == "SCHEMA" and ref("snowflake_schema", key, "name") in name for kind, name in owned), key
    assert all(v["with_managed_access"] == "true" for v in resources(stack, "snowflake_schema").values())
    grants = [g for g in resources(stack, "snowflake_grant_privileges_to_account_role").values()]
    mine = [g for g in grants if g["account_role_name"] == deployer]
    (account,) = [g for g in mine if g.get("on_account")]
    assert set(account["privileges"]) == set(governance.ACCOUNT_PRIVILEGES)
    database_roles = {
        g["database_role_name"]
        for g in resources(stack, "snowflake_grant_database_role").values()
        if g["parent_role_name"] == deployer
    }
    assert database_roles == {f'"SNOWFLAKE"."{r}"' for r in governance.SNOWFLAKE_DATABASE_ROLES}
    on_objects = [g["on_account_object"] for g in mine if "on_account_object" in g]
    warehouses = {o["object_name"] for o in on_objects if o["object_type"] == "WAREHOUSE"}
    assert len(warehouses) == len(resources(stack, "snowflake_warehouse"))
    # the e-mail integration failed runs are told through, and its USAGE (as the bootstrap)
    (integration,) = resources(stack, "snowflake_email_notification_integration")
    assert [o["object_name"] for o in on_objects if o["object_type"] == "INTEGRATION"] == [
        ref("snowflake_email_notification_integration", integration, "name")
    ]
    # and the bootstrap grants the same
    bootstrap = (Path(infra.ROOT) / "sql" / "005_account.sql").read_text()
    for privilege in governance.ACCOUNT_PRIVILEGES:
        assert f"GRANT {privilege} ON ACCOUNT TO ROLE <% role_prefix %>_{governance.DEPLOYER};" in bootstrap
    for database_role in governance.SNOWFLAKE_DATABASE_ROLES:
        assert (
            f"GRANT DATABASE ROLE SNOWFLAKE.{database_role} TO ROLE <% role_prefix %>_{governance.DEPLOYER};"
            in bootstrap
        )
