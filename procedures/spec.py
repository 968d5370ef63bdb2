"""The entity spec: the single source of truth for what producers land.

Nine entities from three producers, declared in ``entities.yml`` beside this module and
checked here (the dataclasses below; a value set named there must be one of this
module's). Every later layer derives from them: the generator's columns and
vocabularies, landing table DDL, the vault's hubs, links and satellites, PII
classification, and the accepted-value tests. Adding an entity is a change to the YAML
file (then ``make ddl``), not new code.

Landing files carry every field as text (producers' extracts); staging casts each
column to ``Column.type`` with a TRY_ cast so a bad value is quarantined, not a
failed COPY.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

PRODUCERS: tuple[str, ...] = ("crm", "finance", "operations")


@dataclass(frozen=True)
class ReferenceTable:
    """Reference data with its history (declared in ``reference_data.yml``): rows of text,
    the code first, then the other columns, then ``valid_from`` and ``valid_to`` (empty
    while current). Shipped as dbt seeds into the vault's schema (``make ddl`` writes
    dbt/seeds/reference/); the silver and gold models join them instead of carrying value
    lists."""

    name: str
    description: str
    columns: tuple[tuple[str, str], ...]  # (name, description), code first
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            assert len(row) == len(self.columns) + 2, f"{self.name}: {row} does not have every column"

    def column(self, name: str) -> tuple[str, ...]:
        """One column of the current rows, in declared order."""
        index = [c for c, _ in self.columns].index(name)
        return tuple(row[index] for row in self.rows if not row[-1])

    @property
    def codes(self) -> tuple[str, ...]:
        return self.column(self.columns[0][0])


def _declared(file_name: str) -> dict[str, Any]:
    """One of the spec's YAML files beside this module (shipped in the procedures' archive)."""
    text = (resources.files("procedures") / file_name).read_text(encoding="utf-8")
    # libyaml's loader when PyYAML has it (every wheel does): every process that imports
    # the spec parses both files (7 ms here; the pure-Python loader, 26 ms)
    declared: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return declared


_REFERENCE = {
    name: ReferenceTable(
        name,
        table["description"],
        tuple(table["columns"].items()),
        tuple(tuple(row) for row in table["rows"]),
    )
    for name, table in _declared("reference_data.yml").items()
}
COUNTRIES = _REFERENCE["ref_countries"]  # the domiciles of an institutional book, with their dialling codes
CURRENCY_TABLE = _REFERENCE["ref_currencies"]
CLIENT_SEGMENT_TABLE = _REFERENCE["ref_client_segments"]
REFERENCE_TABLES: tuple[ReferenceTable, ...] = (COUNTRIES, CURRENCY_TABLE, CLIENT_SEGMENT_TABLE)

# Value sets, shared by the generator (what it emits) and later layers (what they accept).
CLIENT_SEGMENTS = CLIENT_SEGMENT_TABLE.codes
LIFECYCLE_STAGES = ("PROSPECT", "ONBOARDING", "ACTIVE", "DORMANT", "CLOSED")
RISK_RATINGS = ("LOW", "MEDIUM", "HIGH")
KYC_STATUSES = ("PENDING", "VERIFIED", "EXPIRED", "REJECTED")
DOMICILES = COUNTRIES.codes
DIALLING_CODES = COUNTRIES.column("dialling_code")
CURRENCIES = CURRENCY_TABLE.codes
ACCOUNT_TYPES = ("CUSTODY", "CASH", "MARGIN", "SEGREGATED", "OMNIBUS", "SETTLEMENT")
ACCOUNT_STATUSES = ("OPEN", "ACTIVE", "DORMANT", "FROZEN", "CLOSED")
TRANSACTION_TYPES = (
    "DEPOSIT",
    "WITHDRAWAL",
    "TRADE_BUY",
    "TRADE_SELL",
    "FEE",
    "INTEREST",
    "DIVIDEND",
    "TRANSFER_IN",
    "TRANSFER_OUT",
)
DIRECTIONS = ("CREDIT", "DEBIT")
TRANSACTION_STATUSES = ("BOOKED", "PENDING", "REVERSED")
ORDER_STATUSES = ("PENDING", "CONFIRMED", "FULFILLED", "CANCELLED", "REJECTED")
ORDER_CHANNELS = ("PORTAL", "API", "FIX", "PHONE", "EMAIL")
ASSET_CLASSES = ("EQUITY", "FIXED_INCOME", "FX", "DERIVATIVE", "FUND", "CUSTODY_SERVICE", "ADVISORY")
INTERACTION_CHANNELS = ("EMAIL", "CALL", "MEETING", "PORTAL", "CONFERENCE")
INTERACTION_TYPES = ("REVIEW", "SERVICE_REQUEST", "COMPLAINT", "PITCH", "ONBOARDING", "REPORTING")
SENTIMENTS = ("POSITIVE", "NEUTRAL", "NEGATIVE")
OPPORTUNITY_STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST")

# Lifetime-value tiers, highest first: the first whose minimum a client's value reaches
# (dbt's `value_tiers` var and the gold quality rule use these; a test keeps them equal).
VALUE_TIERS: tuple[tuple[str, int], ...] = (
    ("PLATINUM", 25_000_000),
    ("GOLD", 10_000_000),
    ("SILVER", 1_000_000),
    ("BRONZE", 0),
)

CONTACT_ROLES = ("RELATIONSHIP", "OPERATIONS", "FINANCE", "COMPLIANCE", "TRADING")

# Money lands as NUMBER(18,2) and stays NUMBER with a stated scale to gold (never FLOAT)
MONEY_TYPE = "NUMBER(18,2)"

# PII classes: the governance layer tags and masks every column that carries one.
PII_CLASSES = ("name", "email", "phone", "address", "date_of_birth", "tax_id", "account_number")
# The classes that are a natural person's data (a client's contact people): what a right-to-
# erasure request covers, kept in personal satellites. An account number is masked, but it
# identifies an institution's account, not a person.
PERSONAL_CLASSES = ("name", "email", "phone", "address", "date_of_birth", "tax_id")


@dataclass(frozen=True)
class Column:
    """One landed field. ``type`` is the Snowflake type staging casts the text to."""

    name: str
    type: str = "VARCHAR"
    pii: str | None = None
    values: tuple[str, ...] | None = None
    description: str = ""
    # its name in the entity's silver model, when silver renames it (domicile_country ->
    # country_code); a value-set column's silver distribution is checked under that name
    silver_name: str = ""

    def __post_init__(self) -> None:
        assert self.pii is None or self.pii in PII_CLASSES, f"unknown PII class {self.pii!r}"

    @property
    def is_money(self) -> bool:
        """An amount of money: NUMBER(18,2) in the spec, in the row's currency column."""
        return self.type == MONEY_TYPE

    @property
    def personal(self) -> bool:
        """A natural person's data, which an erasure overwrites."""
        return self.pii in PERSONAL_CLASSES


