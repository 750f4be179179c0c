"""What QA takes out of the service: labeled cases for retraining, the case library, the
transparency report and statements of reasons."""

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from models.bundle import read_card
from models.policy_file import load_policy
from models.review_policy import AuditPolicy, ReviewPolicy
from models.scorer import BundleScorer
from serving.appeals import file_appeal
from serving.case_export import cases_html, write_cases_jsonl
from serving.case_library import list_cases, outcomes_now
from serving.cli import main as serve_main
from serving.data_hygiene import erase_seller
from serving.decision_store import record_decision
from serving.gold_set import create_gold_case, list_gold_cases
from serving.label_export import export_labels
from serving.review_actions import decide
from serving.review_queue import list_items
from serving.tables import utc_now
from serving.transparency import transparency_report
from tests.factories import make_new_decision, make_review_decision
from tests.serving.http_checks import as_, error_of
from tests.serving.review_steps import REVIEW, claim, decide_as

LABELS = ["fraud", "counterfeit", "regulated"]
CLEAN = dict.fromkeys(LABELS, False)
TWICE = ReviewPolicy(audit=AuditPolicy(rates={}, second_review_rate=1.0))


def _audited_fraud(session_factory: sessionmaker[Session], rate: float, listing_id: str) -> str:
    """An automatic allow drawn for audit at ``rate`` (recorded again until drawn) that QA
    finds to be a fraud; the decided qa item's id."""
    audit = AuditPolicy(rates={"auto_allow": rate})
    for attempt in range(200):
        decision = make_new_decision(listing_id=f"{listing_id}-{attempt}", audit=audit)
        record_decision(session_factory, decision)
        if list_items(session_factory, kind="qa", status="open"):
            break
    item = claim(session_factory, "quinn", kind="qa")
    decide(
        session_factory, item.id, "quinn", action="block", reason_code="scam-or-fraud",
        review=REVIEW, violations={**CLEAN, "fraud": True}, note="asks for a wire transfer",
    )  # fmt: skip
    return item.id


