"""The privileges the deploy plan needs, the roles that hold them, and the check.

Snowflake refuses a statement whose role lacks a privilege it needs; nothing runs the
control layer locally (roles and grants are skipped: ``lake/local/unsupported.py``), so
the plan is checked here, offline, against one model:

* ``RULES``: for each kind of statement the plan emits (and the statements dbt's
  governance hooks run as the task graph's owner), the privileges Snowflake requires, each
  citing the access-control table of its documentation page. A need is a conjunct of
  alternatives: ``"OWNERSHIP ON OBJECT {name} | MANAGE GRANTS ON ACCOUNT"``.
* the holdings: what the plan's own statements give, in order. The account bootstrap
  (``sql/005_account.sql``, generated from ``procedures/governance.py``, run once by
  ACCOUNTADMIN) creates the roles and grants the deployer its account privileges and
  SNOWFLAKE database roles; every object a role creates it owns, and ownership holds every
  privilege on the object (https://docs.snowflake.com/en/user-guide/security-access-control-overview).
  cdktf/ grants the deployer the same (tests/infra checks the synthesized stacks).

``check`` walks the plan section by section as the section's role and raises
``PrivilegeError`` naming the statement and the privilege missing; ``lake deploy --plan``
prints the role of every section and exits 1 on such an error. A statement no rule
covers is an error too, so a new kind of statement needs its row here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from procedures import governance
from procedures.errors import UserError

DOCS = "https://docs.snowflake.com/en"
SUPERUSER = governance.BOOTSTRAP_ROLE  # holds every privilege (the model's fixed point)
_N = r'[\w$."]+'  # a (qualified) object name


class PrivilegeError(UserError, RuntimeError):
    """A statement of the plan that its section's role could not run on Snowflake."""


@dataclass(frozen=True)
class Rule:
    kind: str  # the statement kind, as the docs name it
    pattern: str  # matched against the statement from its start (named groups fill the needs)
    needs: tuple[str, ...]  # conjuncts of ' | '-separated alternatives
    page: str  # the documentation page with its access-control table
    creates: str | None = None  # the kind of object the statement creates: its runner owns it


def _rule(kind: str, pattern: str, needs: Iterable[str], page: str, creates: str | None = None) -> Rule:
    return Rule(kind, pattern, tuple(needs), f"{DOCS}/{page}", creates)


NAME = rf"(?P<name>{_N})"
IF_NOT_EXISTS = r"(?:IF\s+NOT\s+EXISTS\s+)?"
OR_REPLACE = r"(?:OR\s+REPLACE\s+)?"

