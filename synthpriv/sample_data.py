"""A realistic, deterministic customer table for the demo, the tests and the benchmarks.

Generated, never downloaded: the machines have no network and a release tool must show
what it does on data that looks like the real thing, with direct identifiers,
quasi-identifiers, sensitive attributes, free text that sometimes holds PII, missing
values, and correlations a good synthesizer should keep. Seeding is fine here: this is
test data, not a privacy mechanism.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from faker import Faker

#: The public ZIP list of the demo's service area; the demo spec declares it as the domain.
DEMO_ZIPS = (
    "02108", "02139", "02215", "02446", "10001", "10027", "10451", "11201", "11215", "19103",
    "19104", "20001", "20009", "30303", "30309", "33101", "33139", "60601", "60614", "60657",
    "73301", "75201", "77002", "78701", "80202", "85004", "90012", "90024", "94103", "94110",
    "94117", "97201", "98101", "98109", "98122", "99501",
)
SEGMENTS = ("student", "retail", "premium", "business")
DIAGNOSES = (
    "none", "hypertension", "type 2 diabetes", "asthma", "depression",
    "hyperlipidemia", "arthritis", "migraine",
)
SEXES = ("F", "M", "X")
_FIRST_ID = 100_000
_PHONE_FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}")
_NOTE_TEMPLATES_PII = (
    "Customer asked to be contacted at {email} about the renewal.",
    "Call back on {phone} after 5pm, spoke with {name}.",
    "{name} disputed the last statement; follow up by email {email}.",
    "Mailing address updated to {address}.",
)
_NOTE_TEMPLATES_CLEAN = (
    "Requested a paper statement.",
    "Interested in the premium plan; send brochure.",
    "No response to the last two reminders.",
    "Prefers contact in the morning.",
    "Complained about card delivery times.",
)


def _pool(fake: Faker, method: str, size: int) -> np.ndarray:
    return np.array([getattr(fake, method)() for _ in range(size)], dtype=object)


def customer_batches(rows: int, batch_rows: int, seed: int = 7) -> Iterator[pd.DataFrame]:
    """`rows` customers in batches of up to `batch_rows`, so a ten-million-row table can be written
    without being whole in memory. Up to `batch_rows` rows it is exactly `generate_customers(rows, seed)`;
    each later batch has its own seed and its own range of customer ids."""
    for i, start in enumerate(range(0, rows, batch_rows)):
        yield generate_customers(min(batch_rows, rows - start), seed + i, first_id=_FIRST_ID + start)


def generate_customers(rows: int = 20_000, seed: int = 7, first_id: int = _FIRST_ID) -> pd.DataFrame:
    """Return `rows` synthetic-but-realistic customers; the same arguments give the same table.

    Customer ids are `first_id` onwards, shuffled.

    >>> df = generate_customers(50)
    >>> len(df), df["customer_id"].is_unique
    (50, True)
    """
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    Faker.seed(seed)

    first = _pool(fake, "first_name", 600)
    last = _pool(fake, "last_name", 900)
    streets = _pool(fake, "street_name", 700)
    cities = _pool(fake, "city", 300)
    domains = np.array(["example.com", "mail.test", "inbox.example.org", "corp.example.net"])

    f = rng.choice(first, rows)
    la = rng.choice(last, rows)
    names = np.char.add(np.char.add(f.astype(str), " "), la.astype(str))
    serial = rng.permutation(rows) + first_id
    emails = [
        f"{a.lower()}.{b.lower()}{s % 1000}@{d}"
        for a, b, s, d in zip(f, la, serial, rng.choice(domains, rows))
    ]
    area, mid, end = rng.integers(201, 990, rows), rng.integers(200, 999, rows), rng.integers(0, 10_000, rows)
    fmt = rng.integers(0, len(_PHONE_FORMATS), rows)
    phones = [
        _PHONE_FORMATS[k].format(a=a, b=b, c=f"{c:04d}") for k, a, b, c in zip(fmt, area, mid, end)
    ]
    ssn_area = rng.integers(1, 666, rows)
    ssns = [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(ssn_area, rng.integers(1, 100, rows), rng.integers(1, 10_000, rows))]
    addresses = [
        f"{n} {s}, {c}"
        for n, s, c in zip(rng.integers(1, 9999, rows), rng.choice(streets, rows), rng.choice(cities, rows))
    ]

    age_years = np.clip(rng.gamma(3.5, 7.0, rows) + 18, 18, 90)
    birth = pd.Timestamp("2025-06-30") - pd.to_timedelta((age_years * 365.25).astype(int), unit="D")
    zips = rng.choice(np.array(DEMO_ZIPS), rows, p=_zipf_weights(len(DEMO_ZIPS)))
    sex = rng.choice(np.array(SEXES), rows, p=[0.49, 0.49, 0.02])

    seg_logits = np.stack(
        [-(age_years - 22) / 4, np.zeros(rows), (age_years - 45) / 15, (age_years - 40) / 20], axis=1
    )
    seg_p = np.exp(seg_logits) / np.exp(seg_logits).sum(axis=1, keepdims=True)
    seg_idx = (seg_p.cumsum(axis=1) > rng.random((rows, 1))).argmax(axis=1)
    segment = np.array(SEGMENTS)[seg_idx]

    base = 9.6 + 0.45 * seg_idx + 0.012 * np.minimum(age_years, 60)
    income = np.round(np.exp(base + rng.normal(0, 0.45, rows)), -2)
    income = np.clip(income, 0, 1_000_000)
    credit = np.clip(
        np.round(560 + 55 * (np.log(income) - 10.5) + 1.6 * (age_years - 18) + rng.normal(0, 45, rows)),
        300, 850,
    ).astype(int)

    diag_p = np.array([0.45, 0.14, 0.09, 0.08, 0.07, 0.07, 0.06, 0.04])
    diagnosis = rng.choice(np.array(DIAGNOSES), rows, p=diag_p)
    older = age_years > 55
    diagnosis[older & (rng.random(rows) < 0.25)] = "hypertension"

    signup = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 4017, rows), unit="D")

    notes = np.full(rows, "", dtype=object)
    kind = rng.random(rows)
    pii_rows = np.flatnonzero(kind < 0.15)
    clean_rows = np.flatnonzero((kind >= 0.15) & (kind < 0.55))
    for i in pii_rows:
        tmpl = _NOTE_TEMPLATES_PII[i % len(_NOTE_TEMPLATES_PII)]
        notes[i] = tmpl.format(email=emails[i], phone=phones[i], name=names[i], address=addresses[i])
    for i in clean_rows:
        notes[i] = _NOTE_TEMPLATES_CLEAN[i % len(_NOTE_TEMPLATES_CLEAN)]

    df = pd.DataFrame(
        {
            "customer_id": [f"C-{s:06d}" for s in serial],
            "full_name": names.astype(object),
            "email": emails,
            "phone": phones,
            "ssn": ssns,
            "street_address": addresses,
            "birth_date": birth.strftime("%Y-%m-%d"),
            "zip": zips,
            "sex": sex,
            "income": income,
            "credit_score": credit,
            "diagnosis": diagnosis,
            "segment": segment,
            "signup_date": signup.strftime("%Y-%m-%d"),
            "notes": notes,
        }
    )
    df.loc[rng.random(rows) < 0.06, "income"] = np.nan
    df.loc[rng.random(rows) < 0.08, "diagnosis"] = None
    df.loc[df["notes"] == "", "notes"] = None
    return df


def _zipf_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.8
    return w / w.sum()
