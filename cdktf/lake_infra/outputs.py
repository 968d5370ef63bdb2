"""Stack outputs under their own names (``terraform output snowflake_role_arn``)."""

from __future__ import annotations

from cdktn import TerraformOutput
from constructs import Construct


def output(scope: Construct, name: str, value: str, description: str) -> TerraformOutput:
    out = TerraformOutput(scope, name, value=value, description=description)
    out.override_logical_id(name)  # not the construct path's hashed id
    return out