RULES: tuple[Rule, ...] = (
    # --------------------------------------------------------------- the account bootstrap
    _rule(
        "CREATE ROLE",
        rf"CREATE\s+ROLE\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE ROLE ON ACCOUNT"],
        "sql-reference/sql/create-role",
        "ROLE",
    ),
    _rule(
        "GRANT ROLE",
        rf"GRANT\s+ROLE\s+{NAME}\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["OWNERSHIP ON ROLE {name} | MANAGE GRANTS ON ACCOUNT"],
        "sql-reference/sql/grant-role",
    ),
    _rule(
        "GRANT DATABASE ROLE",
        rf"GRANT\s+DATABASE\s+ROLE\s+{NAME}\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["MANAGE GRANTS ON ACCOUNT"],
        "sql-reference/sql/grant-database-role",
    ),
    _rule(
        "CREATE DATABASE",
        rf"CREATE\s+{OR_REPLACE}DATABASE\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE DATABASE ON ACCOUNT"],
        "sql-reference/sql/create-database",
        "DATABASE",
    ),
    _rule(
        "GRANT OWNERSHIP",
        rf"GRANT\s+OWNERSHIP\s+ON\s+(?P<on>\w+)\s+{NAME}\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["OWNERSHIP ON {on} {name} | MANAGE GRANTS ON ACCOUNT"],
        "sql-reference/sql/grant-ownership",
    ),
    _rule(
        "GRANT <global privileges>",
        rf"GRANT\s+(?P<privileges>[\w\s,]+?)\s+ON\s+ACCOUNT\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["MANAGE GRANTS ON ACCOUNT"],
        "sql-reference/sql/grant-privilege",
    ),
    _rule(
        "CREATE NOTIFICATION INTEGRATION",
        rf"CREATE\s+{OR_REPLACE}NOTIFICATION\s+INTEGRATION\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE INTEGRATION ON ACCOUNT"],
        "sql-reference/sql/create-notification-integration-email",
        "INTEGRATION",
    ),
    # --------------------------------------------------------------- grants on objects
    _rule(
        "GRANT ... ON FUTURE ... IN SCHEMA",
        rf"GRANT\s+[\w\s,]+?\s+ON\s+FUTURE\s+[\w\s]+?\s+IN\s+SCHEMA\s+(?P<container>{_N})\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["MANAGE GRANTS ON ACCOUNT | OWNERSHIP ON MANAGED SCHEMA {container}"],
        "sql-reference/sql/grant-privilege",
    ),
    _rule(
        "GRANT ... ON ALL ... IN SCHEMA",
        rf"GRANT\s+[\w\s,]+?\s+ON\s+ALL\s+[\w\s]+?\s+IN\s+SCHEMA\s+(?P<container>{_N})\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["OWNERSHIP ON SCHEMA {container} | MANAGE GRANTS ON ACCOUNT"],
        "sql-reference/sql/grant-privilege",
    ),
    _rule(
        "GRANT <privileges> ON <object>",
        rf"GRANT\s+(?P<privileges>[\w\s,]+?)\s+ON\s+(?P<on>DATABASE|SCHEMA|WAREHOUSE|INTEGRATION|TABLE|VIEW|STAGE)\s+"
        rf"{NAME}\s+TO\s+ROLE\s+(?P<grantee>{_N})",
        ["OWNERSHIP ON {on} {name} | MANAGE GRANTS ON ACCOUNT"],
        "sql-reference/sql/grant-privilege",
    ),
    # --------------------------------------------------------------- schemas and their objects
    _rule(
        "CREATE SCHEMA",
        rf"CREATE\s+{OR_REPLACE}SCHEMA\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE SCHEMA ON DATABASE {db}"],
        "sql-reference/sql/create-schema",
        "SCHEMA",
    ),
    _rule(
        "ALTER SCHEMA",
        rf"ALTER\s+SCHEMA\s+{NAME}\s+(?P<action>SET|ENABLE|DISABLE)\b",
        ["OWNERSHIP ON SCHEMA {name}"],
        "sql-reference/sql/alter-schema",
    ),
    # publishing gold (PUBLISH_GOLD): "SWAP WITH" needs OWNERSHIP of both schemas
    _rule(
        "ALTER SCHEMA ... SWAP WITH",
        rf"ALTER\s+SCHEMA\s+{NAME}\s+SWAP\s+WITH\s+(?P<other>{_N})",
        ["OWNERSHIP ON SCHEMA {name}", "OWNERSHIP ON SCHEMA {other}"],
        "sql-reference/sql/alter-schema",
    ),
    # an upgrade's new columns (sqlfiles.evolution): ALTER TABLE needs OWNERSHIP of the table
    _rule(
        "ALTER TABLE ... ADD COLUMN",
        rf"ALTER\s+TABLE\s+{NAME}\s+ADD\s+COLUMN\b",
        ["OWNERSHIP ON OBJECT {name}"],
        "sql-reference/sql/alter-table",
    ),
    _rule(
        "CREATE TABLE",
        rf"CREATE\s+{OR_REPLACE}(?:TRANSIENT\s+|TEMPORARY\s+)?TABLE\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE TABLE ON SCHEMA {schema}"],
        "sql-reference/sql/create-table",
        "OBJECT",
    ),
    _rule(
        "CREATE VIEW",
        rf"CREATE\s+{OR_REPLACE}(?:SECURE\s+)?VIEW\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE VIEW ON SCHEMA {schema}"],
        "sql-reference/sql/create-view",
        "OBJECT",
    ),
    _rule("INSERT", rf"INSERT\s+INTO\s+{NAME}", ["INSERT ON OBJECT {name}"], "sql-reference/sql/insert"),
    _rule(
        "CREATE FILE FORMAT",
        rf"CREATE\s+{OR_REPLACE}FILE\s+FORMAT\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE FILE FORMAT ON SCHEMA {schema}"],
        "sql-reference/sql/create-file-format",
        "OBJECT",
    ),
    _rule(
        "CREATE STORAGE INTEGRATION",
        rf"CREATE\s+{OR_REPLACE}STORAGE\s+INTEGRATION\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE INTEGRATION ON ACCOUNT"],
        "sql-reference/sql/create-storage-integration",
        "INTEGRATION",
    ),
    _rule(
        "CREATE STAGE",
        rf"CREATE\s+{OR_REPLACE}STAGE\s+{IF_NOT_EXISTS}{NAME}(?:(?=[\s\S]*STORAGE_INTEGRATION\s*=\s*(?P<integration>{_N})))?",
        ["CREATE STAGE ON SCHEMA {schema}", "USAGE ON INTEGRATION {integration}"],
        "sql-reference/sql/create-stage",
        "OBJECT",
    ),
    # "ALTER STAGE ... SET": ownership of the stage (DESIGN.md: the control layer's facts)
    _rule(
        "ALTER STAGE",
        rf"ALTER\s+STAGE\s+{NAME}\s+SET\b",
        ["OWNERSHIP ON OBJECT {name}"],
        "sql-reference/sql/alter-stage",
    ),
    _rule(
        "CREATE NETWORK RULE",
        rf"CREATE\s+{OR_REPLACE}NETWORK\s+RULE\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE NETWORK RULE ON SCHEMA {schema}"],
        "sql-reference/sql/create-network-rule",
        "OBJECT",
    ),
    _rule(
        "CREATE SECRET",
        rf"CREATE\s+{OR_REPLACE}SECRET\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE SECRET ON SCHEMA {schema}"],
        "sql-reference/sql/create-secret",
        "OBJECT",
    ),
    _rule(
        "CREATE EXTERNAL ACCESS INTEGRATION",
        rf"CREATE\s+{OR_REPLACE}EXTERNAL\s+ACCESS\s+INTEGRATION\s+{IF_NOT_EXISTS}{NAME}"
        rf"(?=[\s\S]*ALLOWED_NETWORK_RULES\s*=\s*\((?P<rule>{_N})\))"
        rf"(?:(?=[\s\S]*ALLOWED_AUTHENTICATION_SECRETS\s*=\s*\((?P<secret>{_N})\)))?",
        ["CREATE INTEGRATION ON ACCOUNT", "OWNERSHIP ON OBJECT {rule}", "USAGE ON OBJECT {secret}"],
        "sql-reference/sql/create-external-access-integration",
        "INTEGRATION",
    ),
    # --------------------------------------------------------------- governance
    _rule(
        "CREATE TAG",
        rf"CREATE\s+{OR_REPLACE}TAG\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE TAG ON SCHEMA {schema}"],
        "sql-reference/sql/create-tag",
        "OBJECT",
    ),
    _rule(
        "CREATE MASKING POLICY",
        rf"CREATE\s+{OR_REPLACE}MASKING\s+POLICY\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE MASKING POLICY ON SCHEMA {schema}"],
        "sql-reference/sql/create-masking-policy",
        "OBJECT",
    ),
    _rule(
        "CREATE ROW ACCESS POLICY",
        rf"CREATE\s+{OR_REPLACE}ROW\s+ACCESS\s+POLICY\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE ROW ACCESS POLICY ON SCHEMA {schema}"],
        "sql-reference/sql/create-row-access-policy",
        "OBJECT",
    ),
    _rule(
        "ALTER <policy> SET BODY",
        rf"ALTER\s+(?:MASKING|ROW\s+ACCESS)\s+POLICY\s+{NAME}\s+SET\s+BODY\b",
        ["OWNERSHIP ON OBJECT {name}"],
        "sql-reference/sql/alter-masking-policy",
    ),
    _rule(
        "ALTER TAG ... SET MASKING POLICY",
        rf"ALTER\s+TAG\s+{NAME}\s+SET\s+MASKING\s+POLICY\b",
        ["APPLY MASKING POLICY ON ACCOUNT", "OWNERSHIP ON OBJECT {name} | APPLY TAG ON ACCOUNT"],
        "user-guide/tag-based-masking-policies",
    ),
    _rule(
        "ALTER <table or view> ... SET TAG",
        rf"ALTER\s+(?:TABLE|VIEW)\s+{NAME}\s+(?:MODIFY|ALTER)\s+COLUMN\s+\S+\s+SET\s+TAG\s+(?P<tag>{_N})",
        ["OWNERSHIP ON OBJECT {name}", "APPLY ON OBJECT {tag} | APPLY TAG ON ACCOUNT"],
        "user-guide/object-tagging",
    ),
    _rule(
        "ALTER <table or view> ... ROW ACCESS POLICY",
        rf"ALTER\s+(?:TABLE|VIEW)\s+{NAME}\s+(?:DROP\s+ALL\s+ROW\s+ACCESS\s+POLICIES|(?:ADD|DROP)\s+ROW\s+ACCESS\s+POLICY\s+(?P<policy>{_N}))",
        ["OWNERSHIP ON OBJECT {name}", "APPLY ON OBJECT {policy} | APPLY ROW ACCESS POLICY ON ACCOUNT"],
        "user-guide/security-row-intro",
    ),
    # --------------------------------------------------------------- data quality
    _rule(
        "CREATE DATA METRIC FUNCTION",
        rf"CREATE\s+{OR_REPLACE}DATA\s+METRIC\s+FUNCTION\s+{IF_NOT_EXISTS}{NAME}",
        ["CREATE DATA METRIC FUNCTION ON SCHEMA {schema}"],
        "user-guide/data-quality-access-control",
        "OBJECT",
    ),
    _rule(
        "ALTER <table or view> SET DATA_METRIC_SCHEDULE",
        rf"ALTER\s+(?:TABLE|VIEW)\s+{NAME}\s+SET\s+DATA_METRIC_SCHEDULE\b",
        ["OWNERSHIP ON OBJECT {name} | EXECUTE DATA METRIC FUNCTION ON ACCOUNT"],
        "user-guide/data-quality-access-control",
    ),
    _rule(
        "ALTER <table or view> ADD DATA METRIC FUNCTION (system)",
        rf"ALTER\s+(?:TABLE|VIEW)\s+{NAME}\s+ADD\s+DATA\s+METRIC\s+FUNCTION\s+SNOWFLAKE\.CORE\.\w+",
        [
            "EXECUTE DATA METRIC FUNCTION ON ACCOUNT",
            "OWNERSHIP ON OBJECT {name}",
            "DATABASE ROLE SNOWFLAKE.DATA_METRIC_USER",
        ],
        "user-guide/data-quality-access-control",
    ),
    _rule(
        "ALTER <table or view> ADD DATA METRIC FUNCTION",
        rf"ALTER\s+(?:TABLE|VIEW)\s+{NAME}\s+ADD\s+DATA\s+METRIC\s+FUNCTION\s+(?P<function>{_N})",
        ["EXECUTE DATA METRIC FUNCTION ON ACCOUNT", "OWNERSHIP ON OBJECT {name}", "USAGE ON OBJECT {function}"],
        "user-guide/data-quality-access-control",
    ),
    # --------------------------------------------------------------- alerts and tasks
    _rule(
        "CREATE ALERT",
        rf"CREATE\s+{OR_REPLACE}ALERT\s+{IF_NOT_EXISTS}{NAME}(?=[\s\S]*WAREHOUSE\s*=\s*(?P<warehouse>{_N}))"
        r"(?:(?=[\s\S]*(?P<viewer>SNOWFLAKE\.ALERT\.)))?"
        r"(?:(?=[\s\S]*NOTIFICATION\.INTEGRATION\('(?P<integration>[^']+)'\)))?",
        [
            "CREATE ALERT ON SCHEMA {schema}",
            "USAGE ON WAREHOUSE {warehouse}",
            # an alert runs with its owner's privileges; the alert functions need ALERT_VIEWER
            # (https://docs.snowflake.com/en/sql-reference/functions/last_successful_scheduled_time)
            "DATABASE ROLE SNOWFLAKE.ALERT_VIEWER {viewer}",
            # SYSTEM$SEND_SNOWFLAKE_NOTIFICATION: USAGE on the integration
            # (https://docs.snowflake.com/en/sql-reference/stored-procedures/system_send_snowflake_notification)
            "USAGE ON INTEGRATION {integration}",
        ],
        "sql-reference/sql/create-alert",
        "OBJECT",
    ),
    _rule(
        "ALTER ALERT ... RESUME",
        rf"ALTER\s+ALERT\s+{NAME}\s+RESUME\b",
        ["EXECUTE ALERT ON ACCOUNT", "OWNERSHIP ON OBJECT {name} | OPERATE ON OBJECT {name}"],
        "sql-reference/sql/alter-alert",
    ),
    _rule(
        "CREATE TASK",
        rf"CREATE\s+{OR_REPLACE}TASK\s+{IF_NOT_EXISTS}{NAME}(?:(?=[\s\S]*?WAREHOUSE\s*=\s*(?P<warehouse>{_N})))?",
        ["CREATE TASK ON SCHEMA {schema}", "USAGE ON WAREHOUSE {warehouse}"],
        "sql-reference/sql/create-task",
        "OBJECT",
    ),
    _rule(
        "ALTER TASK ... RESUME",
        rf"ALTER\s+TASK\s+(?P<exists>IF\s+EXISTS\s+)?{NAME}\s+RESUME\b",
        ["EXECUTE TASK ON ACCOUNT", "OWNERSHIP ON OBJECT {name} | OPERATE ON OBJECT {name}"],
        "sql-reference/sql/alter-task",
    ),
    _rule(
        "ALTER TASK ... SUSPEND",
        rf"ALTER\s+TASK\s+(?P<exists>IF\s+EXISTS\s+)?{NAME}\s+SUSPEND\b",
        ["OWNERSHIP ON OBJECT {name} | OPERATE ON OBJECT {name}"],
        "sql-reference/sql/alter-task",
    ),
    _rule(
        "SYSTEM$TASK_DEPENDENTS_ENABLE",
        r"SELECT\s+SYSTEM\$TASK_DEPENDENTS_ENABLE\('(?P<name>[^']+)'\)",
        ["OWNERSHIP ON OBJECT {name}", "EXECUTE TASK ON ACCOUNT"],
        "sql-reference/functions/system_task_dependents_enable",
    ),
    # --------------------------------------------------------------- code
    _rule(
        "CREATE PROCEDURE",
        rf"CREATE\s+{OR_REPLACE}(?:SECURE\s+)?PROCEDURE\s+{IF_NOT_EXISTS}(?P<name>{_N})\("
        rf"(?:(?=[\s\S]*IMPORTS\s*=\s*\('@(?P<stage>{_N})/))?"
        rf"(?:(?=[\s\S]*EXTERNAL_ACCESS_INTEGRATIONS\s*=\s*\((?P<integration>{_N})\)))?"
        rf"(?:(?=[\s\S]*SECRETS\s*=\s*\('\w+'\s*=\s*(?P<secret>{_N})\)))?",
        [
            "CREATE PROCEDURE ON SCHEMA {schema}",
            "READ ON OBJECT {stage}",
            "USAGE ON INTEGRATION {integration}",
            "READ ON OBJECT {secret}",
        ],
        "sql-reference/sql/create-procedure",
        "OBJECT",
    ),
    _rule("PUT", rf"PUT\s+'[^']+'\s+@(?P<name>{_N})/", ["WRITE ON OBJECT {name}"], "sql-reference/sql/put"),
    _rule("REMOVE", rf"REMOVE\s+@(?P<name>{_N})/", ["WRITE ON OBJECT {name}"], "sql-reference/sql/remove"),
    _rule(
        "CREATE DBT PROJECT",
        rf"CREATE\s+{OR_REPLACE}DBT\s+PROJECT\s+{IF_NOT_EXISTS}{NAME}\s+FROM\s+'@(?P<stage>{_N})/",
        ["CREATE DBT PROJECT ON SCHEMA {schema}", "READ ON OBJECT {stage}"],
        "sql-reference/sql/create-dbt-project",
        "OBJECT",
    ),
    _rule(
        "ALTER DBT PROJECT ... ADD VERSION",
        rf"ALTER\s+DBT\s+PROJECT\s+{NAME}\s+ADD\s+VERSION\b[\s\S]*FROM\s+'@(?P<stage>{_N})/",
        ["OWNERSHIP ON OBJECT {name} | MODIFY ON OBJECT {name}", "READ ON OBJECT {stage}"],
        "sql-reference/sql/alter-dbt-project",
    ),
)

