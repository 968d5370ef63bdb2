"""The Snowflake side: warehouses under a resource monitor, the database and its schemas,
the storage integration, external stage and file formats, and the governance roles.

The roles (``<P>_<ENV>_<FUNCTION>``), their hierarchy and grants come from
``procedures/governance.py`` (its docstring has the table), which also generates the same
roles as SQL for a deployment without Terraform; every role rolls up to SYSADMIN.
Masking, row access and tags are SQL generated from the specs (sql/070_governance.sql),
not Terraform resources.
"""

from __future__ import annotations

from typing import Any

from cdktn_provider_snowflake.account_role import AccountRole
from cdktn_provider_snowflake.database import Database
from cdktn_provider_snowflake.email_notification_integration import EmailNotificationIntegration
from cdktn_provider_snowflake.file_format_csv import FileFormatCsv
from cdktn_provider_snowflake.file_format_json import FileFormatJson
from cdktn_provider_snowflake.file_format_parquet import FileFormatParquet
from cdktn_provider_snowflake.grant_account_role import GrantAccountRole
from cdktn_provider_snowflake.grant_database_role import GrantDatabaseRole
from cdktn_provider_snowflake.grant_ownership import GrantOwnership
from cdktn_provider_snowflake.grant_privileges_to_account_role import GrantPrivilegesToAccountRole
from cdktn_provider_snowflake.resource_monitor import ResourceMonitor
from cdktn_provider_snowflake.schema import Schema
from cdktn_provider_snowflake.stage_external_s3 import StageExternalS3, StageExternalS3Directory
from cdktn_provider_snowflake.storage_integration_aws import StorageIntegrationAws
from cdktn_provider_snowflake.warehouse import Warehouse
from constructs import Construct

from lake_infra.outputs import output
from lake_infra.settings import Environment
from procedures.governance import (
    ACCESS,
    ACCOUNT_PRIVILEGES,
    DEPLOYER,
    ENGINEER_SCHEMA,
    INHERITS,
    PARENT,
    READ,
    SNOWFLAKE_DATABASE_ROLES,
    pending_access,
)

SCHEMA_COMMENTS = {
    "landing": "Files from the S3 landing zone, every column as text",
    "vault": "Data Vault 2.0 raw vault: hubs, links, satellites",
    "quality": "Data quality rules, results history and exceptions",
    "audit": "Procedure runs, loads and reconciliation",
    "bronze": "dbt bronze: raw data from the vault",
    "silver": "dbt silver: cleansed and conformed",
    "gold": "dbt gold: business-ready marts",
    "gold_pending": "dbt gold being validated; PUBLISH_GOLD swaps it with gold",
    "governance": "Tags, masking and row access policies, entitlements",
}
WAREHOUSE_USERS = {"load": ("ENGINEER",), "transform": ("ENGINEER",), "analytics": ("ANALYST", "AUDITOR")}


