"""Snowflake SQL as the lake ships it, parsed all the way down.

sqlglot's Snowflake dialect parses queries and most DDL, but falls back to an opaque
``Command`` (no structure, no syntax check) for the governance and orchestration
statements this project ships: masking and row access policies, tag assignments,
roles and role grants, bulk grants (``ON ALL`` / ``ON FUTURE``), data metric
functions, alerts, tasks, ``ALTER SCHEMA ... SET`` and ``CALL``, and what ``lake deploy``
sends: network rules, secrets, external access integrations, dbt project objects and
``ALTER STAGE ... REFRESH`` / ``SET DIRECTORY``. The ``Lake`` dialect
adds a grammar for each, so a typo in a policy body or an alert's condition fails a
test instead of a deployment. Everything else goes to sqlglot's own parser.

The new nodes are for checking and inspection (``policy.args["body"]`` is a parsed
expression; ``alert.args["condition"]`` a parsed query); they are not meant to be
re-generated as SQL. The grammar follows the Snowflake reference pages linked on
each method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.parsers.snowflake import SnowflakeParser
from sqlglot.tokens import TokenType

from procedures.errors import UserError


class SqlSyntaxError(UserError, ValueError):
    """A statement that is not valid Snowflake SQL; names the statement and the position."""


def _args(spec: str) -> dict[str, bool]:
    """sqlglot's ``arg_types`` from ``"this kind? ..."``: each argument in order, ``?`` when
    it is optional."""
    return {name.rstrip("?"): not name.endswith("?") for name in spec.split()}


class Statement(exp.Expression):
    """Base of the statements this module adds; ``kind`` says which object."""

    arg_types: ClassVar[dict[str, bool]] = {"this": False, "kind": False}


class CreatePolicy(Statement):
    """CREATE MASKING POLICY / CREATE ROW ACCESS POLICY."""

    arg_types: ClassVar[dict[str, bool]] = _args("this kind replace? exists? params returns body properties?")


class CreateDataMetricFunction(Statement):
    """A policy's shape (name, parameters, returns, body), with no kind."""

    arg_types: ClassVar[dict[str, bool]] = {**CreatePolicy.arg_types, "kind": False}


class CreateAlert(Statement):
    arg_types: ClassVar[dict[str, bool]] = _args("this kind? replace? exists? properties? condition action")


class CreateTask(Statement):
    arg_types: ClassVar[dict[str, bool]] = _args("this kind? replace? exists? properties? after? finalize? when? body")


class CreateRole(Statement):
    """CREATE [DATABASE | APPLICATION] ROLE, and other objects made of a name and properties."""

    arg_types: ClassVar[dict[str, bool]] = _args("this kind replace? exists? properties? alter?")


class CreateFromStage(Statement):
    """CREATE <kind> name FROM 'stage path' [properties]: an object made of staged files."""

    arg_types: ClassVar[dict[str, bool]] = _args("this kind? replace? exists? source properties?")


class CreateStreamlit(CreateFromStage):
    """CREATE STREAMLIT name FROM 'stage path' MAIN_FILE = '...' (a Native App's dashboard)."""


class CreateDbtProject(CreateFromStage):
    """CREATE DBT PROJECT name FROM 'stage path' (the marts, run by EXECUTE DBT PROJECT)."""


class GrantRole(Statement):
    """GRANT / REVOKE [DATABASE | APPLICATION] ROLE r TO / FROM ROLE | USER | APPLICATION ROLE p."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "principal": True, "revoke": False}


class GrantBulk(Statement):
    """GRANT privileges ON ALL | FUTURE <objects> IN SCHEMA | DATABASE x TO principal."""

    arg_types: ClassVar[dict[str, bool]] = _args(
        "this? kind privileges scope container_kind container principals revoke?"
    )


class GrantOwnership(Statement):
    """GRANT OWNERSHIP ON <kind> name TO ROLE r [COPY | REVOKE CURRENT GRANTS]."""

    arg_types: ClassVar[dict[str, bool]] = _args("this kind principal current_grants?")


class Execute(Statement):
    """EXECUTE DBT PROJECT name ARGS = '...' / EXECUTE TASK name."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "properties": False}