_NEED = re.compile(
    r"^(?P<privilege>[A-Z][A-Z_ ]*?)\s+ON\s+"
    r"(?P<on>ACCOUNT|DATABASE|SCHEMA|MANAGED SCHEMA|OBJECT|WAREHOUSE|INTEGRATION|ROLE|TABLE|VIEW|STAGE)"
    r"(?:\s+(?P<target>\S+))?$"
)
_KEY_KIND = {"TABLE": "OBJECT", "VIEW": "OBJECT", "STAGE": "OBJECT", "MANAGED SCHEMA": "SCHEMA"}


def rule_for(statement: str) -> tuple[Rule, re.Match[str]] | None:
    for rule in RULES:
        match = re.match(rule.pattern, statement, re.IGNORECASE)
        if match:
            return rule, match
    return None


def _canonical(name: str) -> str:
    return ".".join(part.strip('"').upper() for part in name.split("."))


# --------------------------------------------------------------------------- the holdings


@dataclass
class Account:
    """What the roles hold, as the plan's statements leave it."""

    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> role
    grants: set[tuple[str, str, str, str]] = field(default_factory=set)  # (role, privilege, kind, name)
    granted_roles: dict[str, set[str]] = field(default_factory=dict)  # role -> roles granted to it
    managed: set[str] = field(default_factory=set)  # managed access schemas

    def roles_of(self, role: str) -> set[str]:
        found, pending = {role}, [role]
        while pending:
            for inherited in self.granted_roles.get(pending.pop(), ()):
                if inherited not in found:
                    found.add(inherited)
                    pending.append(inherited)
        return found

    def holds(self, role: str, privilege: str, kind: str, name: str) -> bool:
        roles = self.roles_of(role)
        if SUPERUSER in roles:
            return True
        if privilege == "DATABASE ROLE":
            return any((r, "DATABASE ROLE", "", name) in self.grants for r in roles)
        if kind == "MANAGED SCHEMA":
            return name in self.managed and self.owners.get(("SCHEMA", name)) in roles
        key = (_KEY_KIND.get(kind, kind), name)
        if self.owners.get(key) in roles:
            return True  # ownership holds every privilege on the object
        return any((r, p, key[0], key[1]) in self.grants for r in roles for p in (privilege, "ALL"))

    def apply(self, rule: Rule, match: re.Match[str], role: str) -> None:
        """What the statement changes in the holdings."""
        groups = {k: v for k, v in match.groupdict().items() if v}
        name = _canonical(groups.get("name", ""))
        grantee = _canonical(groups["grantee"]) if "grantee" in groups else None
        if rule.creates:
            self.owners.setdefault((rule.creates, name), role)
        if rule.kind == "GRANT ROLE" and grantee:
            self.granted_roles.setdefault(grantee, set()).add(name)
        elif rule.kind == "GRANT DATABASE ROLE" and grantee:
            self.grants.add((grantee, "DATABASE ROLE", "", name))
        elif rule.kind == "GRANT OWNERSHIP" and grantee:
            self.owners[(_KEY_KIND.get(groups["on"].upper(), groups["on"].upper()), name)] = grantee
        elif rule.kind == "GRANT <global privileges>" and grantee:
            for privilege in _privileges(groups["privileges"]):
                self.grants.add((grantee, privilege, "ACCOUNT", ""))
        elif rule.kind == "GRANT <privileges> ON <object>" and grantee:
            kind = _KEY_KIND.get(groups["on"].upper(), groups["on"].upper())
            for privilege in _privileges(groups["privileges"]):
                self.grants.add((grantee, privilege, kind, name))
        elif rule.kind == "ALTER SCHEMA" and groups.get("action", "").upper() == "ENABLE":
            self.managed.add(name)


