"""The entity spec: the single source of truth for what producers land.

Eight entities from three producers. Every later layer derives from this: the
generator's columns and vocabularies, landing table DDL, the vault's hubs, links and
satellites, PII classification, and the accepted-value tests. Adding an entity is a
change here, not new code.

Landing files carry every field as text (producers' extracts); staging casts each
column to ``Column.type`` with a TRY_ cast so a bad value is quarantined, not a
failed COPY.
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCERS: tuple[str, ...] = ("crm", "finance", "operations")


@dataclass(frozen=True)
class ReferenceTable:
    """Reference data with its history: rows of text, the code first, then the other
    columns, then ``valid_from`` and ``valid_to`` (empty while current). Shipped as dbt
    seeds into the vault's schema (``make ddl`` writes dbt/seeds/reference/); the silver
    and gold models join them instead of carrying value lists."""

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


# ISO 3166-1 alpha-2 domiciles of an institutional book, with their dialling codes.
COUNTRIES = ReferenceTable(
    "ref_countries",
    "ISO 3166-1 countries the book is domiciled in.",
    (
        ("country_code", "ISO 3166-1 alpha-2 code."),
        ("country_name", "Short English name."),
        ("dialling_code", "International dialling code, without +."),
    ),
    (
        ("US", "United States", "1", "1974-01-01", ""),
        ("GB", "United Kingdom", "44", "1974-01-01", ""),
        ("DE", "Germany", "49", "1974-01-01", ""),
        ("FR", "France", "33", "1974-01-01", ""),
        ("CH", "Switzerland", "41", "1974-01-01", ""),
        ("LU", "Luxembourg", "352", "1974-01-01", ""),
        ("IE", "Ireland", "353", "1974-01-01", ""),
        ("NL", "Netherlands", "31", "1974-01-01", ""),
        ("JP", "Japan", "81", "1974-01-01", ""),
        ("SG", "Singapore", "65", "1974-01-01", ""),
        ("HK", "Hong Kong", "852", "1974-01-01", ""),
        ("CA", "Canada", "1", "1974-01-01", ""),
        ("AU", "Australia", "61", "1974-01-01", ""),
        ("AE", "United Arab Emirates", "971", "1974-01-01", ""),
    ),
)
CURRENCY_TABLE = ReferenceTable(
    "ref_currencies",
    "ISO 4217 currencies accounts, orders and products are priced in; withdrawn ones kept with their end.",
    (
        ("currency_code", "ISO 4217 code."),
        ("currency_name", "English name."),
        ("minor_units", "Decimal places of the minor unit."),
    ),
    (
        ("USD", "US Dollar", "2", "1978-01-01", ""),
        ("EUR", "Euro", "2", "1999-01-01", ""),
        ("GBP", "Pound Sterling", "2", "1978-01-01", ""),
        ("CHF", "Swiss Franc", "2", "1978-01-01", ""),
        ("JPY", "Yen", "0", "1978-01-01", ""),
        ("SGD", "Singapore Dollar", "2", "1978-01-01", ""),
        ("HKD", "Hong Kong Dollar", "2", "1978-01-01", ""),
        ("CAD", "Canadian Dollar", "2", "1978-01-01", ""),
        ("AUD", "Australian Dollar", "2", "1978-01-01", ""),
        # Croatia adopted the euro on 2023-01-01: the kuna's history stays
        ("HRK", "Croatian Kuna", "2", "1994-05-30", "2022-12-31"),
    ),
)
CLIENT_SEGMENT_TABLE = ReferenceTable(
    "ref_client_segments",
    "The bank's institutional client segments; a retired segment keeps its rows with their end.",
    (
        ("client_segment", "Segment code."),
        ("segment_name", "Name used in reports."),
    ),
    (
        ("ASSET_MANAGER", "Asset manager", "2020-01-01", ""),
        ("PENSION_FUND", "Pension fund", "2020-01-01", ""),
        ("INSURANCE", "Insurance company", "2020-01-01", ""),
        ("HEDGE_FUND", "Hedge fund", "2020-01-01", ""),
        ("BANK", "Bank", "2020-01-01", ""),
        ("CORPORATE", "Corporate treasury", "2020-01-01", ""),
        ("SOVEREIGN_WEALTH", "Sovereign wealth fund", "2020-01-01", ""),
        ("FAMILY_OFFICE", "Family office", "2024-01-01", ""),
        # split into FAMILY_OFFICE (and wealth management, outside this book) in 2024
        ("PRIVATE_CLIENT", "Private client", "2020-01-01", "2023-12-31"),
    ),
)
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

    def __post_init__(self) -> None:
        assert self.pii is None or self.pii in PII_CLASSES, f"unknown PII class {self.pii!r}"

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

    def __post_init__(self) -> None:
        assert not self.multi_active or len(self.references) == 1, f"{self.name}: a multi-active set has one parent"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _key(name: str, description: str) -> Column:
    return Column(name, "VARCHAR", description=description)


ENTITIES: tuple[Entity, ...] = (
    Entity(
        name="customers",
        singular="customer",
        producer="crm",
        key="customer_id",
        id_prefix="C",
        id_width=9,
        description="Institutional clients and their primary contact.",
        columns=(
            _key("customer_id", "Client identifier from the CRM."),
            Column("legal_name", description="Registered name of the client entity."),
            Column("first_name", pii="name", description="Primary contact's first name."),
            Column("last_name", pii="name", description="Primary contact's last name."),
            Column("email", pii="email", description="Primary contact's e-mail address."),
            Column("phone", pii="phone", description="Primary contact's phone, E.164-like."),
            Column("date_of_birth", "DATE", pii="date_of_birth", description="Primary contact's birth date."),
            Column("tax_id", pii="tax_id", description="Tax identifier of the client."),
            Column("address_line", pii="address", description="Street address."),
            Column("city", description="City of the registered address."),
            Column("postal_code", pii="address", description="Postal code."),
            Column("domicile_country", values=DOMICILES, description="ISO 3166-1 alpha-2 domicile."),
            Column("client_segment", values=CLIENT_SEGMENTS, description="Institutional client segment."),
            Column("lifecycle_stage", values=LIFECYCLE_STAGES, description="Relationship lifecycle stage."),
            Column("risk_rating", values=RISK_RATINGS, description="Internal risk rating."),
            Column("kyc_status", values=KYC_STATUSES, description="Know-your-customer status."),
            Column("onboarded_at", "DATE", description="Date the relationship started."),
            Column("updated_at", "TIMESTAMP_NTZ", description="When the CRM record last changed."),
        ),
    ),
    Entity(
        name="accounts",
        singular="account",
        producer="finance",
        key="account_id",
        id_prefix="A",
        id_width=10,
        description="Custody, cash and margin accounts held by clients.",
        references=(Reference("customer_id", "customers", effectivity=True),),
        ends_relationship=("status", "CLOSED"),
        columns=(
            _key("account_id", "Account identifier from the core banking system."),
            _key("customer_id", "Owning client."),
            Column("account_number", pii="account_number", description="IBAN-style account number."),
            Column("account_type", values=ACCOUNT_TYPES, description="Kind of account."),
            Column("currency", values=CURRENCIES, description="ISO 4217 account currency."),
            Column("balance", "NUMBER(18,2)", description="Ledger balance in account currency."),
            Column("status", values=ACCOUNT_STATUSES, description="Account status."),
            Column("opened_at", "DATE", description="Date the account was opened."),
            Column("updated_at", "TIMESTAMP_NTZ", description="When the account record last changed."),
        ),
    ),
    Entity(
        name="transactions",
        singular="transaction",
        producer="finance",
        key="transaction_id",
        id_prefix="T",
        id_width=12,
        event_column="transaction_at",
        description="Cash and securities movements on accounts.",
        references=(Reference("account_id", "accounts"),),
        columns=(
            _key("transaction_id", "Transaction identifier."),
            _key("account_id", "Account the transaction is booked on."),
            Column("transaction_type", values=TRANSACTION_TYPES, description="Kind of movement."),
            Column("direction", values=DIRECTIONS, description="CREDIT adds to the balance, DEBIT removes."),
            Column("amount", "NUMBER(18,2)", description="Unsigned amount; the sign comes from direction."),
            Column("currency", values=CURRENCIES, description="ISO 4217 currency."),
            Column("status", values=TRANSACTION_STATUSES, description="Booking status."),
            Column("transaction_at", "TIMESTAMP_NTZ", description="When the transaction was booked."),
        ),
    ),
    Entity(
        name="orders",
        singular="order",
        producer="operations",
        key="order_id",
        id_prefix="O",
        id_width=10,
        event_column="updated_at",
        description="Client orders for products and services.",
        references=(
            Reference("customer_id", "customers"),
            # the brief names it order -> product, the way an order line reads
            Reference("product_id", "products", link="order_product"),
        ),
        columns=(
            _key("order_id", "Order identifier."),
            _key("customer_id", "Client who placed the order."),
            _key("product_id", "Product ordered."),
            Column("quantity", "NUMBER(18,0)", description="Units ordered."),
            Column("unit_price", "NUMBER(18,2)", description="Price per unit in order currency."),
            Column("currency", values=CURRENCIES, description="ISO 4217 currency."),
            Column("order_status", values=ORDER_STATUSES, description="Fulfilment status."),
            Column("channel", values=ORDER_CHANNELS, description="Channel the order came through."),
            Column("ordered_at", "TIMESTAMP_NTZ", description="When the order was placed."),
            Column("updated_at", "TIMESTAMP_NTZ", description="When the order status last changed."),
        ),
    ),
    Entity(
        name="products",
        singular="product",
        producer="operations",
        key="product_id",
        id_prefix="P",
        id_width=6,
        description="The product and service catalogue, delivered whole every day.",
        snapshot=True,
        columns=(
            _key("product_id", "Product identifier."),
            Column("product_name", description="Marketing name."),
            Column("asset_class", values=ASSET_CLASSES, description="Asset class or service line."),
            Column("currency", values=CURRENCIES, description="Pricing currency."),
            Column("list_price", "NUMBER(18,2)", description="List price per unit."),
            Column("is_active", "BOOLEAN", description="Whether the product can be ordered."),
            Column("launched_at", "DATE", description="Launch date."),
            Column("updated_at", "TIMESTAMP_NTZ", description="When the catalogue entry last changed."),
        ),
    ),
    Entity(
        name="interactions",
        singular="interaction",
        producer="crm",
        key="interaction_id",
        id_prefix="I",
        id_width=11,
        event_column="interaction_at",
        description="Meetings, calls and service requests with clients.",
        references=(Reference("customer_id", "customers"),),
        columns=(
            _key("interaction_id", "Interaction identifier."),
            _key("customer_id", "Client the interaction was with."),
            Column("channel", values=INTERACTION_CHANNELS, description="How the interaction happened."),
            Column("interaction_type", values=INTERACTION_TYPES, description="Purpose of the interaction."),
            Column("sentiment", values=SENTIMENTS, description="Relationship manager's assessment."),
            Column("duration_minutes", "NUMBER(9,0)", description="Length in minutes."),
            Column("relationship_manager", description="Employee who owned the interaction."),
            Column("interaction_at", "TIMESTAMP_NTZ", description="When it happened."),
        ),
    ),
    Entity(
        name="opportunities",
        singular="opportunity",
        producer="crm",
        key="opportunity_id",
        id_prefix="OP",
        id_width=9,
        description="Sales pipeline per client.",
        references=(Reference("customer_id", "customers"),),
        columns=(
            _key("opportunity_id", "Opportunity identifier."),
            _key("customer_id", "Client the opportunity is with."),
            Column("opportunity_name", description="Short name."),
            Column("stage", values=OPPORTUNITY_STAGES, description="Pipeline stage."),
            Column("amount", "NUMBER(18,2)", description="Expected revenue."),
            Column("currency", values=CURRENCIES, description="ISO 4217 currency."),
            Column("probability_pct", "NUMBER(5,0)", description="Win probability, 0 to 100."),
            Column("expected_close_date", "DATE", description="Expected close date."),
            Column("updated_at", "TIMESTAMP_NTZ", description="When the opportunity last changed."),
        ),
    ),
    Entity(
        name="contacts",
        singular="contact",
        producer="crm",
        key="contact_id",
        id_prefix="K",
        id_width=11,
        description="The people a client has named as its contacts: a set, several active at once.",
        references=(Reference("customer_id", "customers"),),
        multi_active=True,
        columns=(
            _key("contact_id", "Contact person identifier from the CRM."),
            _key("customer_id", "Client the contact acts for."),
            Column("contact_name", pii="name", description="Contact person's full name."),
            Column("contact_role", values=CONTACT_ROLES, description="What the contact handles for the client."),
            Column("email", pii="email", description="Contact person's e-mail address."),
            Column("phone", pii="phone", description="Contact person's phone, E.164-like."),
            Column("updated_at", "TIMESTAMP_NTZ", description="When the CRM last changed the client's contact set."),
        ),
    ),
)

ENTITY_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}


def entity(name: str) -> Entity:
    """Look an entity up by its landed (plural) name, with a clear error."""
    try:
        return ENTITY_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; known: {', '.join(ENTITY_BY_NAME)}") from None