class Principal(Statement):
    """ROLE r, USER u, DATABASE ROLE d.r or APPLICATION ROLE a.r."""


class AlterObject(Statement):
    """ALTER <kind> name <action> for the actions sqlglot leaves as a command."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "exists": False, "action": True}


class Action(Statement):
    """One action of an ALTER: ``kind`` names it (SET TAG, ADD ROW ACCESS POLICY, RESUME ...)."""

    arg_types: ClassVar[dict[str, bool]] = _args("this? kind column? expressions? columns? expectations?")


class Call(Statement):
    """CALL procedure(arguments)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": False}


class Remove(Statement):
    """REMOVE @stage[/path] [PATTERN = '...']: files deleted from a stage."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "properties": False}


class AlterDbtProject(Statement):
    """ALTER DBT PROJECT name ADD VERSION [alias] FROM 'stage path'."""

    arg_types: ClassVar[dict[str, bool]] = _args("this alias? source")


_PRINCIPAL_KINDS = (("APPLICATION", "ROLE"), ("DATABASE", "ROLE"), ("ROLE",), ("USER",), ("SHARE",))
_BULK_OBJECTS = (
    "TABLES",
    "VIEWS",
    "SCHEMAS",
    "PROCEDURES",
    "FUNCTIONS",
    "STAGES",
    "FILE FORMATS",
    "SEQUENCES",
    "STREAMS",
    "TASKS",
    "ALERTS",
    "DYNAMIC TABLES",
    "EXTERNAL TABLES",
    "MATERIALIZED VIEWS",
)


class LakeParser(SnowflakeParser):
    """Snowflake's parser plus the statements listed in the module docstring."""

    STATEMENT_PARSERS: ClassVar[dict[TokenType, Callable[..., Any]]] = {
        **SnowflakeParser.STATEMENT_PARSERS,
        TokenType.COMMAND: lambda self: self._parse_call(),
        TokenType.EXECUTE: lambda self: self._parse_execute(),
    }

    # -- entry points -------------------------------------------------------------

    def _parse_create(self) -> exp.Expr:  # type: ignore[override]  # also returns this module's nodes
        index = self._index
        replace = self._match_pair(TokenType.OR, TokenType.REPLACE)
        if not replace and self._match_text_seq("OR", "ALTER", "VERSIONED", "SCHEMA"):
            return self._finish(self._parse_role("VERSIONED SCHEMA", replace, alter=True))
        for words, method in (
            (("MASKING", "POLICY"), lambda: self._parse_policy("MASKING POLICY", replace)),
            (("ROW", "ACCESS", "POLICY"), lambda: self._parse_policy("ROW ACCESS POLICY", replace)),
            (("DATA", "METRIC", "FUNCTION"), lambda: self._parse_data_metric_function(replace)),
            (("ALERT",), lambda: self._parse_alert(replace)),
            (("TASK",), lambda: self._parse_task(replace)),
            (("APPLICATION", "ROLE"), lambda: self._parse_role("APPLICATION ROLE", replace)),
            (("DATABASE", "ROLE"), lambda: self._parse_role("DATABASE ROLE", replace)),
            (("ROLE",), lambda: self._parse_role("ROLE", replace)),
            (("NOTIFICATION", "INTEGRATION"), lambda: self._parse_role("NOTIFICATION INTEGRATION", replace)),
            (("VERSIONED", "SCHEMA"), lambda: self._parse_role("VERSIONED SCHEMA", replace)),
            (("STREAMLIT",), lambda: self._parse_from_stage(CreateStreamlit, "streamlit", replace)),
            (("NETWORK", "RULE"), lambda: self._parse_role("NETWORK RULE", replace)),
            (("SECRET",), lambda: self._parse_role("SECRET", replace)),
            (("EXTERNAL", "ACCESS", "INTEGRATION"), lambda: self._parse_role("EXTERNAL ACCESS INTEGRATION", replace)),
            (("DBT", "PROJECT"), lambda: self._parse_from_stage(CreateDbtProject, "dbt project", replace)),
        ):
            if self._match_text_seq(*words):
                return self._finish(method())
        self._retreat(index)
        return super()._parse_create()

    def _parse_alter(self) -> exp.Expr:  # type: ignore[override]  # also returns this module's nodes
        index = self._index
        if self._match_text_seq("DBT", "PROJECT"):
            # https://docs.snowflake.com/en/sql-reference/sql/alter-dbt-project
            name = self._parse_name("dbt project")
            if self._match_text_seq("ADD", "VERSION"):
                alias = None if self._match_text_seq("FROM", advance=False) else self._parse_id_var()
                self._expect("FROM")
                source = self._parse_string()
                if source is None:
                    self.raise_error("Expected FROM '<stage path>'")
                return self._finish(self.expression(AlterDbtProject(this=name, alias=alias, source=source)))
            self._retreat(index)
            return super()._parse_alter()
        kind = None
        for words in (("MASKING", "POLICY"), ("ROW", "ACCESS", "POLICY")):
            if self._match_text_seq(*words):
                kind = " ".join(words)
        if kind is None and self._match_texts(("TABLE", "VIEW", "TAG", "SCHEMA", "DATABASE", "ALERT", "TASK", "STAGE")):
            kind = self._prev.text.upper()
        if kind:
            exists = self._parse_exists()
            name = self._parse_name(kind.lower())
            action = self._parse_alter_action(kind)
            if action is not None:
                return self._finish(self.expression(AlterObject(this=name, kind=kind, exists=exists, action=action)))
        self._retreat(index)
        return super()._parse_alter()

    def _parse_grant(self) -> exp.Expr:  # type: ignore[override]  # also returns this module's nodes
        return self._parse_grant_or_revoke(revoke=False) or super()._parse_grant()

    def _parse_revoke(self) -> exp.Expr:  # type: ignore[override]  # also returns this module's nodes
        return self._parse_grant_or_revoke(revoke=True) or super()._parse_revoke()

    def _parse_call(self) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/call and
        https://docs.snowflake.com/en/sql-reference/sql/remove (other command words stay commands)."""
        if self._prev.text.upper() in ("REMOVE", "RM"):
            # a stage path is not an expression: read the rest of the statement as written
            rest = self.sql[self._curr.start :] if self._curr else ""
            while self._curr:
                self._advance()
            match = re.fullmatch(r"(@[\w$.\"]+(?:/[^\s]*)?)(?:\s+PATTERN\s*=\s*'[^']*')?\s*", rest, re.IGNORECASE)
            if not match:
                self.raise_error("Expected REMOVE @stage[/path] [PATTERN = '...']")
                return exp.Var(this=rest)
            return self.expression(Remove(this=exp.Var(this=match.group(1))))
        if self._prev.text.upper() != "CALL":
            return self._parse_as_command(self._prev)
        name = self._parse_name("procedure")
        if not self._match(TokenType.L_PAREN, advance=False):
            self.raise_error("Expected a procedure call, CALL name(arguments)")
        arguments = self._parse_wrapped_csv(self._parse_assignment, optional=True)
        return self.expression(Call(this=exp.Anonymous(this=name.sql(dialect="snowflake"), expressions=arguments)))

    def _parse_execute(self) -> exp.Expr:
        """EXECUTE DBT PROJECT (https://docs.snowflake.com/en/sql-reference/sql/execute-dbt-project)
        and EXECUTE TASK; anything else after EXECUTE stays a command."""
        start = self._prev
        for words, kind in ((("DBT", "PROJECT"), "DBT PROJECT"), (("TASK",), "TASK")):
            if self._match_text_seq(*words):
                name = self._parse_name(kind.lower())
                properties = self._parse_assignments()
                return self.expression(Execute(this=name, kind=kind, properties=properties))
        return self._parse_as_command(start)

    # -- helpers --------------------------------------------------------------------

    def _finish(self, statement: exp.Expr) -> exp.Expr:
        if self._curr:
            self.raise_error(f"Unexpected {self._curr.text!r} after a complete statement")
        return statement

    def _expect(self, *words: str) -> None:
        if not self._match_text_seq(*words):
            self.raise_error(f"Expected {' '.join(words)}")

    def _parse_name(self, what: str) -> exp.Expr:
        """A dotted object name, ``[db.][schema.]name`` (no table-function call)."""
        parts: list[exp.Expr | None] = [self._parse_id_var(any_token=False)]
        while parts[-1] is not None and self._match(TokenType.DOT):
            parts.append(self._parse_id_var(any_token=True))
        if not all(parts) or len(parts) > 3:
            self.raise_error(f"Expected the {what}'s name")
            return exp.Table(this=exp.to_identifier(what))
        padded = [None] * (3 - len(parts)) + parts
        return exp.Table(catalog=padded[0], db=padded[1], this=padded[2])

    def _parse_assignments(self, *stop: str) -> list[exp.Expr]:
        """``KEY = value`` pairs (optionally comma separated) until a stop word or the end."""
        pairs: list[exp.Expr] = []
        while self._curr and self._curr.text.upper() not in stop:
            key = self._parse_var(any_token=True)
            if not key or not self._match(TokenType.EQ):
                self.raise_error("Expected KEY = value")
                break
            value: exp.Expr | None
            if self._curr and self._curr.token_type == TokenType.L_PAREN:
                value = exp.Tuple(expressions=self._parse_wrapped_csv(self._parse_tuple_item))
            else:  # a literal, a name, or a call such as a Native App's reference('name')
                value = self._parse_function() or self._parse_primary() or self._parse_var(any_token=True)
            if value is None:
                self.raise_error(f"Expected a value for {key.name}")
            pairs.append(self.expression(exp.Property(this=key, value=value)))
            self._match(TokenType.COMMA)
        return pairs

    def _parse_tuple_item(self) -> exp.Expr | None:
        """One item of a parenthesised property value: ``'a'``, ``db.schema.name``,
        ``'key' = name`` (a procedure's SECRETS) or ``KEY = value`` (DIRECTORY = (ENABLE = TRUE))."""
        if self._curr and self._next and self._next.token_type == TokenType.EQ:
            string_key = self._curr.token_type == TokenType.STRING
            key = self._parse_primary() if string_key else self._parse_var(any_token=True)
            self._match(TokenType.EQ)
            value = self._parse_primary() if self._curr and self._curr.token_type == TokenType.STRING else None
            return self.expression(exp.Property(this=key, value=value or self._parse_name("value")))
        if self._curr and self._curr.token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            return self._parse_name("object")
        return self._parse_primary()

    def _parse_body_query(self, body: exp.Expr | None) -> exp.Expr | None:
        """A string body (``AS '...'`` or ``AS $$...$$``) parsed as a Lake query."""
        # '...' arrives as a string literal, $$...$$ as a raw string.
        if not (isinstance(body, exp.Literal) and body.is_string) and not isinstance(body, exp.RawString):
            self.raise_error("Expected the body as a string")
            return None
        try:
            return sqlglot.parse_one(body.name, dialect=Lake, error_level=ErrorLevel.RAISE)
        except ParseError as err:
            self.raise_error(f"Invalid body: {err.errors[0]['description'] if err.errors else err}")
            return None

    def _parse_principal(self) -> exp.Expr | None:
        for words in _PRINCIPAL_KINDS:
            if self._match_text_seq(*words):
                return self.expression(Principal(this=self._parse_name("principal"), kind=" ".join(words)))
        return None

    # -- CREATE ---------------------------------------------------------------------

    def _parse_policy(self, kind: str, replace: bool) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/create-masking-policy and
        https://docs.snowflake.com/en/sql-reference/sql/create-row-access-policy"""
        exists = self._parse_exists(not_=True)
        name = self._parse_name(kind.lower())
        self._expect("AS")
        params = self._parse_wrapped_csv(lambda: self._parse_column_def(self._parse_id_var()))
        self._expect("RETURNS")
        returns = self._parse_types()
        if not self._match(TokenType.ARROW):
            self.raise_error("Expected -> before the policy body")
        body = self._parse_assignment()
        if body is None:
            self.raise_error("Expected the policy body")
        signed = {"this": name, "replace": replace, "exists": exists, "params": params, "returns": returns}
        return self.expression(CreatePolicy(kind=kind, body=body, properties=self._parse_assignments(), **signed))

    def _parse_data_metric_function(self, replace: bool) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/create-data-metric-function"""
        exists = self._parse_exists(not_=True)
        name = self._parse_name("data metric function")

        def table_argument() -> exp.Expr:
            argument = self._parse_id_var()
            self._expect("TABLE")
            columns = self._parse_wrapped_csv(lambda: self._parse_column_def(self._parse_id_var()))
            return self.expression(exp.ColumnDef(this=argument, kind=exp.Var(this="TABLE"), constraints=columns))

        params = self._parse_wrapped_csv(table_argument)
        self._expect("RETURNS")
        returns = self._parse_types()
        self._match_text_seq("NOT", "NULL")
        properties = self._parse_assignments("AS")
        self._expect("AS")
        body = self._parse_body_query(self._parse_string())
        signed = {"this": name, "replace": replace, "exists": exists, "params": params, "returns": returns}
        return self.expression(CreateDataMetricFunction(body=body, properties=properties, **signed))

    def _parse_alert(self, replace: bool) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/create-alert"""
        exists = self._parse_exists(not_=True)
        name = self._parse_name("alert")
        properties = self._parse_assignments("IF")
        self._expect("IF")
        condition = self._parse_wrapped(self._parse_assignment)
        if not isinstance(condition, exp.Exists):
            self.raise_error("An alert's condition is IF (EXISTS (query))")
        self._expect("THEN")
        action = self._parse_statement()
        return self.expression(
            CreateAlert(
                this=name, replace=replace, exists=exists, properties=properties, condition=condition, action=action
            )
        )

    def _parse_task(self, replace: bool) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/create-task"""
        task: dict[str, Any] = {"replace": replace, "exists": self._parse_exists(not_=True)}
        task["this"] = self._parse_name("task")
        task["properties"] = self._parse_assignments("AFTER", "WHEN", "AS", "FINALIZE")
        task["finalize"] = self._parse_name("root task") if self._match_text_seq("FINALIZE", "=") else None
        if self._match_text_seq("AFTER"):
            task["after"] = self._parse_csv(lambda: self._parse_name("predecessor"))
        task["when"] = self._parse_assignment() if self._match_text_seq("WHEN") else None
        self._expect("AS")
        task["body"] = self._parse_statement()
        if task["body"] is None:
            self.raise_error("Expected the task's statement after AS")
        return self.expression(CreateTask(**task))

    def _parse_role(self, kind: str, replace: bool, alter: bool = False) -> exp.Expr:
        """A named object with only properties: https://docs.snowflake.com/en/sql-reference/sql/create-role,
        https://docs.snowflake.com/en/sql-reference/sql/create-notification-integration-email, and a
        Native App's versioned schema (``CREATE OR ALTER VERSIONED SCHEMA``,
        https://docs.snowflake.com/en/developer-guide/native-apps/versioned-schema)"""
        exists = self._parse_exists(not_=True)
        name = self._parse_name(kind.lower())
        properties = self._parse_assignments()
        role = CreateRole(this=name, kind=kind, replace=replace, exists=exists, properties=properties, alter=alter)
        return self.expression(role)

    def _parse_from_stage(self, node: type[CreateFromStage], kind: str, replace: bool) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/create-streamlit (MAIN_FILE is
        required) and https://docs.snowflake.com/en/sql-reference/sql/create-dbt-project"""
        exists = self._parse_exists(not_=True)
        name = self._parse_name(kind)
        self._expect("FROM")
        source = self._parse_string()
        if source is None:
            self.raise_error("Expected FROM '<stage path>'")
        properties = self._parse_assignments()
        if node is CreateStreamlit and not any(p.name.upper() == "MAIN_FILE" for p in properties):
            self.raise_error("Expected MAIN_FILE = '<file>'")
        statement = node(
            this=name, kind=kind.upper(), replace=replace, exists=exists, source=source, properties=properties
        )
        return self.expression(statement)

    # -- ALTER ----------------------------------------------------------------------

    def _parse_alter_action(self, kind: str) -> exp.Expr | None:
        """The action after ``ALTER <kind> name``, or None to leave the statement to sqlglot."""
        if kind in ("ALERT", "TASK") and self._match_texts(("RESUME", "SUSPEND")):
            return self.expression(Action(kind=self._prev.text.upper()))
        if kind.endswith("POLICY") and self._match_text_seq("SET", "BODY"):
            # https://docs.snowflake.com/en/sql-reference/sql/alter-masking-policy
            if not self._match(TokenType.ARROW):
                self.raise_error("Expected -> before the policy body")
            return self.expression(Action(kind="SET BODY", this=self._parse_assignment()))
        if kind == "TAG" and self._match_texts(("SET", "UNSET")):
            verb = self._prev.text.upper()
            policies = self._parse_csv(lambda: self._match_text_seq("MASKING", "POLICY") and self._parse_name("policy"))
            if not all(policies):
                self.raise_error("Expected MASKING POLICY name")
            force = verb == "SET" and self._match_text_seq("FORCE")
            return self.expression(
                Action(kind=f"{verb} MASKING POLICY{' FORCE' if force else ''}", expressions=policies)
            )
        if kind == "STAGE" and self._match_text_seq("REFRESH"):
            # https://docs.snowflake.com/en/sql-reference/sql/alter-stage (directory tables)
            return self.expression(Action(kind="REFRESH"))
        if kind == "SCHEMA" and self._match_texts(("ENABLE", "DISABLE")):
            # https://docs.snowflake.com/en/sql-reference/sql/alter-schema
            verb = self._prev.text.upper()
            self._expect("MANAGED", "ACCESS")
            return self.expression(Action(kind=f"{verb} MANAGED ACCESS"))
        if kind in ("SCHEMA", "DATABASE", "STAGE") and self._match_text_seq("SET"):
            return self.expression(Action(kind="SET", expressions=self._parse_assignments()))
        if kind not in ("TABLE", "VIEW"):
            return None
        if self._match_text_seq("DROP", "ALL", "ROW", "ACCESS", "POLICIES"):
            return self.expression(Action(kind="DROP ALL ROW ACCESS POLICIES"))
        if self._match_texts(("ADD", "DROP")):
            verb = self._prev.text.upper()
            if self._match_text_seq("ROW", "ACCESS", "POLICY"):
                policy = self._parse_name("row access policy")
                columns = None
                if verb == "ADD":
                    self._expect("ON")
                    columns = self._parse_wrapped_csv(self._parse_id_var)
                return self.expression(Action(kind=f"{verb} ROW ACCESS POLICY", this=policy, columns=columns))
            if self._match_text_seq("DATA", "METRIC", "FUNCTION"):
                return self._parse_metric_action(verb)
            return None
        if self._match_texts(("MODIFY", "ALTER")):
            self._match(TokenType.COLUMN)
            column = self._parse_id_var()
            if self._match_text_seq("SET", "TAG"):
                return self.expression(Action(kind="SET TAG", column=column, expressions=self._parse_tag_values()))
            if self._match_text_seq("UNSET", "TAG"):
                tags = self._parse_csv(lambda: self._parse_name("tag"))
                return self.expression(Action(kind="UNSET TAG", column=column, expressions=tags))
            if self._match_text_seq("SET", "MASKING", "POLICY"):
                policy = self._parse_name("masking policy")
                columns = self._parse_wrapped_csv(self._parse_id_var) if self._match_text_seq("USING") else None
                self._match_text_seq("FORCE")
                return self.expression(Action(kind="SET MASKING POLICY", column=column, this=policy, columns=columns))
            if self._match_text_seq("UNSET", "MASKING", "POLICY"):
                return self.expression(Action(kind="UNSET MASKING POLICY", column=column))
            return None
        return None

    def _parse_tag_values(self) -> list[exp.Expr]:
        def tag_value() -> exp.Expr:
            tag = self._parse_name("tag")
            if not self._match(TokenType.EQ):
                self.raise_error("Expected tag = 'value'")
            value = self._parse_string()
            if value is None:
                self.raise_error("A tag's value is a string")
            return self.expression(exp.Property(this=tag, value=value))

        return self._parse_csv(tag_value)

    def _parse_metric_action(self, verb: str) -> exp.Expr:
        """https://docs.snowflake.com/en/sql-reference/sql/alter-table (data metric functions)"""
        function = self._parse_name("data metric function")
        self._expect("ON")

        def argument() -> exp.Expr | None:
            # a column of this table, or TABLE(other_table(column, ...)) for a second argument
            if self._match(TokenType.TABLE):

                def other() -> exp.Expr:
                    table = self._parse_name("table")
                    return self.expression(
                        exp.Schema(this=table, expressions=self._parse_wrapped_csv(self._parse_id_var))
                    )

                return self._parse_wrapped(other)
            return self._parse_id_var()

        columns = self._parse_wrapped(lambda: self._parse_csv(argument), optional=True)
        expectations = None
        if self._match_text_seq("EXPECTATION"):
            expectations = self._parse_csv(
                lambda: self.expression(
                    exp.Property(this=self._parse_id_var(), value=self._parse_wrapped(self._parse_assignment))
                )
            )
        return self.expression(
            Action(kind=f"{verb} DATA METRIC FUNCTION", this=function, columns=columns or [], expectations=expectations)
        )

    # -- GRANT / REVOKE ---------------------------------------------------------------

    def _parse_grant_or_revoke(self, revoke: bool) -> exp.Expr | None:
        """Role grants and bulk grants; None leaves the statement to sqlglot.

        https://docs.snowflake.com/en/sql-reference/sql/grant-role and
        https://docs.snowflake.com/en/sql-reference/sql/grant-privilege"""
        index = self._index
        to = "FROM" if revoke else "TO"
        if not revoke and self._match_text_seq("OWNERSHIP", "ON"):
            # https://docs.snowflake.com/en/sql-reference/sql/grant-ownership
            owned_kind = " ".join(
                next(
                    (
                        w
                        for w in (
                            ("DATABASE",),
                            ("SCHEMA",),
                            ("TABLE",),
                            ("VIEW",),
                            ("STAGE",),
                            ("INTEGRATION",),
                            ("WAREHOUSE",),
                        )
                        if self._match_text_seq(*w)
                    ),
                    ("",),
                )
            )
            if not owned_kind:
                self.raise_error("Expected the kind of object whose ownership is granted")
            owned = self._parse_name("object")
            self._expect(to)
            principal = self._parse_principal()
            current = self._match_texts(("COPY", "REVOKE")) and self._prev.text.upper()
            if current:
                self._expect("CURRENT", "GRANTS")
            return self._finish(
                self.expression(
                    GrantOwnership(this=owned, kind=owned_kind, principal=principal, current_grants=current or None)
                )
            )
        for words in (("APPLICATION", "ROLE"), ("DATABASE", "ROLE"), ("ROLE",)):
            if self._match_text_seq(*words):
                role = self._parse_name("role")
                self._expect(to)
                principal = self._parse_principal()
                if principal is None:
                    self.raise_error("Expected ROLE, USER, DATABASE ROLE or APPLICATION ROLE")
                return self._finish(
                    self.expression(GrantRole(this=role, kind=" ".join(words), principal=principal, revoke=revoke))
                )
        privileges = self._parse_csv(self._parse_grant_privilege)
        if self._match(TokenType.ON):
            scope = self._match_texts(("ALL", "FUTURE")) and self._prev.text.upper()
            objects = next((words for words in _BULK_OBJECTS if self._match_text_seq(*words.split())), None)
            if scope and objects:
                self._expect("IN")
                container_kind = self._match_texts(("SCHEMA", "DATABASE")) and self._prev.text.upper()
                if not container_kind:
                    self.raise_error("Expected IN SCHEMA or IN DATABASE")
                grant = {"kind": objects, "privileges": privileges, "scope": scope, "revoke": revoke}
                grant |= {"container_kind": container_kind, "container": self._parse_name("container")}
                self._expect(to)
                grant["principals"] = self._parse_csv(self._parse_principal)
                return self._finish(self.expression(GrantBulk(**grant)))
            if not scope:
                # GRANT ... ON <object kind> name(<argument types>) TO APPLICATION ROLE x: the
                # forms sqlglot's GRANT does not know (procedure signatures, application roles).
                kind = self._parse_var(any_token=True)
                name = self._parse_table_parts()
                signature = self._parse_wrapped_csv(self._parse_types, optional=True)
                if kind and name and self._match_text_seq(to):
                    principals = self._parse_csv(self._parse_principal)
                    if (
                        principals and all(principals) and any(p.args["kind"] != "ROLE" for p in principals)
                    ) or signature:
                        securable = exp.Anonymous(this=name.sql(dialect="snowflake"), expressions=signature or [])
                        node = exp.Revoke if revoke else exp.Grant
                        return self._finish(
                            self.expression(
                                node(
                                    privileges=privileges,
                                    kind=kind.name.upper(),
                                    securable=securable,
                                    principals=principals,
                                )
                            )
                        )
        self._retreat(index)
        return None


class LakeTokenizer(Snowflake.Tokenizer):
    # Snowflake's tokenizer turns everything after CALL or EXECUTE into one string, so
    # a statement starting with them could not be parsed; tokenize them like the rest.
    COMMANDS = Snowflake.Tokenizer.COMMANDS - {TokenType.COMMAND, TokenType.EXECUTE}


class Lake(Snowflake):
    """Snowflake with the statements of the module docstring parsed."""

    Tokenizer = LakeTokenizer
    Parser = LakeParser


def parse(statement: str, source: str = "<sql>") -> exp.Expr:
    """One statement parsed as Lake SQL; raise SqlSyntaxError naming ``source`` if it is not.

    A statement that would only parse as an opaque command is an error too: every
    statement the lake ships has a grammar here or in sqlglot.
    """
    try:
        parsed = sqlglot.parse_one(statement, dialect=Lake, error_level=ErrorLevel.RAISE)
    except ParseError as err:
        raise SqlSyntaxError(f"{source}: {err}\n  statement: {statement[:200]}") from err
    if isinstance(parsed, exp.Command):
        raise SqlSyntaxError(f"{source}: no grammar for this statement (parsed only as a command): {statement[:200]}")
    return parsed
