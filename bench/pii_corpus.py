"""A labelled corpus of tables for measuring the PII scan, generated deterministically.

Nothing is downloaded: Faker (many locales) and numpy make every value, and each column
carries the truth the scan should find: the entity (Presidio's names, plus ours) and the
role. The corpus is built to be hard in the ways real tables are: several locales and
formats per entity, meaningful and meaningless column names (`c07`), free text with and
without personal data, and hard negatives that look like identifiers but are not (product
codes, order numbers shaped like phone numbers, amounts, category labels, booleans, event
timestamps, company names). Seeding is fine here: this is test data, not a privacy mechanism.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import phonenumbers
from faker import Faker

#: Locales of the generated tables; US-only entities (SSN, ZIP) always use en_US.
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE", "da_DK", "en_IN")
#: Distinct values Faker makes per column; rows draw from them (names and cities repeat in real tables too).
_POOL = 1_500


@dataclass(frozen=True)
class ColumnLabel:
    """The truth about one generated column."""

    kind: str
    entity: str | None
    role: str
    hard_negative: bool = False
    pii_in_text: bool = False


@dataclass(frozen=True)
class LabelledTable:
    name: str
    locale: str
    frame: pd.DataFrame
    labels: dict[str, ColumnLabel]


@dataclass
class _Ctx:
    fake: Faker
    us: Faker
    gb: Faker
    rng: np.random.Generator
    region: str

    def pool(self, make: Callable[[], object], n: int) -> np.ndarray:
        values = np.array([make() for _ in range(min(n, _POOL))], dtype=object)
        return values[self.rng.integers(0, len(values), n)]

    def repeat(self, make: Callable[[], object], n: int, distinct: int) -> np.ndarray:
        """`n` values drawn from only `distinct` ones, like a catalogue's codes or a few employers."""
        return self.pool(make, min(n, distinct))[self.rng.integers(0, min(n, distinct), n)]

    def choice(self, options: tuple) -> object:
        return options[int(self.rng.integers(0, len(options)))]

    def serials(self, n: int, digits: int) -> np.ndarray:
        """`n` distinct numbers below 10**digits (more digits if `n` needs them), leading zeros allowed."""
        digits = max(digits, len(str(5 * n)))
        return self.rng.choice(10**digits, n, replace=False)


@dataclass(frozen=True)
class _Kind:
    entity: str | None
    role: str
    names: tuple[str, ...]
    make: Callable[[_Ctx, int], object]
    hard_negative: bool = False
    pii_in_text: bool = False


def _fmt(values: np.ndarray, fn: Callable[[object], str]) -> np.ndarray:
    return np.array([fn(v) for v in values], dtype=object)