def _privileges(listed: str) -> list[str]:
    return [" ".join(p.split()).upper() for p in listed.split(",")]


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Checked:
    section: str
    role: str
    statements: int


def _needs(rule: Rule, match: re.Match[str]) -> Iterator[list[tuple[str, str, str]]]:
    """Each conjunct as its alternatives (privilege, kind, name); a conjunct naming a group
    the statement lacks (no integration, no secret) does not apply."""
    groups = {k: _canonical(v) for k, v in match.groupdict().items() if v}
    name = groups.get("name", "")
    parts = name.split(".")
    groups |= {"db": parts[0], "schema": ".".join(parts[:2])}
    for conjunct in rule.needs:
        alternatives = []
        for alternative in conjunct.split(" | "):
            fields = re.findall(r"\{(\w+)\}", alternative)
            if any(f not in groups for f in fields):
                break
            text = alternative.format(**groups)
            if text.startswith("DATABASE ROLE "):
                alternatives.append(("DATABASE ROLE", "", text.split()[2]))
                continue
            need = _NEED.match(text)
            assert need, f"privilege rule {rule.kind}: unreadable need {alternative!r}"
            alternatives.append((need["privilege"], need["on"], need["target"] or ""))
        else:
            yield alternatives


def _said(alternatives: list[tuple[str, str, str]]) -> str:
    def one(p: str, kind: str, name: str) -> str:
        if p == "DATABASE ROLE":
            return f"the SNOWFLAKE database role {name.split('.')[-1]}"
        return f"{p} on {kind}" + (f" {name}" if name else "")

    return " or ".join(one(*a) for a in alternatives)


