"""The AWS side: the S3 landing zone, the role Snowflake assumes, and the Glue catalog."""

from __future__ import annotations

import json
from typing import Any

from cdktn_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktn_provider_aws.data_aws_partition import DataAwsPartition
from cdktn_provider_aws.glue_catalog_database import GlueCatalogDatabase
from cdktn_provider_aws.glue_crawler import GlueCrawler
from cdktn_provider_aws.glue_security_configuration import GlueSecurityConfiguration
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktn_provider_aws.kms_alias import KmsAlias
from cdktn_provider_aws.kms_key import KmsKey
from cdktn_provider_aws.s3_bucket import S3Bucket
from cdktn_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktn_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktn_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktn_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktn_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktn_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktn_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from constructs import Construct

from lake_infra import crawlers
from lake_infra.outputs import output
from lake_infra.settings import Environment
from procedures.governance import LANDING_FILE_DAYS

# the role Snowflake assumes to read the landing zone, by name, so its ARN can be written
# as a string before the role exists (see LandingZone.role_arn)
SNOWFLAKE_ROLE = "{env}-lake-snowflake-landing"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _lifecycle_rule(
    id_: str, *, noncurrent_days: int, abort_days: int, expire_days: int | None = None
) -> S3BucketLifecycleConfigurationRule:
    # nested blocks as structs: jsii drops plain dicts nested inside a list of dicts
    return S3BucketLifecycleConfigurationRule(
        id=id_,
        status="Enabled",
        filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
        noncurrent_version_expiration=[
            S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_days)
        ],
        abort_incomplete_multipart_upload=[
            S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=abort_days)
        ],
        expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=expire_days)] if expire_days else None,
    )


