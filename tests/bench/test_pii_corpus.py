"""The labelled PII corpus is reproducible, and the scan meets the issue's targets on a small instance of it."""

from __future__ import annotations

import socket

import pytest

from bench.pii import evaluate, scan_corpus
from bench.pii_corpus import KINDS, corpus


def test_the_corpus_is_deterministic_and_covers_every_kind():
    a, b = corpus(tables=4, rows=60, columns=13), corpus(tables=4, rows=60, columns=13)
    assert [t.frame.equals(u.frame) for t, u in zip(a, b)] == [True] * 4
    assert {label.kind for t in a for label in t.labels.values()} == set(KINDS)
    names = [name for t in a for name in t.labels]
    assert any(n.startswith("c") and n[1:].isdigit() for n in names)
    assert any(not (n.startswith("c") and n[1:].isdigit()) for n in names)


@pytest.fixture(scope="module")
def small_corpus_result():
    def no_network(*_a, **_k):
        raise OSError("network access attempted during a scan")

    original = socket.socket.connect
    socket.socket.connect = no_network
    try:
        return evaluate(scan_corpus(corpus(tables=4, rows=300, columns=13, seed=5), sample_size=100))
    finally:
        socket.socket.connect = original


@pytest.mark.slow
def test_every_direct_identifier_of_the_corpus_is_found(small_corpus_result):
    direct = small_corpus_result["direct_identifier"]
    missed = [m for m in small_corpus_result["misses"] if m["truth"][1] == "direct_identifier"]
    assert direct["recall"] == 1.0, missed
    assert direct["precision"] >= 0.95


@pytest.mark.slow
def test_hard_negatives_are_not_flagged_as_direct_identifiers(small_corpus_result):
    assert small_corpus_result["hard_negatives"] > 10
    assert small_corpus_result["hard_negatives_flagged_direct"] == 0
