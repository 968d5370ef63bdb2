-- The egress of GENERATE_SAMPLE_DATA, which writes the producer files to the landing
-- bucket with boto3 from inside Snowflake: a network rule naming the bucket's S3
-- endpoints, a secret with the AWS key it writes with (username = key id, password =
-- secret key; `lake deploy` reads them from LAKE_GENERATOR_AWS_KEY_ID and
-- LAKE_GENERATOR_AWS_SECRET_KEY, never from a file), and the external access integration
-- the procedure names (snowflake.yml). Applied by `lake deploy` only: the integration is
-- an account object (CREATE INTEGRATION privilege), and locally boto3 reaches moto directly.
-- https://docs.snowflake.com/en/developer-guide/external-network-access/creating-using-external-network-access
CREATE OR REPLACE NETWORK RULE <% database %>.<% landing_schema %>.LANDING_S3_EGRESS
    MODE = EGRESS
    TYPE = HOST_PORT
    VALUE_LIST = ('<% landing_bucket %>.s3.amazonaws.com', '<% landing_bucket %>.s3.<% aws_region %>.amazonaws.com', 's3.<% aws_region %>.amazonaws.com')
    COMMENT = 'The landing bucket, for GENERATE_SAMPLE_DATA';

CREATE OR REPLACE SECRET <% database %>.<% landing_schema %>.LANDING_S3
    TYPE = PASSWORD
    USERNAME = '<% generator_key_id %>'
    PASSWORD = '<% generator_secret_key %>'
    COMMENT = 'AWS key GENERATE_SAMPLE_DATA writes the landing bucket with';

CREATE OR REPLACE EXTERNAL ACCESS INTEGRATION LAKE_LANDING_ACCESS
    ALLOWED_NETWORK_RULES = (<% database %>.<% landing_schema %>.LANDING_S3_EGRESS)
    ALLOWED_AUTHENTICATION_SECRETS = (<% database %>.<% landing_schema %>.LANDING_S3)
    ENABLED = TRUE
    COMMENT = 'GENERATE_SAMPLE_DATA writes the landing bucket';