class LandingZone(Construct):
    """S3 landing bucket (SSE-KMS, versioned, private, TLS only, logged), its access-log
    bucket, the Glue database and crawlers, and the role for Snowflake's integration."""

    def __init__(self, scope: Construct, id_: str, env: Environment) -> None:
        super().__init__(scope, id_)
        aws = env.aws
        self.env = env
        identity = DataAwsCallerIdentity(self, "caller")
        partition = DataAwsPartition(self, "partition")
        self.account_id = identity.account_id
        self.partition = partition.partition

        self.key = KmsKey(
            self,
            "landing_key",
            description=f"lake {env.name}: landing zone and Glue catalog encryption",
            enable_key_rotation=True,
            deletion_window_in_days=aws.kms_deletion_window_days,
            policy=self._key_policy(),
        )
        KmsAlias(self, "landing_key_alias", name=f"alias/lake-{env.name}-landing", target_key_id=self.key.key_id)

        self.logs = self._bucket("access_logs", aws.access_log_bucket, kms=False)
        self._lifecycle("access_logs", self.logs, "expire-access-logs", 1, aws.access_log_days)
        self.landing = self._bucket("landing", aws.landing_bucket, kms=True)
        # landed files expire once the vault holds their rows (procedures/governance.py)
        rule = "landed-files-noncurrent-versions-and-incomplete-uploads"
        self._lifecycle("landing", self.landing, rule, aws.noncurrent_version_days, LANDING_FILE_DAYS)
        S3BucketLoggingA(
            self,
            "landing_logging",
            bucket=self.landing.id,
            target_bucket=self.logs.id,
            target_prefix=f"s3/{aws.landing_bucket}/",
        )
        self._glue()

    # --- buckets ---------------------------------------------------------------------

    def _lifecycle(self, id_: str, bucket: S3Bucket, rule: str, noncurrent_days: int, expire_days: int) -> None:
        """``bucket``'s one lifecycle rule: objects expire after ``expire_days``, noncurrent
        versions after ``noncurrent_days``, incomplete multipart uploads after the
        environment's ``abort_incomplete_upload_days``."""
        abort_days = self.env.aws.abort_incomplete_upload_days
        lifecycle = _lifecycle_rule(
            rule, noncurrent_days=noncurrent_days, abort_days=abort_days, expire_days=expire_days
        )
        S3BucketLifecycleConfiguration(self, f"{id_}_lifecycle", bucket=bucket.id, rule=[lifecycle])

    def _bucket(self, id_: str, name: str, *, kms: bool) -> S3Bucket:
        """A private, versioned, encrypted bucket that refuses plain HTTP.

        S3 server access logs can only be delivered to a bucket encrypted with SSE-S3, so
        the log bucket uses AES256 and the landing bucket the customer-managed KMS key.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
        """
        bucket = S3Bucket(self, id_, bucket=name, force_destroy=False)
        S3BucketOwnershipControls(
            self, f"{id_}_ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}
        )
        S3BucketPublicAccessBlock(
            self,
            f"{id_}_public_access_block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketVersioningA(self, f"{id_}_versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"})
        default = S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
            sse_algorithm="aws:kms" if kms else "AES256", kms_master_key_id=self.key.arn if kms else None
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            f"{id_}_encryption",
            bucket=bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=kms
                )
            ],
        )
        statements: list[dict[str, Any]] = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.arn, f"{bucket.arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if not kms:
            statements.append(
                {
                    "Sid": "AllowServerAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket.arn}/s3/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}},
                }
            )
        S3BucketPolicy(self, f"{id_}_policy", bucket=bucket.id, policy=_policy(*statements))
        return bucket

    def _key_policy(self) -> str:
        root = f"arn:{self.partition}:iam::{self.account_id}:root"
        return _policy(
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "GlueEncryptsTheCatalogAndCrawlerLogs",
                "Effect": "Allow",
                "Principal": {"Service": [f"logs.{self.env.aws.region}.amazonaws.com", "glue.amazonaws.com"]},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}},
            },
        )

    # --- Snowflake's role ------------------------------------------------------------

    @property
    def role_name(self) -> str:
        return SNOWFLAKE_ROLE.format(env=self.env.name)

    @property
    def role_arn(self) -> str:
        """The role's ARN built as a string, not read from the role resource: the storage
        integration needs the ARN and the role's trust policy needs the integration's
        IAM user, so taking both from resources would be a cycle (the usual two applies)."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role_name}"

    def trust_snowflake(self, iam_user_arn: str, external_id: str) -> IamRole:
        """The role the storage integration assumes, trusting its IAM user by external id."""
        trust = _policy(
            {
                "Sid": "SnowflakeStorageIntegration",
                "Effect": "Allow",
                "Principal": {"AWS": iam_user_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        )
        self.snowflake_role = IamRole(
            self,
            "snowflake_role",
            name=self.role_name,
            description=f"lake {self.env.name}: Snowflake storage integration reads the landing zone",
            assume_role_policy=trust,
            max_session_duration=3600,
        )
        IamRolePolicy(self, "snowflake_role_policy", role=self.snowflake_role.id, policy=self._landing_read_policy())
        return self.snowflake_role

    def _landing_read_policy(self) -> str:
        """Read (never write) the landing prefix, and decrypt it."""
        prefix = self.env.aws.landing_prefix
        return _policy(
            {
                "Sid": "ReadLandingFiles",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"{self.landing.arn}/{prefix}*",
            },
            {
                "Sid": "ListLandingPrefix",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": self.landing.arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            },
            {
                "Sid": "DecryptLandingFiles",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": self.key.arn,
            },
        )

    # --- Glue ------------------------------------------------------------------------

    def _glue(self) -> None:
        aws = self.env.aws
        self.glue_database = GlueCatalogDatabase(
            self,
            "glue_database",
            name=aws.glue_database,
            description=f"lake {self.env.name}: the landing zone, one table per producer entity",
        )
        security = GlueSecurityConfiguration(
            self,
            "glue_security",
            name=f"lake-{self.env.name}-crawlers",
            encryption_configuration={
                "cloudwatch_encryption": {"cloudwatch_encryption_mode": "SSE-KMS", "kms_key_arn": self.key.arn},
                "job_bookmarks_encryption": {
                    "job_bookmarks_encryption_mode": "CSE-KMS",
                    "kms_key_arn": self.key.arn,
                },
                "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": self.key.arn},
            },
        )
        role = IamRole(
            self,
            "crawler_role",
            name=f"{self.env.name}-lake-glue-crawler",
            description=f"lake {self.env.name}: Glue crawlers over the landing zone",
            assume_role_policy=_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "glue.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}},
                }
            ),
        )
        IamRolePolicyAttachment(
            self,
            "crawler_service_policy",
            role=role.name,
            policy_arn=f"arn:{self.partition}:iam::aws:policy/service-role/AWSGlueServiceRole",
        )
        IamRolePolicy(self, "crawler_read_landing", role=role.id, policy=self._landing_read_policy())
        self.crawlers = [
            GlueCrawler(
                self,
                f"crawler_{c.producer}_{c.entity}",
                name=f"lake-{self.env.name}-{c.producer}-{c.entity}",
                description=c.description,
                database_name=self.glue_database.name,
                role=role.arn,
                table_prefix=c.table_prefix,
                s3_target=[{"path": c.path(aws.landing_url), "exclusions": list(crawlers.EXCLUSIONS)}],
                schedule=aws.crawler_schedule,
                security_configuration=security.name,
                configuration=crawlers.CONFIGURATION,
                schema_change_policy=crawlers.SCHEMA_CHANGE_POLICY,
                recrawl_policy=crawlers.RECRAWL_POLICY,
            )
            for c in crawlers.targets()
        ]

    def outputs(self) -> None:
        output(
            self,
            "landing_url",
            f"s3://{self.landing.bucket}/{self.env.aws.landing_prefix}",
            "LAKE_LANDING_URL: the S3 prefix producers write to and the stage reads",
        )
        output(self, "snowflake_role_arn", self.role_arn, "LAKE_AWS_ROLE_ARN: the role the storage integration assumes")
        output(
            self,
            "glue_database_name",
            self.glue_database.name,
            "LAKE_GLUE_DATABASE: the Glue database over the landing zone",
        )
        output(self, "landing_key_arn", self.key.arn, "The KMS key that encrypts the landing zone")
