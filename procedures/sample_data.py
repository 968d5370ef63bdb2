"""Vectorised, reproducible sample data for an institutional book.

How it stays fast and reproducible without holding a day in memory:

* Every value is a pure function of ``(seed, entity, field, row id, version)``, computed
  with a counter-based hash (splitmix64) over numpy arrays. No sequential random state,
  so any chunk of any day can be built on its own, and a relationship (an account's
  owner, a transaction's currency) is recomputed from the other entity's id instead of
  being looked up.
* Faker supplies small vocabularies (names, companies, streets, cities) once per seed;
  rows pick from them with ``take``.
* A day is planned as id arrays (new rows, updates, out-of-order stale rows) and built,
  serialised and written one part file at a time.

Day 1 is the initial book with its history; every later day carries new entities,
updates to existing ones (attribute changes a satellite must historise), a share of
late-arriving records (business timestamp one to three days before the load date) and,
from day 3, out-of-order records (a change older than one already delivered). A
configurable share of rows carries one deliberate defect each; the manifest lists
every defect and every late or out-of-order row with its file and row number.

What the vault's special structures need, each a pure function of the seed too:

* accounts move to another client and close (the effectivity satellite): a share of
  accounts has a transfer day and a share a closing day, and is delivered that day;
* clients name a *set* of contacts (the multi-active satellite): one to three at once,
  replaced one at a time (the oldest leaves, a new one joins) every few weeks, and
  re-delivered unchanged with every change to the client;
* the operations producer delivers the whole product catalogue every day (status
  tracking): a product withdrawn for a while is missing from the snapshots of those
  days, and some come back.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property, lru_cache, partial
from typing import Any, TypedDict, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from procedures import landing, spec
from procedures.errors import UserError
from procedures.landing import FileFormat, Sink

T = TypeVar("T")
R = TypeVar("R")
EPOCH = date(1970, 1, 1)
DEFAULT_START = date(2026, 1, 5)
# the kinds of delivered row: NEW and UPDATE carry a change, STALE an out-of-order one,
# UNCHANGED a row a full snapshot or a whole set re-delivers as it was
NEW, UPDATE, STALE, UNCHANGED = 0, 1, 2, 3
DEFECTS = (
    "null_key",
    "null_reference",
    "bad_email",
    "negative_amount",
    "unknown_status",
    "unparseable_date",
    "duplicate",
)
MANIFEST_SCHEMA = pa.schema(
    [
        ("batch_id", pa.string()),
        ("load_date", pa.string()),
        ("producer", pa.string()),
        ("entity", pa.string()),
        ("file_name", pa.string()),
        ("row_number", pa.int64()),
        ("business_key", pa.string()),
        ("category", pa.string()),
        ("kind", pa.string()),
        ("column_name", pa.string()),
        ("injected_value", pa.string()),
    ]
)


class GenerationError(UserError, ValueError):
    """A generation argument that cannot be used; the message names the argument."""


# --------------------------------------------------------------------------- volumes


@dataclass(frozen=True)
class Volume:
    """How many rows an entity gets: on day 1, and new / updated on every later day."""

    initial: float  # rows per customer on day 1 (customers: 1; products: see catalogue_size)
    daily_new: float  # new rows per existing customer per later day (customers: per scale)
    daily_update_share: float  # share of existing rows updated per later day


VOLUMES: dict[str, Volume] = {
    "customers": Volume(1.0, 0.01, 0.03),
    "accounts": Volume(2.0, 0.02, 0.05),  # exactly ACCOUNTS_PER_CUSTOMER per customer
    "transactions": Volume(8.0, 4.0, 0.0),  # 2 per account and day
    "orders": Volume(3.0, 0.3, 0.0),
    "products": Volume(0.0, 0.0, 0.05),
    "interactions": Volume(4.0, 0.2, 0.0),
    "opportunities": Volume(0.5, 0.02, 0.1),
}
ACCOUNTS_PER_CUSTOMER = 2
# Accounts that move to another client, and accounts that close, over days 2 to 7.
TRANSFER_SHARE = 0.04
CLOSE_SHARE = 0.03
EVENT_DAYS = 6
# A product's chance, each day from day 2, of being withdrawn from the catalogue (for
# one to three days, or for good one time in four).
WITHDRAW_SHARE = 0.08
# Contacts: one to three per client, the set replaced one member at a time every
# CONTACT_PERIOD days or so; a contact id is the client's id times CONTACT_SLOTS plus a slot.
MAX_CONTACTS = 3
CONTACT_PERIOD = (20, 60)
CONTACT_SLOTS = 100
# Orders placed yesterday get a status update today (fulfilled, cancelled, ...).
ORDER_FOLLOW_UP_SHARE = 0.8
# Exchange rates: a fixing per business day (Monday to Friday; none at weekends, so silver
# carries Friday's) for every currency but the feed's quote currency, from this many days
# before the first load (the initial book's history reaches a year back), then each day's.
RATE_QUOTE_CURRENCY = "USD"
RATE_CURRENCIES = tuple(c for c in spec.CURRENCIES if c != RATE_QUOTE_CURRENCY)
RATE_HISTORY_DAYS = 370
# USD per unit, around which each currency's fixings move (plausible late-2025 levels)
RATE_LEVELS = {
    "EUR": 1.09,
    "GBP": 1.27,
    "CHF": 1.13,
    "JPY": 0.0068,
    "SGD": 0.75,
    "HKD": 0.128,
    "CAD": 0.73,
    "AUD": 0.66,
}


def catalogue_size(scale: int) -> int:
    return min(5000, max(20, scale // 100))


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """Validated arguments of one generation run."""

    scale: int
    days: int = 1
    seed: int = 42
    start_date: date = DEFAULT_START
    formats: dict[str, FileFormat] = field(default_factory=lambda: landing.parse_formats("parquet"))
    defect_rate: float = 0.005
    late_rate: float = 0.02
    chunk_rows: int = 250_000
    entities: tuple[str, ...] = tuple(e.name for e in spec.ENTITIES)

    @classmethod
    def build(
        cls,
        scale: int,
        days: int = 1,
        seed: int = 42,
        start_date: str | date = DEFAULT_START,
        formats: str = "parquet",
        defect_rate: float = 0.005,
        late_rate: float = 0.02,
        chunk_rows: int = 250_000,
        entities: str | tuple[str, ...] = "",
    ) -> Plan:
        """Check every argument and name the one that is wrong."""
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise GenerationError(f"scale must be a whole number of customers >= 1, got {scale!r}")
        if scale > 100_000_000:
            raise GenerationError(f"scale must be at most 100,000,000 customers, got {scale:,}")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise GenerationError(f"days must be between 1 and 366, got {days!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise GenerationError(f"seed must be a whole number >= 0, got {seed!r}")
        if isinstance(start_date, str):
            try:
                start_date = date.fromisoformat(start_date)
            except ValueError:
                raise GenerationError(f"start_date must be YYYY-MM-DD, got {start_date!r}") from None
        for name, rate in (("defect_rate", defect_rate), ("late_rate", late_rate)):
            if not isinstance(rate, int | float) or not 0 <= rate <= 0.5 or math.isnan(rate):
                raise GenerationError(f"{name} must be between 0 and 0.5, got {rate!r}")
        if not isinstance(chunk_rows, int) or chunk_rows < 1000:
            raise GenerationError(f"chunk_rows must be at least 1000, got {chunk_rows!r}")
        try:
            parsed_formats = landing.parse_formats(formats)
        except landing.LandingError as err:
            raise GenerationError(str(err)) from None
        names = tuple(n.strip() for n in entities.split(",") if n.strip()) if isinstance(entities, str) else entities
        for n in names:
            if n not in spec.ENTITY_BY_NAME:
                raise GenerationError(f"unknown entity {n!r} in entities; known: {', '.join(spec.ENTITY_BY_NAME)}")
        return cls(
            scale=scale,
            days=days,
            seed=seed,
            start_date=start_date,
            formats=parsed_formats,
            defect_rate=float(defect_rate),
            late_rate=float(late_rate),
            chunk_rows=chunk_rows,
            entities=names or tuple(e.name for e in spec.ENTITIES),
        )

    def arguments(self) -> dict[str, Any]:
        """The procedure's arguments that build this plan (GENERATE_SAMPLE_DATA's signature,
        the audit row, a CALL by name): ``Plan.build(**plan.arguments())`` is the same plan."""
        kinds = set(self.formats.values())
        formats = next(iter(kinds)) if len(kinds) == 1 else ",".join(f"{p}={f}" for p, f in self.formats.items())
        return {
            "scale": self.scale,
            "days": self.days,
            "seed": self.seed,
            "start_date": self.start_date.isoformat(),
            "formats": formats,
            "defect_rate": self.defect_rate,
            "late_rate": self.late_rate,
        }

    def load_date(self, day: int) -> date:
        return self.start_date + timedelta(days=day - 1)

    def load_day(self, day: int) -> int:
        """Days since 1970-01-01 of a 1-based day number."""
        return (self.load_date(day) - EPOCH).days

    @cached_property
    def _counts(self) -> dict[str, np.ndarray]:
        """Rows of each entity that exist after day d, for d = 0 .. days (ids 0 .. count-1).

        Closed-form per day, so any day can be planned without replaying earlier ones.
        """
        days = np.arange(self.days + 1, dtype=np.int64)
        daily_clients = math.ceil(self.scale * VOLUMES["customers"].daily_new)
        customers = np.where(days > 0, self.scale + (days - 1) * daily_clients, 0)
        counts = {
            "customers": customers,
            "accounts": ACCOUNTS_PER_CUSTOMER * customers,
            "products": np.where(days > 0, catalogue_size(self.scale), 0),
            # one id per priced currency and calendar day from RATE_HISTORY_DAYS before the
            # first load to the day (weekends have ids but no fixing: rate_days)
            "exchange_rates": np.where(days > 0, (RATE_HISTORY_DAYS + days) * len(RATE_CURRENCIES), 0),
        }
        for name, vol in VOLUMES.items():
            if name in counts:
                continue
            daily = np.round(customers[:-1] * vol.daily_new).astype(np.int64)
            counts[name] = np.concatenate([[0], round(self.scale * vol.initial) + np.cumsum(np.r_[0, daily[1:]])])
        return counts

    def count(self, entity: str, day: int) -> int:
        """Rows of ``entity`` that exist after ``day``."""
        return int(self._counts[entity][max(0, min(day, self.days))])

    def counts_by_day(self, entity: str) -> np.ndarray:
        """``count(entity, d)`` for d = 0 .. days."""
        return self._counts[entity]

    def created_day(self, entity: str, ids: np.ndarray) -> np.ndarray:
        """The 1-based day each id was first delivered on."""
        return np.searchsorted(self._counts[entity][1:], ids, side="right") + 1


# --------------------------------------------------------------------------- hashing

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijection on uint64 with good avalanche."""
    z = z + _G
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=4096)
def _salt(*parts: object) -> np.uint64:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


