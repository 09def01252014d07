"""The quality gate: the rules engine on the labelled corpus (tests/data/corpus.jsonl) at issue 13's bar."""

from __future__ import annotations

import json

import pytest
from labelled_sets import DATA, check_labels, load

from carsbot.core.extraction.rules import RulesExtractor, prefilter
from carsbot_dev import evaluation as ev

CORPUS = DATA / "corpus.jsonl"


@pytest.fixture(scope="module")
def posts() -> list[ev.LabelledPost]:
    return load("corpus")


@pytest.fixture(scope="module")
def report(posts: list[ev.LabelledPost]) -> ev.EvalReport:
    return ev.run_evaluation(posts, RulesExtractor().extract)


def test_corpus_shape(posts: list[ev.LabelledPost]) -> None:
    positives = [p for p in posts if p.is_sale]
    negatives = [p for p in posts if not p.is_sale]
    assert len(posts) >= 200
    assert len(positives) >= 150
    assert len(negatives) >= 50
    assert len({p.id for p in posts}) == len(posts)
    reasons = {p.expected.get("reason") for p in negatives}
    for reason in ("buy_request", "parts", "tyres", "rental", "service", "credit", "sold", "coming_soon",
                   "giveaway", "news", "question"):  # fmt: skip
        assert reason in reasons


def test_corpus_labels_are_valid_listing_fields(posts: list[ev.LabelledPost]) -> None:
    check_labels(posts, complete=False)


def test_rules_engine_meets_issue_13_thresholds(report: ev.EvalReport) -> None:
    failures = ev.check_thresholds(report, ev.Thresholds())
    assert failures == [], ev.format_report(report, show_mismatches=40)


def test_rules_engine_makes_no_llm_calls(report: ev.EvalReport) -> None:
    assert report.llm_calls == 0 and report.input_tokens == 0 and report.output_tokens == 0


def test_prefilter_rates_on_the_corpus(posts: list[ev.LabelledPost]) -> None:
    rates = ev.prefilter_rates(posts, prefilter)
    assert rates.negative_rejection >= 0.80
    assert rates.positives_rejected == 0, rates.rejected_positives  # the prefilter rejects no sale


def test_corpus_is_plain_json_lines() -> None:
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        obj = json.loads(line)
        assert set(obj) == {"id", "text", "expected", "tags"}, n
