"""The machine side of the institutional client data lake: CLI, configuration, local
servers, deployment. ``procedures/`` is what runs inside Snowflake."""

import warnings

# the connector's vendored requests warns on every import that this environment's urllib3
# and chardet are newer than the versions it was tested with; they work (the test suite
# runs on them), and the warning would be the first line of every command's output
warnings.filterwarnings("ignore", message=r"urllib3 \(.*\) or chardet .*doesn't match a supported version")