def _history(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """A gold case, an overturned appeal and a second-review disagreement a senior resolved."""
    source = _audited_fraud(session_factory, 1.0, "gold")
    gold = create_gold_case(session_factory, source, rationale="escrow scam wording",
                            created_by="lead", review=REVIEW)  # fmt: skip
    listing = make_review_decision(listing_id="appealed").listing | {"seller_id": "seller-9"}
    record_decision(session_factory, make_review_decision(listing_id="appealed", listing=listing))
    decide_as(session_factory, claim(session_factory, "ana").id, "ana", "block")
    file_appeal(session_factory, "appealed", reason="it is real", filed_by="seller-9",
                review=REVIEW)  # fmt: skip
    appeal = claim(session_factory, "bo", kind="appeal")
    decide_as(session_factory, appeal.id, "bo", "allow", note="receipt shows it is authentic")
    disputed = {**listing, "listing_id": "disputed", "market": "IN"}
    record_decision(
        session_factory, make_review_decision(listing_id="disputed", market="IN", listing=disputed)
    )
    first = claim(session_factory, "ana")
    decide(session_factory, first.id, "ana", action="allow", reason_code="no-violation",
           review=TWICE)  # fmt: skip
    second = claim(session_factory, "bo")
    decide(session_factory, second.id, "bo", action="block", reason_code="violation-confirmed",
           review=TWICE)  # fmt: skip
    senior = claim(session_factory, "sam", kind="senior")
    decide(session_factory, senior.id, "sam", action="block", reason_code="violation-confirmed",
           review=REVIEW, policy_clause="counterfeit.replicas")  # fmt: skip
    return {"gold": gold.id, "appeal": appeal.id, "senior": senior.id}


def test_exported_labels_load_with_their_source_weights_and_unjudged_labels(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _audited_fraud(session_factory, 0.25, "sampled")
    seller = make_review_decision(listing_id="blocked").listing | {"seller_id": "s-1"}
    record_decision(session_factory, make_review_decision(listing_id="blocked", listing=seller))
    decide_as(session_factory, claim(session_factory, "ana").id, "ana", "block", note="fake")
    path = tmp_path / "feedback.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        written = export_labels(session_factory, handle, review=REVIEW, category_label="regulated")
    assert written == 2
    rows = {row["source"]: row for row in map(json.loads, path.read_text().splitlines())}
    assert rows["qa"]["labels"] == {"fraud": 1, "counterfeit": 0, "regulated": 0,
                                    "regulated_category": None}  # fmt: skip
    assert (rows["qa"]["inclusion_probability"], rows["qa"]["weight"]) == (0.25, 4.0)
    assert rows["review"]["labels"]["counterfeit"] == 1, "the band the block confirmed"
    assert rows["review"]["labels"]["fraud"] is None, "a label the block did not judge"
    assert (rows["review"]["weight"], rows["review"]["inclusion_probability"]) == (1.0, None)
    assert (rows["review"]["seller_id"], rows["review"]["note"]) == ("s-1", "fake")

    loaded = load_labeled(path, load_mapping(resolve_mapping_path("feedback")))
    assert len(loaded.rows) == 2 and not loaded.problems
    review_row = next(r for r in loaded.rows if r.slices["source"] == "review")
    assert review_row.labels.value("fraud") is None and review_row.labels.value("counterfeit") == 1

    redacted = io.StringIO()
    export_labels(session_factory, redacted, review=REVIEW, category_label="regulated",
                  redact_key=b"k")  # fmt: skip
    again = io.StringIO()
    export_labels(session_factory, again, review=REVIEW, category_label="regulated",
                  redact_key=b"k")  # fmt: skip
    hidden = {row["source"]: row for row in map(json.loads, redacted.getvalue().splitlines())}
    assert hidden["review"]["seller_id"].startswith("p-")
    assert hidden["review"]["seller_id"] != "s-1" and hidden["review"]["note"] is None
    assert hidden["qa"]["decided_by"] != "quinn"
    assert redacted.getvalue() == again.getvalue(), "one key, the same pseudonyms"
    since = utc_now() + timedelta(minutes=1)
    nothing = io.StringIO()
    assert export_labels(session_factory, nothing, review=REVIEW, category_label=None,
                         since=since) == 0  # fmt: skip


def test_the_case_library_holds_vetted_cases_and_flags_outcome_changes(
    session_factory: sessionmaker[Session], demo_bundle: Path
) -> None:
    made = _history(session_factory)
    cases = list_cases(session_factory, REVIEW)
    assert {(c.source, c.id) for c in cases} == {
        ("gold", made["gold"]), ("appeal_overturned", made["appeal"]),
        ("senior_resolved", made["senior"]),
    }  # fmt: skip
    by_source = {case.source: case for case in cases}
    assert by_source["gold"].rationale == "escrow scam wording"
    assert by_source["appeal_overturned"].rationale == "receipt shows it is authentic"
    assert by_source["senior_resolved"].rationale.startswith("the listing breaks"), (
        "no note: the reason code's description"
    )
    assert "seller_id" not in by_source["appeal_overturned"].listing, "training material travels"
    assert [c.source for c in list_cases(session_factory, REVIEW, market="IN")] == [
        "senior_resolved"
    ]
    assert [c.id for c in list_cases(session_factory, REVIEW, label="fraud")] == [made["gold"]]
    chosen = list_cases(session_factory, REVIEW, clause="counterfeit.replicas")
    assert [c.id for c in chosen] == [made["senior"]]

    card = read_card(demo_bundle)
    policy = load_policy("marketplace-example", card.taxonomy)
    judged = outcomes_now(cases, BundleScorer(demo_bundle), policy)
    for case in judged:
        assert case.now_action in ("allow", "review", "block")
        expected = ("review" if case.now_action == "review"
                    else "agrees" if case.now_action == case.action else "differs")  # fmt: skip
        assert case.outcome_now == expected
    wallet = next(case for case in judged if case.source == "gold")
    assert wallet.now_action == "allow" and wallet.outcome_now == "differs", (
        "the model allows the wallet QA found to be a fraud: the case changes outcome"
    )

    buffer = io.StringIO()
    assert write_cases_jsonl(judged, buffer) == 3
    assert {json.loads(line)["source"] for line in buffer.getvalue().splitlines()} == {
        "gold", "appeal_overturned", "senior_resolved"
    }  # fmt: skip
    page = cases_html(judged, generated_at=utc_now(), policy_version=policy.version,
                      filters={"label": None}, standalone=True)  # fmt: skip
    assert "<style>" in page and "escrow scam wording" in page and "change outcome" in page


def test_the_transparency_report_counts_the_period(
    session_factory: sessionmaker[Session],
) -> None:
    made = _history(session_factory)
    block = make_new_decision(action="block", audit=AuditPolicy(rates={}), market="IN")
    record_decision(session_factory, block)
    now = utc_now()
    report = transparency_report(
        session_factory, LABELS, {"fraud": (0.1, 0.05)}, since=now - timedelta(hours=1),
        until=now + timedelta(minutes=1), versions=("policy-v1", "model-1"),
    )  # fmt: skip
    assert report.by_action == {"allow": 1, "review": 2, "block": 1}
    assert report.by_market == {"US": {"allow": 1, "review": 1}, "IN": {"review": 1, "block": 1}}
    assert report.automated == 2 and report.automated_share == pytest.approx(0.5)
    assert report.human_decisions == {"block": 2, "allow": 1}, "ana's two and sam's; no seconds"
    assert report.restrictions == {"automated": 1, "human": 2}
    appeals = report.appeals
    assert (appeals.received, appeals.decided, appeals.upheld, appeals.reversed) == (1, 1, 0, 1)
    assert report.quality.audited == 1 and made
    document = report.as_document()
    assert document["automated_share"] == 0.5 and isinstance(document["since"], str)
    json.dumps(document)


def test_reports_and_statements_over_http(client: TestClient, keys: dict[str, str]) -> None:
    listing = {"listing_id": "t-1", "title": "Hand-stitched leather wallet", "price": 40.0}
    decided = client.post("/v1/score", json=listing).json()
    report = client.get("/v1/reports/transparency", headers=as_(keys["root"]))
    assert report.status_code == 200, report.text
    assert report.json()["decisions"] == 1
    page = client.get("/v1/reports/transparency?format=html", headers=as_(keys["root"]))
    assert page.headers["content-type"].startswith("text/html") and "transparency" in page.text
    assert client.get("/v1/reports/transparency", headers=as_(keys["ana"])).status_code == 403
    earlier = client.get("/v1/reports/transparency?days=7&ending_days_ago=7",
                         headers=as_(keys["root"]))  # fmt: skip
    assert earlier.status_code == 200 and earlier.json()["decisions"] == 0, "before the listing"
    too_long = client.get("/v1/reports/transparency?days=4000", headers=as_(keys["root"]))
    assert too_long.status_code == 422 and error_of(too_long)["field"] == "days"

    found = client.get(f"/v1/decisions/{decided['decision_id']}/statement")
    assert found.status_code == 200, found.text
    statement = found.json()
    assert statement["automated_decision"] is True and statement["action"] == decided["action"]
    assert statement["facts"] and statement["decided_by"] == "automated means"
    assert client.get("/v1/decisions/nope/statement").status_code == 404


def test_the_export_commands_write_their_files(
    database_url: str, demo_bundle: Path, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    _history(session_factory)
    base = ["--database-url", database_url, "--bundle", str(demo_bundle)]
    runner = CliRunner()
    labels = runner.invoke(serve_main, [*base, "export-labels", "--redact", "--out",
                                        str(tmp_path / "labels.jsonl")])  # fmt: skip
    assert labels.exit_code == 0, labels.output
    assert "(redacted)" in labels.output
    assert len((tmp_path / "labels.jsonl").read_text().splitlines()) >= 6
    html = runner.invoke(serve_main, [*base, "cases", "export", "--format", "html", "--out",
                                      str(tmp_path / "cases.html")])  # fmt: skip
    assert html.exit_code == 0, html.output
    assert "exported 3 cases" in html.output
    assert "<style>" in (tmp_path / "cases.html").read_text()
    report = runner.invoke(serve_main, [*base, "transparency-report", "--out-dir",
                                        str(tmp_path / "report")])  # fmt: skip
    assert report.exit_code == 0, report.output
    document = json.loads((tmp_path / "report" / "transparency.json").read_text())
    assert document["appeals"]["reversed"] == 1
    assert "Appeals" in (tmp_path / "report" / "transparency.html").read_text()
    unbundled = runner.invoke(serve_main, ["--database-url", database_url, "cases", "export"])
    assert unbundled.exit_code != 0 and "--bundle" in unbundled.output
    assert "Traceback" not in unbundled.output


def test_erasing_a_seller_takes_their_gold_cases_and_cases_along(
    session_factory: sessionmaker[Session],
) -> None:
    made = _history(session_factory)
    create_gold_case(session_factory, made["appeal"], rationale="authentic", created_by="lead",
                     review=REVIEW)  # fmt: skip
    assert len(list_gold_cases(session_factory)) == 2
    counts = erase_seller(session_factory, "seller-9")
    assert counts.decisions >= 1
    remaining = list_gold_cases(session_factory)
    assert [case.source for case in remaining] == ["qa"], "the appeal's gold case went with it"
    sources = {case.source for case in list_cases(session_factory, REVIEW)}
    assert "appeal_overturned" not in sources
    assert "gold" not in {c.source for c in list_cases(session_factory, REVIEW, include_gold=False)}
