"""``carsbot extract`` and ``carsbot eval`` through the real entry point ``carsbot.cli.main``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from carsbot.cli import main

CONTRACT_KEYS = [
    "id",
    "is_car_sale",
    "brand",
    "model",
    "year",
    "price",
    "market_price",
    "mileage",
    "engine_volume",
    "transmission",
    "drive",
    "owners_count",
    "city",
    "phones",
    "usernames",
]
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"

SALE = (
    "Продам Тойоту Камри 2018 г.в., 2.5 АКПП, пробег 98 т.км, цена 1.95 млн. "
    "Казань. 8 (912) 345-67-89, @ivan_auto"
)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, object]], str]:
    code = main(argv)
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, lines, captured.err


def test_extract_file_exact_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "posts.jsonl"
    src.write_text(
        json.dumps({"id": "p1", "text": SALE, "channel": "cars_kzn"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": 2, "text": "Куплю авто в любом состоянии"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    code, out, _ = run_cli(["extract", str(src), "--engine", "rules"], capsys)
    assert code == 0
    assert len(out) == 2
    first, second = out
    assert list(first)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert first == {
        "id": "p1",
        "is_car_sale": True,
        "brand": "Toyota",
        "model": "Camry",
        "year": 2018,
        "price": 1_950_000,
        "market_price": None,
        "mileage": 98_000,
        "engine_volume": 2.5,
        "transmission": "automatic",
        "drive": None,
        "owners_count": None,
        "city": "Казань",
        "phones": ["+79123456789"],
        "usernames": ["ivan_auto"],
        "channel": "cars_kzn",  # other input keys are echoed back; "text" is not
    }
    assert list(second) == CONTRACT_KEYS
    assert second["id"] == 2 and second["is_car_sale"] is False and second["phones"] == []


def test_extract_output_utf8_not_ascii_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps({"id": "c", "text": SALE}, ensure_ascii=False) + "\n", encoding="utf-8")
    main(["extract", str(src), "--engine", "rules"])
    assert '"city": "Казань"' in capsys.readouterr().out


def test_extract_bad_lines_produce_error_objects(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        "this is not json",
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "num-text", "text": 42}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "empty", "text": ""}),
        json.dumps({"id": "emoji", "text": "🚗🔥😍"}),
        json.dumps({"id": "huge", "text": SALE + " ок" * 20_000}, ensure_ascii=False),
        json.dumps({"id": "ok", "text": SALE}, ensure_ascii=False),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = run_cli(["extract", "--engine", "rules"], capsys)
    assert code == 0
    assert len(out) == 8  # the blank line is skipped
    assert out[0] == {"id": None, "error": out[0]["error"]}
    assert str(out[0]["error"]).startswith("line 1: not valid JSON")
    assert out[1] == {"id": "no-text", "error": "line 2: missing 'text'"}
    assert out[2] == {"id": "num-text", "error": "line 3: 'text' must be a string, got int"}
    assert out[3] == {"id": None, "error": "line 4: expected a JSON object, got list"}
    assert out[4]["id"] == "empty" and out[4]["is_car_sale"] is False
    assert out[5]["id"] == "emoji" and out[5]["is_car_sale"] is False
    assert out[6]["id"] == "huge" and out[6]["is_car_sale"] is True and out[6]["brand"] == "Toyota"
    assert out[7]["id"] == "ok" and out[7]["phones"] == ["+79123456789"]


def test_extract_reads_bytes_from_stdin_buffer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = (
        json.dumps({"id": "b", "text": SALE}, ensure_ascii=False) + "\n"
    ).encode() + b'{"id": "bad", "text": "\xff\xfe"}\n'
    stdin = io.TextIOWrapper(io.BytesIO(payload), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, _ = run_cli(["extract", "--engine", "rules"], capsys)
    assert code == 0
    assert out[0]["brand"] == "Toyota"
    assert out[1]["id"] == "bad" and out[1]["is_car_sale"] is False  # undecodable bytes replaced, not a crash


def test_extract_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["extract", str(tmp_path / "missing.jsonl"), "--engine", "rules"])
    assert code == 2
    assert "cannot read" in capsys.readouterr().err


def test_eval_on_corpus_passes_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(CORPUS), "--engine", "rules", "--check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "classification: precision" in out
    assert "false-fill rate" in out
    assert "LLM: 0.000 calls/post" in out
    assert "prefilter: rejects" in out
    assert "check: passed" in out


def test_eval_fails_names_missed_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "tiny.jsonl"
    rows = [
        {"id": "1", "text": SALE, "expected": {"is_car_sale": True, "brand": "Toyota", "year": 2017}},
        {"id": "2", "text": "Куплю авто", "expected": {"is_car_sale": False}},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    code = main(["eval", str(corpus), "--min-field", "year=0.95", "--min-f1", "0.9"])
    out = capsys.readouterr().out
    assert code == 1
    assert "check: FAILED" in out and "year accuracy 0.000 < 0.95 (0/1)" in out
    assert "classification F1" not in out.split("check: FAILED")[1]  # F1 is 1.0: not reported as failed


def test_eval_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text(
        json.dumps(
            {"id": "1", "text": SALE, "expected": {"is_car_sale": True, "brand": "Toyota"}},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    code = main(["eval", str(corpus), "--json", "--show-errors", "3"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["classification"]["f1"] == 1.0
    assert data["fields"]["brand"]["accuracy"] == 1.0
    assert data["llm"]["calls_per_post"] == 0.0
    assert data["check"] == {"passed": True, "failures": []}
    assert data["prefilter"]["positives"] == 1


def test_eval_bad_corpus_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert main(["eval", str(bad)]) == 2
    assert "line 1: not valid JSON" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["eval", str(CORPUS), "--min-field", "colour=0.5"]) == 2


def test_eval_show_errors_names_rule_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each miss comes with the rule that produced the value and the span of text it read."""
    corpus = tmp_path / "tiny.jsonl"
    rows = [  # labels deliberately wrong, so the engine's values are misses
        {"id": "p1", "text": "Продам Kia Rio 2017, пробег 98 т.км, цена 850 тыс. Казань",
         "expected": {"is_car_sale": True, "price": 900000, "mileage": 90000, "city": "Самара"}},
        {"id": "n1", "text": "Куплю Kia Rio 2017, бюджет до 900 тыс", "expected": {"is_car_sale": True}},
    ]  # fmt: skip
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    code = main(["eval", str(corpus), "--engine", "rules", "--check", "--show-errors"])
    out = capsys.readouterr().out
    assert code == 1
    assert "p1 price: expected 900000 got 850000  <- price:keyword «850 тыс.»" in out
    assert "p1 mileage: expected 90000 got 98000  <- mileage:keyword «пробег 98 т.км»" in out
    assert 'p1 city: expected "Самара" got "Казань"  <- city:name «Казань»' in out
    assert "n1 is_car_sale: expected true got false  <- buy_request «куплю»" in out
    # a labelled sale rejected by the prefilter fails the check and names the rule that rejected it
    assert "prefilter rejected sale n1  <- buy_request «куплю»" in out
    assert "the prefilter rejects 1 labelled sale(s): n1" in out