@dataclass(frozen=True)
class Reference:
    """A column that points at another entity's business key: one vault link.

    ``link`` names it (``link_<link>``); by default ``<parent>_<child>`` in singular,
    e.g. accounts.customer_id -> ``customer_account``.
    """

    column: str
    entity: str
    link: str = ""
    # an effectivity satellite follows the relationship: the child (the driving key) has
    # one parent at a time, and a relationship starts and ends as loads observe it
    effectivity: bool = False


@dataclass(frozen=True)
class Entity:
    """A landed entity: one hub, one satellite, and a link per reference.

    Two kinds of delivery change that:

    * ``snapshot``: every complete delivery lists every live key, so a key missing from
      one is deleted at that load (a status tracking satellite records it);
    * ``multi_active``: the rows are a *set* per parent key (the entity's one reference),
      delivered whole whenever it changes; they load into a multi-active satellite on the
      parent's hub, with no hub or link of their own, and a row without its parent is
      quarantined.
    """

    name: str  # plural, as landed: customers
    singular: str  # as in the vault: hub_customer
    producer: str
    key: str  # the business key column
    id_prefix: str
    id_width: int
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = ()
    # The columns whose values are timestamps of the business event or change.
    event_column: str = "updated_at"
    description: str = ""
    snapshot: bool = False
    multi_active: bool = False
    # (column, value) that ends the relationships of the effectivity references: an
    # account whose status turns CLOSED no longer belongs to its client
    ends_relationship: tuple[str, str] | None = None
    # whether the business vault keeps a point-in-time table of the hub: not where the
    # marts never ask "as of a date" through it (exchange rates are dated by their key)
    point_in_time: bool = True
    # the dbt model that conforms the entity in silver (its current row per key), if any:
    # control totals and distribution rules compare it with landing
    silver: str = ""

    def __post_init__(self) -> None:
        assert not self.multi_active or len(self.references) == 1, f"{self.name}: a multi-active set has one parent"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def staging_view(self) -> str:
        """Its typed staging view in the landing schema (procedures/staging.py)."""
        return f"STG_{self.name.upper()}"

    @property
    def money(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.is_money)

    @property
    def currency_column(self) -> str | None:
        """The column that says which currency the row's money is in."""
        return "currency" if "currency" in self.column_names else None


def _value_set(name: str) -> tuple[str, ...]:
    """A value set of this module by its name (``values: CURRENCIES`` in entities.yml)."""
    found = globals().get(name)
    assert name.isupper() and isinstance(found, tuple) and found, f"entities.yml: no value set {name!r} in spec.py"
    return found


def _column_fields(declared: dict[str, Any]) -> dict[str, Any]:
    return {k: _value_set(v) if k == "values" else v for k, v in declared.items()}


def _entity(name: str, declared: dict[str, Any]) -> Entity:
    """One entity of entities.yml, every field checked by the dataclasses."""
    columns = tuple(Column(**_column_fields(column)) for column in declared.pop("columns"))
    references = tuple(Reference(**r) for r in declared.pop("references", ()))
    ends = declared.pop("ends_relationship", None)
    return Entity(
        name=name,
        columns=columns,
        references=references,
        ends_relationship=tuple(ends) if ends else None,
        **declared,
    )


# The entities, in the order producers deliver and the vault loads them
ENTITIES: tuple[Entity, ...] = tuple(_entity(name, declared) for name, declared in _declared("entities.yml").items())

ENTITY_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}


def entity(name: str) -> Entity:
    """Look an entity up by its landed (plural) name, with a clear error."""
    try:
        return ENTITY_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; known: {', '.join(ENTITY_BY_NAME)}") from None
