"""Who may see what: the governance spec.

Roles and their grants, how each PII class (``spec.PII_CLASSES``, assigned to columns in
the entity spec and in dbt's ``meta.pii``) is masked for each role, whose client rows a
role may read, and how long each layer keeps history. ``lake.governance`` turns this into
the shipped SQL (sql/070, 075, 080) and dbt's post-hooks; CDKTF creates the same roles
and grants from ``ACCESS`` and ``PARENT``.

Roles are ``<prefix>_<FUNCTION>`` (``LAKE_ANALYST``; CDKTF puts the environment in the
prefix: ``LAKE_PROD_ANALYST``):

====================  ==================================================  ===============
function              may                                                 granted to
====================  ==================================================  ===============
ADMIN                 own the lake's schemas; sees every value            SYSADMIN
ENGINEER              run loads and dbt (the pipeline role): writes every ADMIN
                      layer, so it reads clear values and every row
AUDITOR               read audit, quality, governance and the vault;      ADMIN
                      PII hashed (joins and counts work, values do not)
ANALYST               read the gold marts; PII partly or fully masked;    ENGINEER
                      client rows only of its entitled regions
ANALYST_<REGION>      an analyst entitled to one region's clients         ADMIN
====================  ==================================================  ===============
"""

from __future__ import annotations

from typing import Literal

from procedures import spec

# --------------------------------------------------------------------------- roles and grants

FUNCTIONS = ("ADMIN", "ENGINEER", "ANALYST", "AUDITOR")
# The roles the pipeline may run as: `lake deploy` creates the procedures and tasks as
# SNOWFLAKE_ROLE, and they run as their owner, so it must be one of these. Both read clear
# values (MASKING) and every row (ALL_ROWS): a masked value hashed into a hash
# diff, or a satellite row hidden from the loader's comparison, would corrupt the vault.
PIPELINE_FUNCTIONS = ("ADMIN", "ENGINEER")
READ = ("SELECT",)
WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
ENGINEER_SCHEMA = ("USAGE", "CREATE TABLE", "CREATE VIEW", "CREATE TEMPORARY TABLE")
LAYERS = ("landing", "vault", "quality", "audit", "bronze", "silver", "gold", "gold_pending", "governance")
# Write-audit-publish: dbt builds gold in gold_pending, VALIDATE_DATA checks it there, and
# PUBLISH_GOLD swaps the two schemas (procedures/handlers/publish_gold.py). A swap carries
# each schema's grants with it, so readers' future grants are on both schemas and their
# USAGE only on the published one (PUBLISH_GOLD moves it across the swap).
PUBLISHED_THROUGH: dict[str, str] = {"gold": "gold_pending"}
# function -> layer -> privileges on the layer's (future) tables; views get READ
ACCESS: dict[str, dict[str, tuple[str, ...]]] = {
    "ENGINEER": {layer: WRITE for layer in LAYERS},
    "ANALYST": {"gold": READ},
    "AUDITOR": {"audit": READ, "quality": READ, "vault": READ, "governance": READ},
}


def pending_access(function: str) -> dict[str, tuple[str, ...]]:
    """The pending schemas whose future tables ``function`` gets its privileges on without
    USAGE (PUBLISHED_THROUGH): what dbt builds there is readable once a swap publishes it."""
    access = ACCESS.get(function, {})
    return {
        PUBLISHED_THROUGH[layer]: privileges
        for layer, privileges in access.items()
        if layer in PUBLISHED_THROUGH and PUBLISHED_THROUGH[layer] not in access
    }


# --------------------------------------------------------------------------- who deploys

# Ownership, decided once (lake/privileges.py checks the deploy plan against it):
# - an account administrator runs the account bootstrap (sql/005_account.sql, `lake deploy
#   --bootstrap`) once per account and environment: the roles and their hierarchy, the
#   database (owned by the deployer), the alerts' notification integration, the account
#   privileges and SNOWFLAKE database roles below, and the warehouse the tasks and alerts
#   run on. cdktf/ does the same when it manages the account.
# - the deployer (<prefix>_ADMIN) runs every later `lake deploy`: it owns the database, the
#   schemas (managed access: only their owner grants on what they hold) and everything in
#   them, so the procedures, tasks and alerts run as it.
BOOTSTRAP_ROLE = "ACCOUNTADMIN"
DEPLOYER = "ADMIN"
# account privileges the deployer needs, each for the statements named
# (https://docs.snowflake.com/en/user-guide/security-access-control-privileges#global-privileges-account-level-privileges)
ACCOUNT_PRIVILEGES: dict[str, str] = {
    "CREATE INTEGRATION": "the landing stage's storage integration and the generator's external access integration",
    "EXECUTE TASK": "resuming the task graph and the exception purge (ALTER TASK ... RESUME)",
    "EXECUTE ALERT": "resuming the alerts and every scheduled alert run (ALTER ALERT ... RESUME)",
    "EXECUTE DATA METRIC FUNCTION": "scheduling and attaching data metric functions (sql/075, dbt's hooks)",
    "APPLY MASKING POLICY": "setting the masking policies on the PII tag (tag-based masking)",
}
# SNOWFLAKE database roles the deployer needs
SNOWFLAKE_DATABASE_ROLES: dict[str, str] = {
    "ALERT_VIEWER": "SNOWFLAKE.ALERT.SCHEDULED_TIME() and LAST_SUCCESSFUL_SCHEDULED_TIME() in the alerts",
    "DATA_METRIC_USER": "the system data metric functions (SNOWFLAKE.CORE.NULL_COUNT, DUPLICATE_COUNT)",
}