def _grouped(text: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(text[i:i + size] for i in range(0, len(text), size))


def _e164(ctx: _Ctx) -> str:
    for _ in range(20):
        try:
            number = phonenumbers.parse(ctx.fake.phone_number(), ctx.region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ctx.us.numerify("+1 (###) 555-01##")


def _iban(ctx: _Ctx) -> str:
    """An IBAN of the table's country; Faker's locales without their own give British ones."""
    iban = ctx.fake.iban()
    return iban if iban[:2] == ctx.region else ctx.gb.iban()


def _card(ctx: _Ctx) -> str:
    kind = ("visa16", "mastercard", "amex", "discover", "jcb16", "diners")[int(ctx.rng.integers(0, 6))]
    number = ctx.us.credit_card_number(card_type=kind)
    style = int(ctx.rng.integers(0, 3))
    return number if style == 0 else _grouped(number, 4, " " if style == 1 else "-")


def _dates(ctx: _Ctx, n: int, start: str, end: str) -> pd.Series:
    lo, hi = pd.Timestamp(start).value // 10**9, pd.Timestamp(end).value // 10**9
    return pd.Series(pd.to_datetime(ctx.rng.integers(lo, hi, n), unit="s"))


def _birth_dates(ctx: _Ctx, n: int) -> pd.Series:
    return _dates(ctx, n, "1935-01-01", "2007-12-31").dt.normalize()


def _dated(ctx: _Ctx, n: int, start: str, fmt: str) -> np.ndarray:
    """Event times between `start` and mid-2025, as text in `fmt`."""
    return _dates(ctx, n, start, "2025-06-30").dt.strftime(fmt).to_numpy(dtype=object)


def _split_4_3_3(serial: int) -> str:
    digits = f"{serial:010d}"
    return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"


def _nanp_shaped(serial: int) -> str:
    """`1xx-xxx-xxxx`: a US phone number's shape, but no area code starts with 1."""
    digits = f"{serial:09d}"
    return f"1{digits[:2]}-{digits[2:5]}-{digits[5:]}"


def _line_items(ctx: _Ctx, n: int, make: Callable[[int], np.ndarray]) -> np.ndarray:
    """Order-level values repeated over 1 to 4 lines each, as in an order-lines table."""
    orders = make(n)
    return orders[np.sort(ctx.rng.integers(0, max(n // 2, 1), n))]


def _note(ctx: _Ctx, with_pii: bool) -> str:
    if not with_pii:
        return ctx.us.sentence(nb_words=int(ctx.rng.integers(6, 14)))
    f = ctx.fake
    templates = (
        lambda: f"Customer {f.name()} asked for a callback about the renewal.",
        lambda: f"Please reach me at {f.email()} before Friday.",
        lambda: f"Left a voicemail on {f.phone_number()}, no answer yet.",
        lambda: f"Parcel returned, new delivery address is {f.address().replace(chr(10), ', ')}.",
        lambda: f"Spoke with {f.first_name()} {f.last_name()} who confirmed the order details.",
    )
    return templates[int(ctx.rng.integers(0, len(templates)))]()


def _notes(ctx: _Ctx, n: int, share_with_pii: float, share_empty: float) -> np.ndarray:
    pool = np.array([_note(ctx, ctx.rng.random() < share_with_pii) for _ in range(min(n, _POOL))], dtype=object)
    out = pool[ctx.rng.integers(0, len(pool), n)]
    out[ctx.rng.random(n) < share_empty] = None
    return out


_PREFIXES = ("E", "C", "EMP", "CUST", "PT", "MBR", "ACC", "U")
_CATEGORIES = (
    ("bronze", "silver", "gold", "platinum"),
    ("pending", "shipped", "delivered", "returned", "cancelled"),
    ("web", "store", "phone", "partner"),
    ("Electronics", "Garden", "Toys", "Books", "Clothing", "Grocery"),
)

KINDS: dict[str, _Kind] = {
    # direct identifiers
    "person_full": _Kind("PERSON", "direct_identifier", ("full_name", "name", "customer_name", "patient"),
                         lambda c, n: c.pool(c.fake.name, n)),
    "person_last_first": _Kind("PERSON", "direct_identifier", ("name", "contact", "holder_name"),
                               lambda c, n: c.pool(lambda: f"{c.fake.last_name()}, {c.fake.first_name()}", n)),
    "person_titled": _Kind("PERSON", "direct_identifier", ("contact_person", "doctor", "employee_name"),
                           lambda c, n: c.pool(lambda: f"{c.fake.prefix()} {c.fake.first_name()} {c.fake.last_name()}",
                                               n)),
    "person_first": _Kind("PERSON", "direct_identifier", ("first_name", "given_name", "firstname"),
                          lambda c, n: c.pool(c.fake.first_name, n)),
    "person_last": _Kind("PERSON", "direct_identifier", ("last_name", "surname", "family_name"),
                         lambda c, n: c.pool(c.fake.last_name, n)),
    "email": _Kind("EMAIL_ADDRESS", "direct_identifier", ("email", "e_mail", "contact_email", "mail"),
                   lambda c, n: c.pool(c.fake.email, n)),
    "email_display": _Kind("EMAIL_ADDRESS", "direct_identifier", ("recipient", "from", "emailAddress"),
                           lambda c, n: c.pool(lambda: f"{c.fake.name()} <{c.fake.free_email()}>", n)),
    "phone_local": _Kind("PHONE_NUMBER", "direct_identifier", ("phone", "telephone", "tel", "mobile"),
                         lambda c, n: c.pool(c.fake.phone_number, n)),
    "phone_e164": _Kind("PHONE_NUMBER", "direct_identifier", ("msisdn", "phone_e164", "cell"),
                        lambda c, n: c.pool(lambda: _e164(c), n)),
    "ssn_dashed": _Kind("US_SSN", "direct_identifier", ("ssn", "social_security_number", "SSN"),
                        lambda c, n: c.pool(c.us.ssn, n)),
    "ssn_spaced": _Kind("US_SSN", "direct_identifier", ("ssn", "soc_sec_no"),
                        lambda c, n: c.pool(lambda: c.us.ssn().replace("-", " "), n)),
    "credit_card": _Kind("CREDIT_CARD", "direct_identifier", ("card_number", "cc", "pan", "credit_card"),
                         lambda c, n: c.pool(lambda: _card(c), n)),
    "iban": _Kind("IBAN_CODE", "direct_identifier", ("iban", "account", "bank_account"),
                  lambda c, n: c.pool(lambda: _iban(c), n)),
    "iban_grouped": _Kind("IBAN_CODE", "direct_identifier", ("iban", "payout_account"),
                          lambda c, n: c.pool(lambda: _grouped(_iban(c)), n)),
    "ipv4": _Kind("IP_ADDRESS", "direct_identifier", ("ip", "client_ip", "ip_address", "remote_addr"),
                  lambda c, n: c.pool(c.fake.ipv4, n)),
    "ipv6": _Kind("IP_ADDRESS", "direct_identifier", ("ipv6", "source_ip"),
                  lambda c, n: c.pool(c.fake.ipv6, n)),
    "address_full": _Kind("STREET_ADDRESS", "direct_identifier", ("address", "home_address", "mailing_address"),
                          lambda c, n: c.pool(lambda: c.fake.address().replace("\n", ", "), n)),
    "address_street": _Kind("STREET_ADDRESS", "direct_identifier", ("street", "street_address", "addr_line1"),
                            lambda c, n: c.pool(lambda: c.fake.street_address().replace("\n", ", "), n)),
    "row_id_prefixed": _Kind("ROW_ID", "direct_identifier", ("employee_id", "customer_id", "member_no", "id"),
                             lambda c, n: _fmt(c.serials(n, 6), lambda s, p=c.choice(_PREFIXES): f"{p}-{s:06d}")),
    "row_id_compact": _Kind("ROW_ID", "direct_identifier", ("patient_id", "account_ref", "key"),
                            lambda c, n: _fmt(c.serials(n, 8), lambda s: f"CUST{s:08d}")),
    "row_id_uuid": _Kind("ROW_ID", "direct_identifier", ("user_uuid", "guid", "id"),
                         lambda c, n: _fmt(np.arange(n), lambda _: str(uuid.UUID(bytes=c.rng.bytes(16), version=4))),
                         ),
    "row_id_int": _Kind("ROW_ID", "direct_identifier", ("person_id", "record_no", "id"),
                        lambda c, n: (c.serials(n, 7) + 10**7).astype(np.int64)),
    "row_id_token": _Kind("ROW_ID", "direct_identifier", ("user_key", "handle_id"),
                          lambda c, n: _fmt(np.arange(n), lambda _: "usr_" + c.rng.bytes(6).hex())),
    # quasi-identifiers
    "city": _Kind("LOCATION", "quasi_identifier", ("city", "town", "place_of_residence"),
                  lambda c, n: c.pool(c.fake.city, n)),
    "country": _Kind("LOCATION", "quasi_identifier", ("country", "nationality_country"),
                     lambda c, n: c.pool(c.us.country, n)),
    "dob_iso": _Kind("DATE_OF_BIRTH", "quasi_identifier", ("birth_date", "dob", "date_of_birth"),
                     lambda c, n: _birth_dates(c, n).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)),
    "dob_us": _Kind("DATE_OF_BIRTH", "quasi_identifier", ("dob", "birthday"),
                    lambda c, n: _birth_dates(c, n).dt.strftime("%m/%d/%Y").to_numpy(dtype=object)),
    "dob_eu": _Kind("DATE_OF_BIRTH", "quasi_identifier", ("geburtsdatum", "born", "birth_date"),
                    lambda c, n: _birth_dates(c, n).dt.strftime("%d.%m.%Y").to_numpy(dtype=object)),
    "dob_long": _Kind("DATE_OF_BIRTH", "quasi_identifier", ("date_of_birth", "born_on"),
                      lambda c, n: _birth_dates(c, n).dt.strftime("%d %B %Y").to_numpy(dtype=object)),
    "dob_typed": _Kind("DATE_OF_BIRTH", "quasi_identifier", ("dob", "birth_date"),
                       lambda c, n: _birth_dates(c, n)),
    "zip5": _Kind("US_ZIP_CODE", "quasi_identifier", ("zip", "zipcode", "postal_code"),
                  lambda c, n: c.pool(c.us.zipcode, n)),
    "zip_plus4": _Kind("US_ZIP_CODE", "quasi_identifier", ("zip", "zip4"),
                       lambda c, n: c.pool(c.us.zipcode_plus4, n)),
    # free text
    "notes_with_pii": _Kind(None, "free_text", ("notes", "comment", "remarks", "description"),
                            lambda c, n: _notes(c, n, 0.3, 0.3), pii_in_text=True),
    "notes_clean": _Kind(None, "free_text", ("notes", "feedback", "comment"),
                         lambda c, n: _notes(c, n, 0.0, 0.3)),
    # hard negatives: shaped like identifiers or personal data, but neither
    "product_code": _Kind(None, "attribute", ("sku", "product_code", "item"), hard_negative=True,
                          make=lambda c, n: c.repeat(lambda: c.us.bothify("??-#####").upper(), n, 150)),
    "order_number": _Kind(None, "attribute", ("order_no", "order_number", "ref"), hard_negative=True,
                          make=lambda c, n: _line_items(c, n, lambda m: _fmt(c.serials(m, 10), _split_4_3_3))),
    "order_number_nanp": _Kind(None, "attribute", ("order_id", "confirmation"), hard_negative=True,
                               make=lambda c, n: _line_items(c, n, lambda m: _fmt(c.serials(m, 9), _nanp_shaped))),
    "amount": _Kind(None, "attribute", ("amount", "total", "price"), hard_negative=True,
                    make=lambda c, n: np.round(c.rng.lognormal(4, 1.2, n), 2)),
    "amount_text": _Kind(None, "attribute", ("amount", "balance_due"), hard_negative=True,
                         make=lambda c, n: _fmt(np.round(c.rng.lognormal(5, 1.5, n), 2), lambda v: f"${v:,.2f}")),
    "quantity": _Kind(None, "attribute", ("qty", "quantity", "items"), hard_negative=True,
                      make=lambda c, n: c.rng.integers(1, 25, n)),
    "category": _Kind(None, "attribute", ("tier", "status", "channel", "segment"), hard_negative=True,
                      make=lambda c, n: np.array(c.choice(_CATEGORIES), dtype=object)[c.rng.integers(0, 4, n)]),
    "boolean": _Kind(None, "attribute", ("is_active", "opted_in", "flag"), hard_negative=True,
                     make=lambda c, n: c.rng.random(n) < 0.4),
    "yes_no": _Kind(None, "attribute", ("newsletter", "consent"), hard_negative=True,
                    make=lambda c, n: np.array(["Y", "N"], dtype=object)[c.rng.integers(0, 2, n)]),
    "event_time": _Kind("DATE_TIME", "quasi_identifier", ("created_at", "event_time", "updated"), hard_negative=True,
                        make=lambda c, n: _dated(c, n, "2022-01-01", "%Y-%m-%d %H:%M:%S")),
    "event_time_iso": _Kind("DATE_TIME", "quasi_identifier", ("ts", "logged_at"), hard_negative=True,
                            make=lambda c, n: _dated(c, n, "2023-01-01", "%Y-%m-%dT%H:%M:%SZ")),
    "event_date": _Kind("DATE_TIME", "quasi_identifier", ("order_date", "signup_date", "visit"), hard_negative=True,
                        make=lambda c, n: _dated(c, n, "2018-01-01", "%Y-%m-%d")),
    "event_typed": _Kind("DATE_TIME", "quasi_identifier", ("shipped_at", "paid_at"), hard_negative=True,
                         make=lambda c, n: _dates(c, n, "2022-01-01", "2025-06-30")),
    "company": _Kind(None, "attribute", ("vendor", "company", "employer"), hard_negative=True,
                     make=lambda c, n: c.repeat(c.fake.company, n, 300)),
    "percentage": _Kind(None, "attribute", ("discount", "rate"), hard_negative=True,
                        make=lambda c, n: _fmt(c.rng.integers(0, 60, n) / 2, lambda v: f"{v}%")),
    "version": _Kind(None, "attribute", ("app_version", "build"), hard_negative=True,
                     make=lambda c, n: _fmt(c.rng.integers(0, 15, (n, 3)), lambda v: ".".join(map(str, v)))),
}

#: The 20 columns of the speed table: every entity once, plus free text and hard negatives.
WIDE_KINDS = (
    "person_full", "email", "phone_local", "ssn_dashed", "credit_card", "iban", "ipv4", "address_full",
    "row_id_prefixed", "city", "dob_iso", "zip5", "notes_with_pii", "product_code", "order_number",
    "amount", "category", "boolean", "event_time", "company",
)


def _column(kind: str, ctx: _Ctx, rows: int) -> tuple[pd.Series, ColumnLabel]:
    k = KINDS[kind]
    values = k.make(ctx, rows)
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    return series.reset_index(drop=True), ColumnLabel(kind, k.entity, k.role, k.hard_negative, k.pii_in_text)


def _context(locale: str, seed: int) -> _Ctx:
    fake, us, gb = Faker(locale), Faker("en_US"), Faker("en_GB")
    fake.seed_instance(seed)
    us.seed_instance(seed + 1)
    gb.seed_instance(seed + 2)
    return _Ctx(fake, us, gb, np.random.default_rng(seed), locale.split("_")[1])


def _table(index: int, kinds: list[str], rows: int, seed: int, meaningful_share: float) -> LabelledTable:
    locale = LOCALES[index % len(LOCALES)]
    ctx = _context(locale, seed * 1000 + index)
    columns: dict[str, pd.Series] = {}
    labels: dict[str, ColumnLabel] = {}
    for position, kind in enumerate(kinds):
        series, label = _column(kind, ctx, rows)
        name = f"c{position:02d}"
        if ctx.rng.random() < meaningful_share:
            name = KINDS[kind].names[int(ctx.rng.integers(0, len(KINDS[kind].names)))]
            while name in columns:
                name += "_2"
        columns[name], labels[name] = series, label
    return LabelledTable(f"t{index:02d}_{locale}", locale, pd.DataFrame(columns), labels)


def corpus(tables: int = 12, rows: int = 1_000, columns: int = 16, seed: int = 0) -> list[LabelledTable]:
    """`tables` tables of `rows` rows; every kind of column appears in several locales and names.

    Kinds are dealt round-robin from a seeded shuffle, so each appears about
    `tables * columns / len(KINDS)` times, with a meaningful name about half the time.
    """
    rng = np.random.default_rng(seed)
    deck: list[str] = []
    while len(deck) < tables * columns:
        deck.extend(rng.permutation(list(KINDS)).tolist())
    out = []
    for i in range(tables):
        kinds = list(dict.fromkeys(deck[i * columns:(i + 1) * columns]))
        out.append(_table(i, kinds, rows, seed, meaningful_share=0.5))
    return out


def wide_table(rows: int = 1_000_000, seed: int = 0) -> LabelledTable:
    """The 20-column speed table: one column per kind in WIDE_KINDS, half of them named c00..c19."""
    return _table(0, list(WIDE_KINDS), rows, seed + 99, meaningful_share=0.5)