class SnowflakeAccount(Construct):
    def __init__(self, scope: Construct, id_: str, env: Environment, *, aws_role_arn: str, landing_url: str) -> None:
        super().__init__(scope, id_)
        sf = env.snowflake
        self.env = env
        self.monitor = ResourceMonitor(
            self,
            "monitor",
            name=f"{sf.role_prefix}_{env.name.upper()}_MONITOR",
            credit_quota=sf.monthly_credit_quota,
            frequency="MONTHLY",
            start_timestamp="IMMEDIATELY",
            notify_triggers=[75, 90],
            suspend_trigger=100,
            suspend_immediate_trigger=110,
        )
        self.warehouses = {
            w.name: Warehouse(
                self,
                f"warehouse_{w.name.lower()}",
                name=w.name,
                warehouse_size=w.size,
                auto_suspend=w.auto_suspend_seconds,
                auto_resume="true",
                initially_suspended=True,
                resource_monitor=self.monitor.name,
                comment=f"lake {env.name}: {w.purpose}",
            )
            for w in sf.warehouses
        }
        self.database = Database(
            self,
            "database",
            name=sf.database,
            comment=f"Institutional client data lake ({env.name})",
            data_retention_time_in_days=sf.data_retention_days,
            drop_public_schema_on_creation=True,
        )
        self.schemas = {
            layer: Schema(
                self,
                f"schema_{layer}",
                database=self.database.name,
                name=name,
                comment=SCHEMA_COMMENTS[layer],
                # only the schema's owner (the deployer) grants on what it holds
                with_managed_access="true",
            )
            for layer, name in env.names.schemas.items()
        }
        landing = self.schemas["landing"]
        self.integration = StorageIntegrationAws(
            self,
            "storage_integration",
            name=sf.storage_integration,
            enabled=True,
            storage_provider="S3",
            storage_aws_role_arn=aws_role_arn,
            storage_aws_external_id=sf.storage_external_id,
            storage_allowed_locations=[landing_url],
            comment=f"lake {env.name}: the S3 landing zone",
        )
        self._file_formats(landing)
        self.stage = StageExternalS3(
            self,
            "landing_stage",
            database=self.database.name,
            schema=landing.name,
            name=env.names.landing_stage,
            url=landing_url,
            storage_integration=self.integration.name,
            # INGEST_LANDING finds the producers' control files in the stage's directory
            # table (a SELECT an owner's-rights procedure may run; LIST it may not), and
            # refreshes it itself (https://docs.snowflake.com/en/user-guide/data-load-dirtables-manage)
            directory=StageExternalS3Directory(enable=True),
            comment="S3 landing zone",
        )
        # where failed runs and alerts are told (sql/005_account.sql creates the same)
        self.notifications = EmailNotificationIntegration(
            self,
            "notification_integration",
            name=sf.notification_integration,
            enabled=True,
            allowed_recipients=list(sf.alert_recipients) or None,
            comment=f"lake {env.name}: failed pipeline runs, failed quality rules and missed freshness SLAs",
        )
        self._roles()

    @property
    def iam_user_arn(self) -> str:
        return self.integration.describe_output.get(0).iam_user_arn

    def _file_formats(self, landing: Schema) -> None:
        # the same formats as sql/020_landing.sql, which the local target applies
        database, schema = self.database.name, landing.name
        FileFormatParquet(
            self,
            "parquet_text",
            database=database,
            schema=schema,
            name="PARQUET_TEXT",
            comment="Producer Parquet files",
        )
        FileFormatCsv(
            self,
            "csv_text",
            database=database,
            schema=schema,
            name="CSV_TEXT",
            skip_header=1,
            field_optionally_enclosed_by='"',
            comment="Producer CSV files with a header line",
        )
        FileFormatCsv(
            self,
            "csv_header",
            database=database,
            schema=schema,
            name="CSV_HEADER",
            parse_header="true",
            field_optionally_enclosed_by='"',
            comment="Producer CSV files, header parsed for schema inference",
        )
        FileFormatJson(
            self,
            "json_text",
            database=database,
            schema=schema,
            name="JSON_TEXT",
            comment="Producer newline-delimited JSON files",
        )

    def _roles(self) -> None:
        env = self.env
        roles = {
            function: AccountRole(self, f"role_{function.lower()}", name=env.role(function), comment=f"lake {env.name}")
            for function in PARENT
        }
        self.roles = roles
        for function, parent in PARENT.items():
            GrantAccountRole(
                self,
                f"grant_{function.lower()}_to_{parent.lower()}",
                role_name=roles[function].name,
                parent_role_name=roles[parent].name if parent in roles else parent,
            )
        for function, inherited in INHERITS.items():
            for base in inherited:
                GrantAccountRole(
                    self,
                    f"grant_{base.lower()}_to_{function.lower()}",
                    role_name=roles[base].name,
                    parent_role_name=roles[function].name,
                )
        database = self.database.name
        self._deployer(roles[DEPLOYER].name)
        for function in ("ENGINEER", "ANALYST", "AUDITOR"):
            role = roles[function].name
            GrantPrivilegesToAccountRole(
                self,
                f"{function.lower()}_database",
                account_role_name=role,
                privileges=["USAGE"],
                on_account_object={"object_type": "DATABASE", "object_name": database},
            )
            for layer in ACCESS[function]:
                schema = f'"{database}"."{self.schemas[layer].name}"'
                GrantPrivilegesToAccountRole(
                    self,
                    f"{function.lower()}_schema_{layer}",
                    account_role_name=role,
                    privileges=list(ENGINEER_SCHEMA if function == "ENGINEER" else ("USAGE",)),
                    on_schema={"schema_name": schema},
                )
            # readers' future grants on the pending schema too, without USAGE: PUBLISH_GOLD's swap
            # carries them into the published schema (procedures/governance.PUBLISHED_THROUGH)
            for layer, privileges in {**ACCESS[function], **pending_access(function)}.items():
                schema = f'"{database}"."{self.schemas[layer].name}"'
                for kind in ("TABLES", "VIEWS"):
                    GrantPrivilegesToAccountRole(
                        self,
                        f"{function.lower()}_future_{kind.lower()}_{layer}",
                        account_role_name=role,
                        privileges=list(privileges if kind == "TABLES" else READ),
                        on_schema_object={"future": {"object_type_plural": kind, "in_schema": schema}},
                    )
        GrantPrivilegesToAccountRole(
            self,
            "engineer_stage",
            account_role_name=roles["ENGINEER"].name,
            privileges=["USAGE"],
            on_schema_object={
                "object_type": "STAGE",
                "object_name": f'"{database}"."{self.schemas["landing"].name}"."{self.stage.name}"',
            },
        )
        for function in ("ENGINEER", "ANALYST", "AUDITOR"):
            # a role uses the warehouses of its purposes, or the first one if none has them
            mine = [w for w in env.snowflake.warehouses if function in WAREHOUSE_USERS[w.purpose]]
            for w in mine or env.snowflake.warehouses[:1]:
                GrantPrivilegesToAccountRole(
                    self,
                    f"{function.lower()}_warehouse_{w.name.lower()}",
                    account_role_name=roles[function].name,
                    privileges=["USAGE"],
                    on_account_object={"object_type": "WAREHOUSE", "object_name": self.warehouses[w.name].name},
                )

    def _deployer(self, deployer: str) -> None:
        """What the account bootstrap (sql/005_account.sql) gives the deployer, from the same
        spec: ownership of the database, its schemas and the landing stage (so `lake deploy`
        alters and grants on them), its account privileges, its SNOWFLAKE database roles and
        the warehouses. lake/privileges.py checks the deploy plan against these holdings."""
        database = self.database.name
        owned: list[tuple[str, str, str, list[Any]]] = [("database", "DATABASE", f'"{database}"', [self.database])]
        owned += [
            (f"schema_{layer}", "SCHEMA", f'"{database}"."{each.name}"', [each]) for layer, each in self.schemas.items()
        ]
        landing = self.schemas["landing"].name
        owned.append(("landing_stage", "STAGE", f'"{database}"."{landing}"."{self.stage.name}"', [self.stage]))
        for key, kind, name, after in owned:
            GrantOwnership(
                self,
                f"deployer_owns_{key}",
                account_role_name=deployer,
                outbound_privileges="COPY",
                on={"object_type": kind, "object_name": name},
                depends_on=after,
            )
        GrantPrivilegesToAccountRole(
            self,
            "deployer_account",
            account_role_name=deployer,
            privileges=sorted(ACCOUNT_PRIVILEGES),
            on_account=True,
        )
        for database_role in sorted(SNOWFLAKE_DATABASE_ROLES):
            GrantDatabaseRole(
                self,
                f"deployer_snowflake_{database_role.lower()}",
                database_role_name=f'"SNOWFLAKE"."{database_role}"',
                parent_role_name=deployer,
            )
        GrantPrivilegesToAccountRole(
            self,
            "deployer_notification_integration",
            account_role_name=deployer,
            privileges=["USAGE"],
            on_account_object={"object_type": "INTEGRATION", "object_name": self.notifications.name},
        )
        for name, warehouse in self.warehouses.items():
            GrantPrivilegesToAccountRole(
                self,
                f"deployer_warehouse_{name.lower()}",
                account_role_name=deployer,
                privileges=["USAGE"],
                on_account_object={"object_type": "WAREHOUSE", "object_name": warehouse.name},
            )

    def outputs(self) -> None:
        output(
            self,
            "storage_integration_name",
            self.integration.name,
            "LAKE_STORAGE_INTEGRATION: the storage integration's name",
        )
        output(
            self,
            "storage_aws_iam_user_arn",
            self.iam_user_arn,
            "The IAM user Snowflake assumes the role as (trusted by the role)",
        )
        output(
            self,
            "landing_stage_name",
            f"{self.database.name}.{self.stage.schema}.{self.stage.name}",
            "The external stage over the landing zone",
        )