# Client regions for row access: every domicile belongs to exactly one.
REGIONS: dict[str, tuple[str, ...]] = {
    "AMERICAS": ("US", "CA"),
    "EMEA": ("GB", "DE", "FR", "CH", "LU", "IE", "NL", "AE"),
    "APAC": ("JP", "SG", "HK", "AU"),
}
REGION_ROLES = tuple(f"ANALYST_{region}" for region in REGIONS)
# role -> the role it is granted to (rolls up to)
PARENT: dict[str, str] = {
    "ADMIN": "SYSADMIN",
    "ENGINEER": "ADMIN",
    "ANALYST": "ENGINEER",
    "AUDITOR": "ADMIN",
    **{role: "ADMIN" for role in REGION_ROLES},
}
# region analysts inherit the analyst's grants
INHERITS: dict[str, tuple[str, ...]] = {role: ("ANALYST",) for role in REGION_ROLES}

# --------------------------------------------------------------------------- masking

Treatment = Literal["clear", "hash", "partial", "full"]
# Checked in this order; a role in the session that inherits another (ADMIN inherits all)
# matches the first listed, so the most privileged comes first. Unlisted roles: full.
MASKING: tuple[tuple[str, dict[str, Treatment]], ...] = (
    ("ADMIN", dict.fromkeys(spec.PII_CLASSES, "clear")),
    ("ENGINEER", dict.fromkeys(spec.PII_CLASSES, "clear")),
    ("AUDITOR", dict.fromkeys(spec.PII_CLASSES, "hash")),
    (
        "ANALYST",
        {
            "name": "partial",
            "email": "partial",
            "phone": "partial",
            "address": "full",
            "date_of_birth": "partial",
            "tax_id": "full",
            "account_number": "partial",
        },
    ),
)
MASK = "*****"

# --------------------------------------------------------------------------- row access

# Roles that read every client's rows; others read the regions ENTITLEMENTS grants them.
ALL_ROWS = ("ADMIN", "ENGINEER", "AUDITOR")
ENTITLEMENTS: tuple[tuple[str, str], ...] = tuple((f"ANALYST_{region}", region) for region in REGIONS)

# --------------------------------------------------------------------------- retention

# Time travel per layer, in days (more than 1 needs Enterprise edition). The vault is the
# system of record; landing and bronze are rebuilt from it or from the files.
TIME_TRAVEL_DAYS: dict[str, int] = {
    "landing": 1,
    "vault": 30,
    "quality": 30,
    "audit": 90,
    "bronze": 1,
    "silver": 7,
    "gold": 30,
    "gold_pending": 1,  # a build being validated, or the gold it replaced
    "governance": 90,
}
# Landing files expire from S3 this long after they land (the vault keeps the data).
LANDING_FILE_DAYS = 30
# Exceptions (failing rows) are purged from QUALITY.RULE_EXCEPTIONS after this long.
EXCEPTION_DAYS = 90

# --------------------------------------------------------------------------- monitoring

DATA_METRIC_SCHEDULE = "USING CRON 30 3 * * * UTC"  # after the 02:00 pipeline run
ALERT_SCHEDULE = "USING CRON */15 * * * * UTC"


def _check() -> None:
    """The spec is consistent with the entity spec (fails at import, naming what is wrong)."""
    placed = [c for countries in REGIONS.values() for c in countries]
    missing = sorted(set(spec.DOMICILES) - set(placed))
    twice = sorted({c for c in placed if placed.count(c) > 1})
    assert not missing and not twice, f"REGIONS: domiciles without a region {missing}, in two regions {twice}"
    for role, treatments in MASKING:
        assert set(treatments) == set(spec.PII_CLASSES), f"MASKING[{role}] must treat every PII class"
    assert set(TIME_TRAVEL_DAYS) == set(LAYERS), "TIME_TRAVEL_DAYS needs every layer"
    clear = {role for role, treatments in MASKING if set(treatments.values()) == {"clear"}}
    assert set(PIPELINE_FUNCTIONS) <= clear, f"PIPELINE_FUNCTIONS must read clear values: {PIPELINE_FUNCTIONS}"
    assert set(PIPELINE_FUNCTIONS) <= set(ALL_ROWS), f"PIPELINE_FUNCTIONS must read every row: {PIPELINE_FUNCTIONS}"


_check()