@dataclass
class Rows:
    """The rows of one chunk: ids, kinds and versions, and hash streams over them."""

    plan: Plan
    entity: str
    ids: np.ndarray  # int64
    kinds: np.ndarray  # int8: NEW, UPDATE, STALE
    versions: np.ndarray  # int64: 0 for the original, else the day of the change
    event_day: np.ndarray  # int64 days since epoch of the business event

    def __len__(self) -> int:
        return len(self.ids)

    def h(self, name: str, *, mutable: bool = False) -> np.ndarray:
        """uint64 stream for a field; ``mutable`` fields change with each version."""
        base = self.ids.astype(np.uint64) ^ _salt(self.plan.seed, self.entity, name)
        if mutable:
            base = _mix(base) ^ (self.versions.astype(np.uint64) * _G)
        return _mix(base)

    def u(self, name: str, *, mutable: bool = False) -> np.ndarray:
        """Uniform floats in [0, 1)."""
        return (self.h(name, mutable=mutable) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def stream(seed: int, entity: str, name: str, ids: np.ndarray) -> np.ndarray:
    """An immutable per-id hash stream, usable from another entity (relationships)."""
    return _mix(ids.astype(np.uint64) ^ _salt(seed, entity, name))


# --------------------------------------------------------------------------- vocabularies


@dataclass(frozen=True)
class Vocab:
    first_names: pa.Array
    last_names: pa.Array
    first_mail: pa.Array  # the same names as e-mail local parts: ASCII, lower case
    last_mail: pa.Array
    legal_names: pa.Array  # company name + legal suffix, every combination
    streets: pa.Array
    cities: pa.Array
    domains: pa.Array
    managers: pa.Array


_LEGAL_SUFFIXES = (
    "Capital",
    "Pension Fund",
    "Asset Management",
    "Holdings",
    "Insurance",
    "Partners",
    "Trust",
)


def _mail_parts(names: pa.Array) -> pa.Array:
    """Names folded to what an e-mail local part holds: Noël O'Brien -> noel, obrien."""
    folded = []
    for name in names.to_pylist():
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        folded.append(re.sub(r"[^a-z0-9-]", "", ascii_name.lower()) or "client")
    return pa.array(folded, pa.string())


@lru_cache(maxsize=8)
def vocabularies(seed: int) -> Vocab:
    """Small realistic vocabularies from Faker, reproducible per seed."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
    fake.seed_instance(seed)

    def unique(make: Callable[[], str], n: int) -> pa.Array:
        seen: dict[str, None] = {}
        for _ in range(n * 3):
            seen.setdefault(make(), None)
            if len(seen) >= n:
                break
        return pa.array(list(seen), pa.string())

    first = unique(fake.first_name, 600)
    last = unique(fake.last_name, 800)
    return Vocab(
        first_names=first,
        last_names=last,
        first_mail=_mail_parts(first),
        last_mail=_mail_parts(last),
        legal_names=pa.array(
            [
                f"{company} {suffix}"
                for company in unique(lambda: fake.last_name() + " " + fake.last_name(), 1500).to_pylist()
                for suffix in _LEGAL_SUFFIXES
            ],
            pa.string(),
        ),
        streets=unique(fake.street_name, 600),
        cities=unique(fake.city, 400),
        domains=unique(fake.domain_name, 300),
        managers=unique(fake.name, 60),
    )


# --------------------------------------------------------------------------- value helpers


def _text(values: tuple[str, ...] | list[str]) -> pa.Array:
    return pa.array(list(values), pa.string())


def coded(vocab: pa.Array, idx: np.ndarray) -> pa.DictionaryArray:
    """Values from a small vocabulary as a dictionary array: no string copies, and Parquet
    writes it dictionary-encoded. ``plain`` turns it into text where strings are joined."""
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), vocab)


def plain(arr: pa.Array) -> pa.Array:
    return pc.cast(arr, pa.string()) if pa.types.is_dictionary(arr.type) else arr


def join(*parts: pa.Array | str) -> pa.Array:
    """Row-wise concatenation of text arrays and literals; the last argument is the separator,
    as in ``pyarrow.compute.binary_join_element_wise``."""
    return pc.binary_join_element_wise(*(p if isinstance(p, str) else plain(p) for p in parts))


def pick(vocab: pa.Array, h: np.ndarray) -> pa.DictionaryArray:
    return coded(vocab, h % np.uint64(len(vocab)))


def weighted(weights: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    """Indices drawn with the given weights from uniforms ``u``."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cum / cum[-1], u, side="right").clip(0, len(weights) - 1)


def pick_weighted(values: tuple[str, ...], weights: tuple[float, ...], u: np.ndarray) -> pa.DictionaryArray:
    assert len(values) == len(weights), values
    return coded(_text(values), weighted(weights, u))


def digit_matrix(n: np.ndarray, width: int, prefix: str = "") -> np.ndarray:
    """ASCII bytes of ``prefix`` + ``n`` zero-padded to ``width``, one row per value.

    The generator's hottest loop: it divides in uint32, nine digits at a time.
    """
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    size = len(head) + width
    out = np.empty((len(n), size), dtype=np.uint8)
    out[:, : len(head)] = head
    rest = np.asarray(n, dtype=np.uint64)
    pos = size
    while pos > len(head):
        take = min(9, pos - len(head))
        block = (rest % np.uint64(10**take)).astype(np.uint32)
        rest = rest // np.uint64(10**take)
        for col in range(pos - 1, pos - take - 1, -1):
            out[:, col] = block % np.uint32(10)
            block //= np.uint32(10)
        pos -= take
    out[:, len(head) :] += 48
    return out


def fixed_text(matrix: np.ndarray) -> pa.Array:
    """An Arrow string array over a byte matrix: every value has the same length, so the
    offsets are a range and no string is copied."""
    n, size = matrix.shape
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    data = np.ascontiguousarray(matrix)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def digits(n: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    return fixed_text(digit_matrix(n, width, prefix))


def ascii_codes(values: tuple[str, ...]) -> np.ndarray:
    """Equal-length ASCII strings as a (len, width) byte matrix."""
    return np.frombuffer("".join(values).encode(), dtype=np.uint8).reshape(len(values), -1)


def id_text(entity: spec.Entity, ids: np.ndarray) -> pa.Array:
    return digits(ids, entity.id_width, entity.id_prefix)


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents to ``1234.56`` (``-12.30`` for negatives)."""
    mag = np.abs(cents)
    whole = pc.cast(pa.array(mag // 100), pa.string())
    frac = digits(mag % 100, 2)
    text = join(whole, frac, ".")
    return pc.if_else(pa.array(cents < 0), join("-", text, ""), text)


def date_text(days: np.ndarray) -> pa.DictionaryArray:
    """Days since epoch to ``YYYY-MM-DD``; formats each distinct day once."""
    if len(days) == 0:
        return coded(_text([]), days)
    lo, hi = int(days.min()), int(days.max())
    labels = pc.cast(pa.array(np.arange(lo, hi + 1, dtype=np.int32), pa.date32()), pa.string())
    return coded(labels, days - lo)


def ts_text(seconds: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(seconds.astype(np.int64), pa.timestamp("s")), pa.string())


def event_ts(rows: Rows, name: str) -> np.ndarray:
    """A timestamp on each row's event day, within business hours (07:00 to 19:00 UTC)."""
    seconds = (rows.h(name, mutable=True) % np.uint64(12 * 3600)).astype(np.int64) + 7 * 3600
    return rows.event_day * 86400 + seconds


def log_uniform(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Cents between 10**lo and 10**hi units, spread on a log scale."""
    return np.round(np.power(10.0, lo + (hi - lo) * u) * 100).astype(np.int64)


# --------------------------------------------------------------------------- relationships
# Recomputed from the other entity's id, so they hold across chunks and days.


def account_owner(ids: np.ndarray) -> np.ndarray:
    return ids // ACCOUNTS_PER_CUSTOMER


# Accounts that book nothing during a run, a fixed property of the account: DORMANT ones
# (status DORMANT in every version) and quiet ones (open or active, yet no bookings), so
# gold's dormancy comes from both of its rules, status and inactivity, as documented.
DORMANT_SHARE = 0.08
QUIET_SHARE = 0.04


def account_activity(seed: int, account_ids: np.ndarray) -> np.ndarray:
    """0 for an account that books, 1 for a DORMANT one, 2 for a quiet one."""
    u = (stream(seed, "accounts", "activity", account_ids) >> np.uint64(11)).astype(np.float64) / (1 << 53)
    return np.where(u < DORMANT_SHARE, 1, np.where(u < DORMANT_SHARE + QUIET_SHARE, 2, 0))


def booking_accounts(seed: int, account_ids: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """``account_ids`` with every account that books nothing replaced by the next that does
    (below ``limit``, the accounts existing that day)."""
    ids = account_ids.copy()
    for step in range(1, 32):
        idle = account_activity(seed, ids) != 0
        if not idle.any():
            break
        ids[idle] = (account_ids[idle] + step) % limit[idle]
    return ids


def account_currency(seed: int, account_ids: np.ndarray) -> np.ndarray:
    u = (stream(seed, "accounts", "currency", account_ids) >> np.uint64(11)).astype(np.float64) / (1 << 53)
    cum = np.cumsum([0.4, 0.25, 0.15, 0.06, 0.04, 0.03, 0.03, 0.02, 0.02])
    return np.searchsorted(cum / cum[-1], u, side="right").clip(0, len(spec.CURRENCIES) - 1)


def product_price_cents(seed: int, product_ids: np.ndarray) -> np.ndarray:
    u = (stream(seed, "products", "list_price", product_ids) >> np.uint64(11)).astype(np.float64) / (1 << 53)
    return log_uniform(u, 1, 5)


def product_currency(seed: int, product_ids: np.ndarray) -> np.ndarray:
    return (stream(seed, "products", "currency", product_ids) % np.uint64(4)).astype(np.int64)  # USD EUR GBP CHF


# --------------------------------------------------------------------------- builders


def _existing(rows: Rows, parent: str, name: str) -> np.ndarray:
    """A parent id that already exists on the day each row was first delivered."""
    created = rows.plan.created_day(rows.entity, rows.ids)
    limit = rows.plan.counts_by_day(parent).astype(np.uint64)[created]
    return (rows.h(name) % limit).astype(np.int64)


def _customers(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("customers")
    plan = rows.plan
    first_idx = rows.h("first_name") % np.uint64(len(vocab.first_names))
    last_idx = rows.h("last_name") % np.uint64(len(vocab.last_names))
    first, last = coded(vocab.first_names, first_idx), coded(vocab.last_names, last_idx)
    dom_idx = np.searchsorted(
        np.cumsum([0.3, 0.15, 0.08, 0.06, 0.07, 0.05, 0.04, 0.04, 0.06, 0.04, 0.03, 0.03, 0.03, 0.02]) / 1.0,
        rows.u("domicile"),
        side="right",
    ).clip(0, len(spec.DOMICILES) - 1)
    domicile = coded(_text(spec.DOMICILES), dom_idx)
    mailbox = join(coded(vocab.first_mail, first_idx), coded(vocab.last_mail, last_idx), ".")
    email = join(
        mailbox,
        pc.cast(pa.array(rows.h("email", mutable=True) % np.uint64(100)), pa.string()),
        "@",
        pick(vocab.domains, rows.h("domain")),
        "",
    )
    # E.164: "+", the domicile's dialling code, then subscriber digits to 11 digits in all
    phone = digit_matrix(rows.h("phone", mutable=True) % np.uint64(10**11), 11, "+")
    code_len = np.array([len(c) for c in spec.DIALLING_CODES])[dom_idx]
    for width in (1, 2, 3):
        hit = code_len == width
        codes = [c if len(c) == width else "0" * width for c in spec.DIALLING_CODES]
        phone[hit, 1 : 1 + width] = ascii_codes(tuple(codes))[dom_idx[hit]]
    tax_id = digit_matrix(rows.h("tax_id") % np.uint64(10**9), 9, "XX")
    tax_id[:, :2] = ascii_codes(spec.DOMICILES)[dom_idx]
    start = plan.load_day(1)
    age_days = 25 * 365 + (rows.h("dob") % np.uint64(50 * 365)).astype(np.int64)
    created = plan.created_day("customers", rows.ids)
    onboarded = np.where(
        created == 1,
        start - 30 - (rows.h("onboarded") % np.uint64(15 * 365)).astype(np.int64),
        start + created - 1,
    )
    u_stage = rows.u("lifecycle", mutable=True)
    lifecycle = coded(
        _text(spec.LIFECYCLE_STAGES),
        np.where(
            rows.versions == 0,
            weighted((0.05, 0.1, 0.7, 0.1, 0.05), u_stage),
            weighted((0.02, 0.08, 0.6, 0.2, 0.1), u_stage),
        ),
    )
    return {
        "customer_id": id_text(e, rows.ids),
        "legal_name": pick(vocab.legal_names, rows.h("legal_name")),
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": fixed_text(phone),
        "date_of_birth": date_text(start - age_days),
        "tax_id": fixed_text(tax_id),
        "address_line": join(
            pc.cast(pa.array(rows.h("street_no", mutable=True) % np.uint64(400) + np.uint64(1)), pa.string()),
            pick(vocab.streets, rows.h("street", mutable=True)),
            " ",
        ),
        "city": pick(vocab.cities, rows.h("city", mutable=True)),
        "postal_code": digits(rows.h("postal", mutable=True) % np.uint64(100000), 5),
        "domicile_country": domicile,
        "client_segment": pick_weighted(
            spec.CLIENT_SEGMENTS, (0.22, 0.15, 0.12, 0.1, 0.1, 0.18, 0.03, 0.1), rows.u("segment", mutable=True)
        ),
        "lifecycle_stage": lifecycle,
        "risk_rating": pick_weighted(spec.RISK_RATINGS, (0.6, 0.3, 0.1), rows.u("risk", mutable=True)),
        "kyc_status": pick_weighted(spec.KYC_STATUSES, (0.1, 0.8, 0.08, 0.02), rows.u("kyc", mutable=True)),
        "onboarded_at": date_text(onboarded),
        "updated_at": ts_text(event_ts(rows, "updated_at")),
    }


@dataclass(frozen=True)
class AccountEvents:
    """Per account id: the day it moves to another client and the day it closes (0: never)."""

    transfer_day: np.ndarray
    close_day: np.ndarray
    new_owner: np.ndarray


def account_events(plan: Plan, ids: np.ndarray) -> AccountEvents:
    def draw(name: str) -> np.ndarray:
        return stream(plan.seed, "accounts", name, ids)

    def event_day(share: float, name: str) -> np.ndarray:
        hit = draw(name) % np.uint64(10_000) < share * 10_000
        day = 2 + (draw(name + "_day") % np.uint64(EVENT_DAYS)).astype(np.int64)
        # only after the account exists, and within the run
        return np.where(hit & (day > plan.created_day("accounts", ids)) & (day <= plan.days), day, 0)

    close = event_day(CLOSE_SHARE, "close")
    transfer = event_day(TRANSFER_SHARE, "transfer")
    transfer = np.where((close == 0) | (transfer < close), transfer, 0)  # a closed account stays put
    # the new owner: a client that exists the day before the move, other than the first
    existing = plan.counts_by_day("customers").astype(np.uint64)[np.maximum(transfer - 1, 1)]
    original = account_owner(ids)
    other = (draw("new_owner") % existing).astype(np.int64)
    other = np.where(other == original, (other + 1) % existing.astype(np.int64), other)
    return AccountEvents(transfer, close, other)


def account_state_day(rows: Rows) -> np.ndarray:
    """The day whose state each account row shows: its change's day (1 for the original),
    and for an out-of-order row the day before yesterday, when its change happened."""
    return np.where(rows.versions >= 1000, rows.versions - 1002, np.maximum(rows.versions, 1))


def _accounts(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("accounts")
    plan = rows.plan
    events = account_events(plan, rows.ids)
    state_day = account_state_day(rows)
    moved = (events.transfer_day > 0) & (state_day >= events.transfer_day)
    owners = np.where(moved, events.new_owner, account_owner(rows.ids))
    start = plan.load_day(1)
    created = plan.created_day("accounts", rows.ids)
    opened = np.where(
        created == 1,
        start - 30 - (rows.h("opened") % np.uint64(10 * 365)).astype(np.int64),
        start + created - 1,
    )
    number = join("LU", digits(rows.h("check") % np.uint64(100), 2), "LAKE", digits(rows.ids, 14), "")
    return {
        "account_id": id_text(e, rows.ids),
        "customer_id": id_text(spec.entity("customers"), owners),
        "account_number": number,
        "account_type": pick_weighted(spec.ACCOUNT_TYPES, (0.35, 0.3, 0.1, 0.1, 0.05, 0.1), rows.u("type")),
        "currency": coded(_text(spec.CURRENCIES), account_currency(plan.seed, rows.ids)),
        "balance": money(log_uniform(rows.u("balance", mutable=True), 2, 8)),
        "status": _account_status(plan.seed, rows, (events.close_day > 0) & (state_day >= events.close_day)),
        "opened_at": date_text(opened),
        "updated_at": ts_text(event_ts(rows, "updated_at")),
    }


def _account_status(seed: int, rows: Rows, closed: np.ndarray) -> pa.Array:
    """CLOSED from the day an account closes (for good); before that DORMANT for the
    accounts that book nothing as dormant, OPEN or ACTIVE for quiet ones, any other
    status (DORMANT and CLOSED aside) for the rest."""
    activity = account_activity(seed, rows.ids)
    u = rows.u("status", mutable=True)
    others = weighted((0.12, 0.85, 0.0, 0.03, 0.0), u)  # OPEN, ACTIVE, -, FROZEN, -
    quiet = weighted((0.2, 0.8, 0.0, 0.0, 0.0), u)
    index = np.where(activity == 1, spec.ACCOUNT_STATUSES.index("DORMANT"), np.where(activity == 2, quiet, others))
    index = np.where(closed, spec.ACCOUNT_STATUSES.index("CLOSED"), index)
    return coded(_text(spec.ACCOUNT_STATUSES), index)


_CREDIT_TYPES = {"DEPOSIT", "TRADE_SELL", "INTEREST", "DIVIDEND", "TRANSFER_IN"}


def _transactions(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("transactions")
    plan = rows.plan
    # a transaction's account exists by the day the transaction is delivered, and books
    created = plan.created_day(rows.entity, rows.ids)
    limit = plan.counts_by_day("accounts").astype(np.int64)[created]
    account_ids = booking_accounts(plan.seed, _existing(rows, "accounts", "account"), limit)
    type_idx = np.searchsorted(
        np.cumsum([0.12, 0.1, 0.25, 0.22, 0.08, 0.06, 0.07, 0.05, 0.05]), rows.u("type"), side="right"
    ).clip(0, len(spec.TRANSACTION_TYPES) - 1)
    direction_of_type = _text(["CREDIT" if t in _CREDIT_TYPES else "DEBIT" for t in spec.TRANSACTION_TYPES])
    return {
        "transaction_id": id_text(e, rows.ids),
        "account_id": id_text(spec.entity("accounts"), account_ids),
        "transaction_type": coded(_text(spec.TRANSACTION_TYPES), type_idx),
        "direction": direction_of_type.take(pa.array(type_idx)),
        "amount": money(log_uniform(rows.u("amount"), 1, 6.5)),
        "currency": coded(_text(spec.CURRENCIES), account_currency(plan.seed, account_ids)),
        "status": pick_weighted(spec.TRANSACTION_STATUSES, (0.95, 0.04, 0.01), rows.u("status")),
        "transaction_at": ts_text(event_ts(rows, "transaction_at")),
    }


def _orders(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("orders")
    plan = rows.plan
    created = plan.created_day("orders", rows.ids)
    customers = _existing(rows, "customers", "customer")
    products = (rows.h("product") % np.uint64(catalogue_size(plan.scale))).astype(np.int64)
    start = plan.load_day(1)
    # an order delivered late on the day it was created was placed that many days earlier
    lag = np.zeros(len(rows), dtype=np.int64)
    for day in np.unique(created[created > 1]):
        on_day = created == day
        lag[on_day] = lateness(plan, "orders", int(day), rows.ids[on_day])
    ordered_day = np.where(
        created == 1,
        start - 1 - (rows.h("ordered_day") % np.uint64(90)).astype(np.int64),
        start + created - 1 - lag,
    )
    ordered_at = ordered_day * 86400 + 7 * 3600 + (rows.h("ordered_at") % np.uint64(12 * 3600)).astype(np.int64)
    history = (rows.versions == 0) & (created == 1)
    u_status = rows.u("status", mutable=True)
    status = coded(
        _text(spec.ORDER_STATUSES),
        np.select(
            [history, rows.versions == 0],
            [
                weighted((0.03, 0.05, 0.77, 0.12, 0.03), u_status),
                weighted((0.6, 0.4, 0.0, 0.0, 0.0), u_status),
            ],
            weighted((0.0, 0.1, 0.7, 0.15, 0.05), u_status),
        ),
    )
    updated = np.where(history, ordered_at + 3 * 86400, event_ts(rows, "updated_at"))
    return {
        "order_id": id_text(e, rows.ids),
        "customer_id": id_text(spec.entity("customers"), customers),
        "product_id": id_text(spec.entity("products"), products),
        "quantity": pc.cast(pa.array(rows.h("quantity") % np.uint64(500) + np.uint64(1)), pa.string()),
        "unit_price": money(product_price_cents(plan.seed, products)),
        "currency": coded(_text(spec.CURRENCIES), product_currency(plan.seed, products)),
        "order_status": status,
        "channel": pick_weighted(spec.ORDER_CHANNELS, (0.4, 0.25, 0.2, 0.1, 0.05), rows.u("channel")),
        "ordered_at": ts_text(ordered_at),
        # a change comes after the order it changes, even when it arrives late
        "updated_at": ts_text(np.where(updated > ordered_at, updated, ordered_at + np.where(history, 0, 3600))),
    }


_PRODUCT_WORDS = ("Global", "Emerging", "Sustainable", "Core", "Strategic", "Dynamic", "Income", "Select")
_PRODUCT_REGIONS = ("Europe", "Asia", "US", "World", "Nordic", "LatAm", "Japan", "UK")
_PRODUCT_NOUNS = {
    "EQUITY": "Equity Fund",
    "FIXED_INCOME": "Bond Fund",
    "FX": "FX Overlay",
    "DERIVATIVE": "Structured Note",
    "FUND": "Multi-Asset Fund",
    "CUSTODY_SERVICE": "Custody Service",
    "ADVISORY": "Advisory Mandate",
}


def _products(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("products")
    plan = rows.plan
    cls_idx = (rows.h("asset_class") % np.uint64(len(spec.ASSET_CLASSES))).astype(np.int64)
    noun = coded(_text([_PRODUCT_NOUNS[c] for c in spec.ASSET_CLASSES]), cls_idx)
    name = join(
        pick(_text(_PRODUCT_WORDS), rows.h("word")),
        pick(_text(_PRODUCT_REGIONS), rows.h("region")),
        noun,
        " ",
    )
    base = product_price_cents(plan.seed, rows.ids)
    # a later version re-prices the product by up to +/-10%
    drift = 0.9 + 0.2 * rows.u("price", mutable=True)
    price = np.where(rows.versions == 0, base, np.round(base * drift).astype(np.int64))
    start = plan.load_day(1)
    return {
        "product_id": id_text(e, rows.ids),
        "product_name": name,
        "asset_class": coded(_text(spec.ASSET_CLASSES), cls_idx),
        "currency": coded(_text(spec.CURRENCIES), product_currency(plan.seed, rows.ids)),
        "list_price": money(price),
        "is_active": coded(_text(["false", "true"]), rows.u("active", mutable=True) < 0.92),
        "launched_at": date_text(start - 60 - (rows.h("launched") % np.uint64(3650)).astype(np.int64)),
        "updated_at": ts_text(event_ts(rows, "updated_at")),
    }


def _exchange_rates(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    """A fixing per id: the currency's level moved by a yearly and a six-week cycle and a
    little daily noise, a pure function of (seed, currency, day), rounded to 8 places."""
    day = rate_days(rows.plan, rows.ids)
    cur = rows.ids % len(RATE_CURRENCIES)
    level = np.array([RATE_LEVELS[c] for c in RATE_CURRENCIES])[cur]
    phase = (stream(rows.plan.seed, rows.entity, "phase", cur) % np.uint64(3600)).astype(np.float64) / 3600
    noise = (stream(rows.plan.seed, rows.entity, "noise", rows.ids) >> np.uint64(11)).astype(np.float64) / (1 << 53)
    move = 0.04 * np.sin(2 * np.pi * (day / 365.25 + phase)) + 0.015 * np.sin(2 * np.pi * (day / 42 + 3 * phase))
    rate = level * (1 + move + 0.004 * (noise - 0.5))
    currency = coded(_text(RATE_CURRENCIES), cur)
    quote = _text([RATE_QUOTE_CURRENCY] * len(rows))
    dates = date_text(day)
    return {
        "rate_id": join(join(plain(currency), quote, ""), plain(dates), "-"),
        "currency": currency,
        "quote_currency": quote,
        "rate_date": dates,
        "rate": pc.cast(pa.array(np.round(rate, 8)), pa.string()),
        # published at 16:00 UTC on the day
        "updated_at": ts_text(day * 86400 + 16 * 3600),
    }


def _interactions(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("interactions")
    customers = _existing(rows, "customers", "customer")
    return {
        "interaction_id": id_text(e, rows.ids),
        "customer_id": id_text(spec.entity("customers"), customers),
        "channel": pick_weighted(spec.INTERACTION_CHANNELS, (0.35, 0.3, 0.15, 0.15, 0.05), rows.u("channel")),
        "interaction_type": pick_weighted(
            spec.INTERACTION_TYPES, (0.25, 0.3, 0.05, 0.15, 0.05, 0.2), rows.u("interaction_type")
        ),
        "sentiment": pick_weighted(spec.SENTIMENTS, (0.45, 0.45, 0.1), rows.u("sentiment")),
        "duration_minutes": pc.cast(pa.array(rows.h("duration") % np.uint64(176) + np.uint64(5)), pa.string()),
        "relationship_manager": pick(vocab.managers, rows.h("manager")),
        "interaction_at": ts_text(event_ts(rows, "interaction_at")),
    }


# the win probability of each stage (spec.OPPORTUNITY_STAGES: prospecting to closed lost)
_STAGE_PROBABILITY = dict(zip(spec.OPPORTUNITY_STAGES, ("10", "25", "50", "75", "100", "0"), strict=True))


def _opportunities(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    e = spec.entity("opportunities")
    customers = _existing(rows, "customers", "customer")
    u = rows.u("stage", mutable=True)
    early = np.searchsorted(np.cumsum([0.35, 0.3, 0.2, 0.1, 0.03, 0.02]), u, side="right")
    late = np.searchsorted(np.cumsum([0.05, 0.1, 0.2, 0.25, 0.25, 0.15]), u, side="right")
    stage_idx = np.where(rows.versions == 0, early, late).clip(0, len(spec.OPPORTUNITY_STAGES) - 1)
    close = rows.event_day + 30 + (rows.h("close", mutable=True) % np.uint64(150)).astype(np.int64)
    return {
        "opportunity_id": id_text(e, rows.ids),
        "customer_id": id_text(spec.entity("customers"), customers),
        "opportunity_name": join(
            pick(_text(_PRODUCT_WORDS), rows.h("word")),
            pick(_text(_PRODUCT_REGIONS), rows.h("region")),
            "mandate",
            " ",
        ),
        "stage": coded(_text(spec.OPPORTUNITY_STAGES), stage_idx),
        "amount": money(log_uniform(rows.u("amount", mutable=True), 4, 7)),
        "currency": pick_weighted(spec.CURRENCIES[:4], (0.5, 0.3, 0.15, 0.05), rows.u("currency")),
        "probability_pct": _text([_STAGE_PROBABILITY[s] for s in spec.OPPORTUNITY_STAGES]).take(pa.array(stage_idx)),
        "expected_close_date": date_text(close),
        "updated_at": ts_text(event_ts(rows, "updated_at")),
    }


@dataclass(frozen=True)
class ContactSets:
    """Per client on one day: its set version (how many times the set changed since the
    client was created), whether it changes that day, its size, and the day it last
    changed (the creation day while the version is 0)."""

    version: np.ndarray
    changes: np.ndarray
    size: np.ndarray
    set_day: np.ndarray


def contact_sets(plan: Plan, customers: np.ndarray, day: int) -> ContactSets:
    """A client replaces one contact every ``period`` days from its ``offset``: closed-form,
    so any day's set is computed without replaying the days before."""
    low, high = CONTACT_PERIOD
    period = low + (stream(plan.seed, "contacts", "period", customers) % np.uint64(high - low)).astype(np.int64)
    offset = (stream(plan.seed, "contacts", "offset", customers) % period.astype(np.uint64)).astype(np.int64)
    created = plan.created_day("customers", customers)
    # change days: 2 + offset + j * period for j >= 0, counted when after the creation day
    last = np.floor_divide(day - 2 - offset, period)
    first = np.maximum(0, np.floor_divide(created - 2 - offset, period) + 1)
    version = np.maximum(0, last - first + 1)
    changes = (day - 2 - offset >= 0) & ((day - 2 - offset) % period == 0) & (day > created)
    size = 1 + (stream(plan.seed, "contacts", "size", customers) % np.uint64(MAX_CONTACTS)).astype(np.int64)
    set_day = np.where(version > 0, 2 + offset + last * period, created)
    return ContactSets(version, changes, size, set_day)


def _contacts(rows: Rows, vocab: Vocab) -> dict[str, pa.Array]:
    """A member of a client's set: who the contact is follows from (client, slot); when the
    set last changed follows from (client, set version), one timestamp for the whole set."""
    e = spec.entity("contacts")
    customers = rows.ids // CONTACT_SLOTS
    person = stream(rows.plan.seed, "contacts", "person", rows.ids)
    first_idx = person % np.uint64(len(vocab.first_names))
    last_idx = (person >> np.uint64(20)) % np.uint64(len(vocab.last_names))
    email = join(
        join(coded(vocab.first_mail, first_idx), coded(vocab.last_mail, last_idx), "."),
        pick(vocab.domains, stream(rows.plan.seed, "contacts", "domain", customers)),
        "@",
    )
    phone = digit_matrix(rows.h("phone") % np.uint64(10**9), 9, "+44")  # direct lines in London
    slot = rows.ids % CONTACT_SLOTS
    role = np.where(
        slot == rows.versions,  # the set's oldest member is the relationship contact
        0,
        1 + (rows.h("role") % np.uint64(len(spec.CONTACT_ROLES) - 1)).astype(np.int64),
    )
    set_seconds = stream(rows.plan.seed, "contacts", "set_at", customers * 1000 + rows.versions) % np.uint64(12 * 3600)
    return {
        "contact_id": id_text(e, rows.ids),
        "customer_id": id_text(spec.entity("customers"), customers),
        "contact_name": join(coded(vocab.first_names, first_idx), coded(vocab.last_names, last_idx), " "),
        "contact_role": coded(_text(spec.CONTACT_ROLES), role),
        "email": email,
        "phone": fixed_text(phone),
        "updated_at": ts_text(rows.event_day * 86400 + 7 * 3600 + set_seconds.astype(np.int64)),
    }


BUILDERS: dict[str, Callable[[Rows, Vocab], dict[str, pa.Array]]] = {
    "customers": _customers,
    "accounts": _accounts,
    "transactions": _transactions,
    "orders": _orders,
    "products": _products,
    "exchange_rates": _exchange_rates,
    "interactions": _interactions,
    "opportunities": _opportunities,
    "contacts": _contacts,
}


# --------------------------------------------------------------------------- day plan


def _sample(plan: Plan, entity: str, day: int, purpose: str, population: int, k: int) -> np.ndarray:
    """k distinct ids from range(population), a pure function of (seed, entity, day, purpose)."""
    k = min(k, population)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    keys = stream(plan.seed, entity, f"{purpose}:{day}", np.arange(population, dtype=np.int64))
    return np.sort(np.argpartition(keys, k - 1)[:k]).astype(np.int64)


def updated_ids(plan: Plan, entity: str, day: int) -> np.ndarray:
    """Ids of existing rows that change on ``day`` (deterministic, so day d+1 can recompute it)."""
    if day < 2:
        return np.empty(0, dtype=np.int64)
    if entity == "orders":
        before, yesterday = plan.count("orders", day - 2), plan.count("orders", day - 1)
        ids = np.arange(before, yesterday, dtype=np.int64)
        keep = stream(plan.seed, entity, f"follow-up:{day}", ids) % np.uint64(1000) < ORDER_FOLLOW_UP_SHARE * 1000
        return ids[keep]
    share = VOLUMES[entity].daily_update_share
    existing = plan.count(entity, day - 1)
    ids = _sample(plan, entity, day, "update", existing, math.ceil(existing * share) if share else 0)
    if entity == "accounts":
        # an account that moves or closes today is delivered today
        every = np.arange(existing, dtype=np.int64)
        events = account_events(plan, every)
        ids = np.union1d(ids, every[(events.transfer_day == day) | (events.close_day == day)])
    return ids


def history_days(plan: Plan, entity: str, ids: np.ndarray) -> np.ndarray:
    """How many days before the first load each id's original event happened (1 to 365):
    the initial book spreads its history over the year before."""
    return 1 + (stream(plan.seed, entity, "history", ids) % np.uint64(365)).astype(np.int64)


def withdrawn(plan: Plan, ids: np.ndarray, day: int) -> np.ndarray:
    """Whether each product is missing from the catalogue snapshot of ``day``: withdrawn on
    some day from 2 on, for one to three days or (one time in four) for good."""
    out = np.zeros(len(ids), dtype=bool)
    for start in range(2, day + 1):
        begins = stream(plan.seed, "products", f"withdraw:{start}", ids) % np.uint64(10_000) < WITHDRAW_SHARE * 10_000
        length = 1 + (stream(plan.seed, "products", f"withdrawn_for:{start}", ids) % np.uint64(4)).astype(np.int64)
        length = np.where(length == 4, 1 << 30, length)
        out |= begins & (day < start + length)
    return out


def _snapshot_day(plan: Plan, entity: str, day: int) -> DayRows:
    """A full snapshot: every key not withdrawn today, today's changes as UPDATE, the rest
    re-delivered as they were (the version and event day of their last change)."""
    ids = np.arange(plan.count(entity, day), dtype=np.int64)
    versions = np.zeros(len(ids), dtype=np.int64)
    event_day = plan.load_day(1) - history_days(plan, entity, ids)
    for d in range(2, day + 1):
        changed = updated_ids(plan, entity, d)
        changed = changed[~withdrawn(plan, changed, d)]
        versions[changed] = d
        event_day[changed] = plan.load_day(d) - lateness(plan, entity, d, changed)
    kinds = np.where(versions == day, UPDATE, np.where(day == 1, NEW, UNCHANGED)).astype(np.int8)
    present = ~withdrawn(plan, ids, day)
    return DayRows(ids[present], kinds[present], versions[present], event_day[present])


def _contact_day(plan: Plan, day: int) -> DayRows:
    """Every client's whole contact set on day 1; later, the sets of new clients, of
    clients whose set changes today, and of clients changed today (re-delivered as is)."""
    customers = plan_day(plan, "customers", day)
    delivered = customers.ids
    if day > 1:
        existing = np.arange(plan.count("customers", day - 1), dtype=np.int64)
        changing = existing[contact_sets(plan, existing, day).changes]
        delivered = np.union1d(customers.ids[customers.kinds != STALE], changing)
    sets = contact_sets(plan, delivered, day)
    # one row per member: slots version .. version + size - 1 (the oldest leaves, one joins)
    members = np.repeat(np.arange(len(delivered)), sets.size)
    first_row = np.repeat(np.cumsum(sets.size) - sets.size, sets.size)
    version = sets.version[members]
    ids = delivered[members] * CONTACT_SLOTS + version + (np.arange(len(members)) - first_row)
    new = plan.created_day("customers", delivered) == day
    kinds = np.where(new[members], NEW, np.where(sets.changes[members], UPDATE, UNCHANGED)).astype(np.int8)
    # the set's event day: the day it last changed; the initial book's over the year before
    history = plan.load_day(1) - history_days(plan, "contacts", delivered)
    event_day = np.where(sets.set_day == 1, history, plan.load_day(1) + sets.set_day - 1)
    return DayRows(ids, kinds, version, event_day[members])


def lateness(plan: Plan, entity: str, day: int, ids: np.ndarray) -> np.ndarray:
    """Days (0 to 3) by which each row delivered on ``day`` (>= 2) arrives late: a pure
    function of the id and the day, so a later update can recompute its creation date."""
    late = stream(plan.seed, entity, f"late:{day}", ids) % np.uint64(10_000) < plan.late_rate * 10_000
    lag = 1 + (stream(plan.seed, entity, f"lag:{day}", ids) % np.uint64(3)).astype(np.int64)
    return np.where(late, lag, 0)


@dataclass
class DayRows:
    ids: np.ndarray
    kinds: np.ndarray
    versions: np.ndarray
    event_day: np.ndarray


def rate_days(plan: Plan, ids: np.ndarray) -> np.ndarray:
    """The business day (days since epoch) each exchange-rate id is the fixing of."""
    return plan.load_day(1) - RATE_HISTORY_DAYS + ids // len(RATE_CURRENCIES)


def _rate_day(plan: Plan, day: int) -> DayRows:
    """Day 1: the fixings of every business day of the history up to the first load; later
    days: that day's fixings (none on a Saturday or a Sunday)."""
    ids = np.arange(plan.count("exchange_rates", day - 1), plan.count("exchange_rates", day), dtype=np.int64)
    event_day = rate_days(plan, ids)
    business = (event_day + 3) % 7 < 5  # 1970-01-01 was a Thursday: Monday is 0
    ids, event_day = ids[business], event_day[business]
    n = len(ids)
    return DayRows(ids, np.full(n, NEW, np.int8), np.zeros(n, np.int64), event_day)


def plan_day(plan: Plan, entity: str, day: int) -> DayRows:
    """Every row ``entity`` delivers on ``day``: new ids, then updates, then stale rows
    (a full snapshot, a set of contacts and the day's exchange rates are planned their own way)."""
    if entity == "contacts":
        return _contact_day(plan, day)
    if entity == "exchange_rates":
        return _rate_day(plan, day)
    if spec.entity(entity).snapshot:
        return _snapshot_day(plan, entity, day)
    load_day = plan.load_day(day)
    new = np.arange(plan.count(entity, day - 1), plan.count(entity, day), dtype=np.int64)
    upd = updated_ids(plan, entity, day)
    stale = np.empty(0, dtype=np.int64)
    if day >= 3 and plan.late_rate > 0:
        prev = updated_ids(plan, entity, day - 1)
        pick_stale = stream(plan.seed, entity, f"stale:{day}", prev) % np.uint64(10_000) < plan.late_rate * 10_000
        stale = prev[pick_stale]
    ids = np.concatenate([new, upd, stale])
    kinds = np.concatenate(
        [
            np.full(len(new), NEW, np.int8),
            np.full(len(upd), UPDATE, np.int8),
            np.full(len(stale), STALE, np.int8),
        ]
    )
    versions = np.concatenate(
        [
            np.zeros(len(new), np.int64),
            np.full(len(upd), day, np.int64),
            np.full(len(stale), 1000 + day, np.int64),
        ]
    )
    event_day = np.full(len(ids), load_day, dtype=np.int64)
    if day == 1:
        # the initial book: its events and changes spread over the year before the first load
        event_day -= history_days(plan, entity, ids)
    else:
        event_day -= np.where(kinds != STALE, lateness(plan, entity, day, ids), 0)
        # a stale change happened before the one delivered yesterday
        event_day[kinds == STALE] = load_day - 2
    return DayRows(ids, kinds, versions, event_day)


# --------------------------------------------------------------------------- defects


_STATUS_COLUMN = {
    "customers": "lifecycle_stage",
    "accounts": "status",
    "transactions": "status",
    "orders": "order_status",
    "opportunities": "stage",
}
_AMOUNT_COLUMN = {
    "transactions": "amount",
    "orders": "unit_price",
    "opportunities": "amount",
    "products": "list_price",
}
_BAD_STATUSES = ("UNKNOWN", "N/A", "STATUS_9", "TBD")
_BAD_DATES = ("2026-02-31", "31/13/2026", "yesterday", "2026-13-45 25:61:00")


def _defect_column(ent: spec.Entity, kind: str) -> str:
    if kind in ("null_key", "duplicate"):
        return ent.key
    if kind == "bad_email":
        return "email"
    if kind == "negative_amount":
        return _AMOUNT_COLUMN[ent.name]
    if kind == "unknown_status":
        return _STATUS_COLUMN[ent.name]
    assert kind == "unparseable_date", kind
    return ent.event_column


def _defect_values(kind: str, originals: list[str | None]) -> list[str | None]:
    """The injected values: alternating forms, so each defect shows more than one shape."""
    if kind == "null_key":
        return [None if i % 2 == 0 else "  " for i in range(len(originals))]
    if kind == "null_reference":
        return [None] * len(originals)
    if kind == "bad_email":
        return [str(v).replace("@", " at ") if i % 2 == 0 else str(v).split("@")[0] for i, v in enumerate(originals)]
    if kind == "negative_amount":
        return ["-" + str(v) for v in originals]
    if kind == "unknown_status":
        return [_BAD_STATUSES[i % len(_BAD_STATUSES)] for i in range(len(originals))]
    return [_BAD_DATES[i % len(_BAD_DATES)] for i in range(len(originals))]


def applicable_defects(entity: spec.Entity) -> tuple[str, ...]:
    kinds = ["null_key", "unparseable_date", "duplicate"]
    if entity.references:
        kinds.append("null_reference")
    if "email" in entity.column_names:
        kinds.append("bad_email")
    if entity.name in _AMOUNT_COLUMN:
        kinds.append("negative_amount")
    if entity.name in _STATUS_COLUMN:
        kinds.append("unknown_status")
    return tuple(sorted(kinds, key=DEFECTS.index))


@dataclass
class Injected:
    """Defects injected into one chunk: the chunk's columns after injection and the record."""

    table: pa.Table  # the chunk as written, columns in spec order
    row_index: np.ndarray  # 0-based position within the table
    keys: list[str | None]
    kinds: list[str]
    column_names: list[str]
    values: list[str | None]


def inject_defects(rows: Rows, columns: dict[str, pa.Array], day: int) -> Injected:
    """Give a ``defect_rate`` share of rows exactly one defect each; duplicates go at the end."""
    ent = spec.entity(rows.entity)
    plan = rows.plan
    kinds = applicable_defects(ent)
    salt_rows = rows.ids.astype(np.uint64) ^ (rows.kinds.astype(np.uint64) << np.uint64(60))
    h = _mix(salt_rows ^ _salt(plan.seed, ent.name, "defect", day))
    draw = (h >> np.uint64(11)).astype(np.float64) / (1 << 53)
    hit = np.nonzero(draw < plan.defect_rate)[0]
    if day == 1 and len(draw) * plan.defect_rate >= 1 and len(hit) < len(kinds) <= len(draw):
        # every kind at least once a run wherever the rate promises defects at all (make
        # run's scale among them), so the run exercises every rule: the rows with the
        # lowest draws, a few more than chance gave
        hit = np.sort(np.argsort(draw, kind="stable")[: len(kinds)])
    # kinds dealt round-robin in an order the seed decides, so hits of any number at least
    # as large as the kinds cover every kind
    choice = np.empty(len(hit), dtype=np.int64)
    choice[np.argsort(_mix(h[hit]), kind="stable")] = np.arange(len(hit)) % len(kinds)
    original_keys = columns[ent.key]
    rec_index: list[np.ndarray] = []
    rec_kind: list[str] = []
    rec_col: list[str] = []
    rec_val: list[str | None] = []
    rec_key_idx: list[np.ndarray] = []
    out = dict(columns)
    n = len(rows)
    for k_i, kind in enumerate(kinds):
        chosen = hit[choice == k_i]
        if len(chosen) == 0 or kind == "duplicate":
            continue
        # null_reference alternates over the entity's references; every other kind hits one column
        groups = (
            [(r.column, chosen[i :: len(ent.references)]) for i, r in enumerate(ent.references)]
            if kind == "null_reference"
            else [(_defect_column(ent, kind), chosen)]
        )
        for col, idx in groups:
            if len(idx) == 0:
                continue
            out[col] = plain(out[col])
            new_vals = _defect_values(kind, out[col].take(pa.array(idx)).to_pylist())
            mask = np.zeros(n, dtype=bool)
            mask[idx] = True
            out[col] = pc.replace_with_mask(out[col], pa.array(mask), pa.array(new_vals, pa.string()))
            rec_index.append(idx)
            rec_key_idx.append(idx)
            rec_kind += [kind] * len(idx)
            rec_col += [col] * len(idx)
            rec_val += new_vals
    dup = hit[choice == kinds.index("duplicate")] if "duplicate" in kinds else np.empty(0, np.int64)
    table = pa.table([out[c] for c in ent.column_names], names=list(ent.column_names))
    if len(dup):
        # appended as a second chunk: no copy of the rows already built
        table = pa.concat_tables([table, table.take(pa.array(dup))])
        rec_index.append(np.arange(n, n + len(dup)))
        rec_key_idx.append(dup)
        rec_kind += ["duplicate"] * len(dup)
        rec_col += [ent.key] * len(dup)
        rec_val += [None] * len(dup)
    row_index = np.concatenate(rec_index) if rec_index else np.empty(0, np.int64)
    key_idx = np.concatenate(rec_key_idx) if rec_key_idx else np.empty(0, np.int64)
    keys = original_keys.take(pa.array(key_idx)).to_pylist() if len(key_idx) else []
    return Injected(table, row_index, keys, rec_kind, rec_col, rec_val)


# --------------------------------------------------------------------------- the run


class GenerationSummary(TypedDict):
    """What GENERATE_SAMPLE_DATA returns: rows per entity and in all, files and bytes
    written, the defects and late arrivals injected on purpose, where the files went."""

    batches: list[str]
    rows: dict[str, int]  # per entity
    total_rows: int
    files: int
    bytes: int
    # injected on purpose, by kind (the manifest lists each row)
    defects: dict[str, int]
    arrivals: dict[str, int]
    seconds: float
    landing_url: str


@dataclass
class Result:
    """What a run wrote, returned by the procedure as its summary."""

    rows: Counter[str] = field(default_factory=Counter)
    files: int = 0
    bytes: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    arrivals: Counter[str] = field(default_factory=Counter)
    batches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self, landing_url: str = "") -> GenerationSummary:
        return {
            "batches": self.batches,
            "rows": dict(self.rows),
            "total_rows": sum(self.rows.values()),
            "files": self.files,
            "bytes": self.bytes,
            "defects": dict(self.defects),
            "arrivals": dict(self.arrivals),
            "seconds": round(self.seconds, 3),
            "landing_url": landing_url,
        }


Progress = Callable[[str, int], None]


def _chunks(day_rows: DayRows, size: int) -> Iterator[slice]:
    for start in range(0, len(day_rows.ids), size):
        yield slice(start, start + size)


@dataclass
class _Part:
    """One data file, built and encoded on a worker thread."""

    file_name: str
    body: bytes
    md5: str
    rows: int
    defects: list[str]
    manifest: pa.Table


def _ordered(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterator[T], window: int) -> Iterator[R]:
    """``pool.map`` that keeps at most ``window`` results in flight, so memory stays bounded."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _build_part(
    plan: Plan,
    vocab: Vocab,
    ent: spec.Entity,
    fmt: FileFormat,
    prefix: str,
    batch: str,
    load_date: date,
    day: int,
    day_rows: DayRows,
    item: tuple[int, slice],
) -> _Part:
    part, sl = item
    rows = Rows(plan, ent.name, day_rows.ids[sl], day_rows.kinds[sl], day_rows.versions[sl], day_rows.event_day[sl])
    injected = inject_defects(rows, BUILDERS[ent.name](rows, vocab), day)
    file_name = landing.data_file_name(part, fmt)
    body = landing.serialise(injected.table, fmt)
    return _Part(
        file_name=file_name,
        body=body,
        md5=landing.md5_hex(body),
        rows=injected.table.num_rows,
        defects=injected.kinds,
        manifest=_manifest_chunk(plan, ent, batch, load_date, prefix + file_name, rows, injected),
    )


def generate(plan: Plan, sink: Sink, progress: Progress | None = None, workers: int = 2) -> Result:
    """Write ``plan.days`` daily batches to ``sink``; return what was written.

    Parts are built and encoded on ``workers`` threads (numpy and Arrow release the GIL)
    and written in order, so the output is identical whatever the number of workers.
    """
    started = time.perf_counter()
    vocab = vocabularies(plan.seed)
    result = Result()
    try:
        _generate_days(plan, sink, progress, workers, vocab, result)
    except landing.LandingError as err:
        if "already holds another file" not in str(err):
            raise
        taken = [d for d in range(1, plan.days + 1) if landing.batch_id_for(plan.load_date(d)) not in result.batches]
        first = plan.load_date(taken[0]) if taken else plan.load_date(1)
        raise landing.LandingError(
            f"{err} The landing zone already holds load date {first.isoformat()} from a run with another --scale, "
            "--seed or --formats: pass --start-date after the last day it holds, or use another state folder "
            "(LAKE_STATE_DIR)"
        ) from None
    result.seconds = time.perf_counter() - started
    return result


def _generate_days(
    plan: Plan, sink: Sink, progress: Progress | None, workers: int, vocab: Vocab, result: Result
) -> None:
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="generate") as pool:
        for day in range(1, plan.days + 1):
            load_date = plan.load_date(day)
            batch = landing.batch_id_for(load_date)
            manifest: list[pa.Table] = []
            for ent in spec.ENTITIES:
                if ent.name not in plan.entities:
                    continue
                fmt = plan.formats[ent.producer]
                prefix = landing.partition_prefix(ent.producer, ent.name, load_date)
                day_rows = plan_day(plan, ent.name, day)

                build = partial(_build_part, plan, vocab, ent, fmt, prefix, batch, load_date, day, day_rows)
                control: list[dict[str, object]] = []
                chunks = enumerate(_chunks(day_rows, plan.chunk_rows))
                for built in _ordered(pool, build, chunks, window=max(1, workers) + 1):
                    sink.put(prefix + built.file_name, built.body)
                    control.append(
                        {
                            "batch_id": batch,
                            "producer": ent.producer,
                            "entity": ent.name,
                            "load_date": load_date.isoformat(),
                            "file_name": built.file_name,
                            "file_format": fmt,
                            "row_count": built.rows,
                            "bytes": len(built.body),
                            "md5": built.md5,
                            "delivery": "full" if ent.snapshot else "delta",
                        }
                    )
                    manifest.append(built.manifest)
                    result.rows[ent.name] += built.rows
                    result.files += 1
                    result.bytes += len(built.body)
                    result.defects.update(built.defects)
                    if progress:
                        progress(ent.name, built.rows)
                sink.put(prefix + landing.CONTROL_FILE, landing.control_file(control))
                if ent.snapshot:
                    manifest.append(withdrawals(plan, ent, batch, load_date, prefix + landing.CONTROL_FILE))
            day_manifest = pa.concat_tables(manifest) if manifest else MANIFEST_SCHEMA.empty_table()
            arrivals = day_manifest.filter(pc.equal(day_manifest["category"], "arrival"))
            result.arrivals.update(arrivals["kind"].to_pylist())
            sink.put(landing.manifest_key(load_date), landing.serialise(day_manifest, "parquet"))
            result.batches.append(batch)


def _delivered(batch: str, load_date: date, ent: spec.Entity, file_name: str, n: int) -> dict[str, list[str]]:
    """The manifest's first columns for ``n`` rows: the delivery they are about."""
    return {
        "batch_id": [batch] * n,
        "load_date": [load_date.isoformat()] * n,
        "producer": [ent.producer] * n,
        "entity": [ent.name] * n,
        "file_name": [file_name] * n,
    }


def _manifest_chunk(
    plan: Plan,
    ent: spec.Entity,
    batch: str,
    load_date: date,
    file_name: str,
    rows: Rows,
    injected: Injected,
) -> pa.Table:
    """Manifest rows for one file: its defects, its late and out-of-order rows, then the
    events the vault's structures record (an account moved or closed, a contact set
    changed, a product back in the catalogue)."""
    load_day = plan.load_day(1) + (load_date - plan.start_date).days
    changed = (rows.kinds == NEW) | (rows.kinds == UPDATE)
    late = np.nonzero((rows.event_day < load_day) & changed & (load_date > plan.start_date))[0]
    stale = np.nonzero(rows.kinds == STALE)[0]
    arrivals = np.concatenate([late, stale])
    arrival_kind = ["late_arriving"] * len(late) + ["out_of_order"] * len(stale)
    events, event_kinds, event_columns = _events(plan, ent, (load_date - plan.start_date).days + 1, rows)
    listed = np.concatenate([arrivals, events]).astype(np.int64)
    key_col = id_text(ent, rows.ids[listed]).to_pylist() if len(listed) else []
    values = [
        injected.table.column(column).take(pa.array([i])).to_pylist()[0]
        for i, column in zip(listed, [ent.event_column] * len(arrivals) + event_columns, strict=True)
    ]
    n_def, n_arr, n_ev = len(injected.kinds), len(arrivals), len(events)
    n = n_def + n_arr + n_ev
    return pa.table(
        {
            **_delivered(batch, load_date, ent, file_name, n),
            "row_number": pa.array(np.concatenate([injected.row_index, listed]) + 1, pa.int64()),
            "business_key": injected.keys + key_col,
            "category": ["defect"] * n_def + ["arrival"] * n_arr + ["event"] * n_ev,
            "kind": injected.kinds + arrival_kind + event_kinds,
            "column_name": injected.column_names + [ent.event_column] * n_arr + event_columns,
            "injected_value": injected.values + values,
        },
        schema=MANIFEST_SCHEMA,
    )


def _events(plan: Plan, ent: spec.Entity, day: int, rows: Rows) -> tuple[np.ndarray, list[str], list[str]]:
    """Positions in the chunk of the rows that carry a structural event, their kinds and
    the column that shows it."""
    index: list[np.ndarray] = []
    kinds: list[str] = []
    columns: list[str] = []

    def add(hit: np.ndarray, kind: str, column: str) -> None:
        found = np.nonzero(hit)[0]
        index.append(found)
        kinds.extend([kind] * len(found))
        columns.extend([column] * len(found))

    fresh = rows.kinds != STALE
    if ent.name == "accounts":
        events = account_events(plan, rows.ids)
        add(fresh & (events.transfer_day == day), "account_moved", "customer_id")
        add(fresh & (events.close_day == day), "account_closed", "status")
    elif ent.multi_active:
        add(rows.kinds == UPDATE, "contact_set_changed", ent.references[0].column)
    elif ent.snapshot and day > 1:
        add(withdrawn(plan, rows.ids, day - 1), "product_returned", ent.key)
    return (np.concatenate(index) if index else np.empty(0, np.int64)), kinds, columns


def withdrawals(plan: Plan, ent: spec.Entity, batch: str, load_date: date, control: str) -> pa.Table:
    """Manifest rows for the keys a full snapshot leaves out from ``load_date`` on: no row
    in any file says so, so they name the delivery's control file and no row number."""
    day = (load_date - plan.start_date).days + 1
    ids = np.arange(plan.count(ent.name, day), dtype=np.int64)
    gone = ids[withdrawn(plan, ids, day) & ~withdrawn(plan, ids, day - 1)] if day > 1 else ids[:0]
    n = len(gone)
    return pa.table(
        {
            **_delivered(batch, load_date, ent, control, n),
            "row_number": pa.nulls(n, pa.int64()),
            "business_key": id_text(ent, gone).to_pylist() if n else [],
            "category": ["event"] * n,
            "kind": ["product_withdrawn"] * n,
            "column_name": [ent.key] * n,
            "injected_value": [None] * n,
        },
        schema=MANIFEST_SCHEMA,
    )
