"""One stack per environment, holding both sides so one ``apply`` creates everything."""

from __future__ import annotations

from pathlib import Path

from cdktn import App, LocalBackend, TerraformStack
from cdktn_provider_aws.provider import AwsProvider
from cdktn_provider_snowflake.provider import SnowflakeProvider
from constructs import Construct

from lake_infra.aws import LandingZone
from lake_infra.settings import Environment
from lake_infra.snowflake import SnowflakeAccount


class LakeStack(TerraformStack):
    """The landing zone and the Snowflake account objects of one environment.

    Both providers sit in one stack so the IAM role's trust policy can read the storage
    integration's IAM user directly, and the integration takes the role's ARN as a string
    (``LandingZone.role_arn``): one apply, no cross-stack state and no second pass.
    """

    def __init__(self, scope: Construct, env: Environment) -> None:
        super().__init__(scope, env.stack_name)
        # the state stays beside the synthesized stack unless a team configures a remote
        # backend (S3 with locking); nothing in the state is read at synth time
        LocalBackend(self, path=f"terraform.{env.stack_name}.tfstate")
        AwsProvider(
            self,
            "aws",
            region=env.aws.region,
            default_tags=[{"tags": {"project": "institutional-client-lake", "environment": env.name}}],
        )
        # account, user and key come from SNOWFLAKE_ORGANIZATION_NAME, SNOWFLAKE_ACCOUNT_NAME,
        # SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY at plan time, never from this code.
        # Storage integrations and external stages are still preview resources in the
        # provider, so they are switched on by name.
        SnowflakeProvider(
            self,
            "snowflake",
            role="ACCOUNTADMIN",
            preview_features_enabled=[
                "snowflake_storage_integration_aws_resource",
                "snowflake_stage_external_s3_resource",
                "snowflake_file_format_csv_resource",
                "snowflake_file_format_json_resource",
                "snowflake_file_format_parquet_resource",
            ],
        )
        self.landing = LandingZone(self, "landing_zone", env)
        self.snowflake = SnowflakeAccount(
            self, "snowflake_account", env, aws_role_arn=self.landing.role_arn, landing_url=env.aws.landing_url
        )
        self.landing.trust_snowflake(self.snowflake.iam_user_arn, env.snowflake.storage_external_id)
        self.landing.outputs()
        self.snowflake.outputs()


def synth(environments: dict[str, Environment], outdir: Path) -> list[Path]:
    """Synthesize every environment's stack into ``outdir``; returns the stack files."""
    app = App(outdir=str(outdir))
    for env in environments.values():
        LakeStack(app, env)
    app.synth()
    return [outdir / "stacks" / env.stack_name / "cdk.tf.json" for env in environments.values()]