def check(steps: Iterable[tuple[str, str, str]], account: Account | None = None) -> list[Checked]:
    """Walk ``(section, role, statement)`` in order; raise PrivilegeError at the first
    statement its role could not run. Returns each section with its role."""
    account = account or Account()
    done: dict[str, Checked] = {}
    for section, role, statement in steps:
        role = role.upper()
        found = rule_for(statement)
        first = " ".join(statement.split())[:160]
        if found is None:
            raise PrivilegeError(
                f"{section}: no privilege rule covers this statement (add one to lake/privileges.py RULES): {first}"
            )
        rule, match = found
        target = (rule.creates or "OBJECT", _canonical(match.groupdict().get("name") or ""))
        skipped = bool(match.groupdict().get("exists")) and target not in account.owners
        for alternatives in [] if skipped else _needs(rule, match):
            if not any(account.holds(role, *a) for a in alternatives):
                raise PrivilegeError(
                    f"{section}: {role} lacks {_said(alternatives)}, which {rule.kind} needs ({rule.page}): {first}"
                )
        account.apply(rule, match, role)
        before = done.get(section)
        done[section] = Checked(section, role, (before.statements if before else 0) + 1)
    return list(done.values())


# --------------------------------------------------------------------------- the documentation

DEPLOY_DOC = "docs/deploy.md"
START = "<!-- privileges: generated by `make ddl` from lake/privileges.py; do not edit by hand -->"
END = "<!-- privileges: end -->"


def prerequisites() -> str:
    """The prerequisites of docs/deploy.md, from the model: what the bootstrap gives the
    deployer, and what each kind of statement needs."""
    admin = f"`<prefix>_{governance.DEPLOYER}`"
    lines = [
        START,
        f"Two roles run the deployment. **Once per account**, an account administrator "
        f"(`{governance.BOOTSTRAP_ROLE}`) runs the account bootstrap, `lake deploy --bootstrap` "
        "(`sql/005_account.sql`; cdktf/ grants the same when it manages the account). It creates the "
        "roles and their hierarchy, the database, and the alerts' e-mail notification integration "
        "(default recipients from `LAKE_ALERT_RECIPIENTS`), and gives the deployer "
        f"{admin} (`SNOWFLAKE_ROLE`):",
        "",
        "- ownership of the database, so it owns every schema and object it creates (and, with "
        "cdktf, ownership of the schemas and the landing stage it made); the schemas are managed "
        "access, so only their owner grants on what they hold;",
        "- `USAGE` on the warehouse the tasks and alerts run on, and on the notification integration;",
    ]
    for privilege, why in governance.ACCOUNT_PRIVILEGES.items():
        lines.append(f"- `{privilege}` on the account: {why};")
    for database_role, why in governance.SNOWFLAKE_DATABASE_ROLES.items():
        lines.append(f"- the SNOWFLAKE database role `{database_role}`: {why};")
    lines[-1] = lines[-1].rstrip(";") + "."
    lines += [
        "",
        f"**Every deploy** after that runs as {admin}; `lake deploy --plan` prints the role of each "
        "section and checks every statement, and what the task graph later runs as its owner "
        "(dbt's marts and governance hooks), against this table. A role that lacks a privilege "
        "stops it (exit 1) with the statement and the privilege named.",
        "",
        "| statement | needs, all of (each: one of) | documentation |",
        "| --- | --- | --- |",
    ]
    for rule in RULES:
        needs = "; ".join(" or ".join(f"`{_shown(a)}`" for a in n.split(" | ")) for n in rule.needs)
        page = rule.page.removeprefix(DOCS + "/")
        lines.append(f"| {rule.kind.replace('<', '&lt;')} | {needs} | [{page}]({rule.page}) |")
    lines.append(END)
    return "\n".join(lines)


def _shown(need: str) -> str:
    # {viewer} only says when the need applies: the alert's condition calls the functions
    need = need.replace(" {viewer}", " (when the condition calls SNOWFLAKE.ALERT functions)")
    return need.replace("{", "<").replace("}", ">")


def deploy_doc(text: str) -> str:
    """docs/deploy.md with its generated prerequisites brought up to date."""
    if START not in text or END not in text:
        raise PrivilegeError(f"{DEPLOY_DOC}: the generated prerequisites' markers are missing ({START!r} ... {END!r})")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return head + prerequisites() + tail
