"""Review mode on both engines: nothing is sent until a person approves; approve / reject / edit from the command
line; expiry; cooldown and attempts; the outcome marts keep an unbiased intention-to-treat rate."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reactivation import campaign, demo
from reactivation.cli import app
from reactivation.ingest import ingest, sources_from_objects
from reactivation.review import model
from reactivation.review.model import ReviewPolicy, ReviewSettings
from reactivation.schedule import SendWindow
from reactivation.warehouse import Warehouse

from .conftest import prebuilt, run_models
from .test_cli import env_for

REVIEWED = 101  # the company whose owner reviews; 102 and 103 send as before
NOW = datetime.now(UTC).replace(microsecond=0)  # the CLI reads the real clock, so the whole story follows it
AS_OF = NOW.date() - timedelta(days=1)


@pytest.fixture
def review_env(settings, tmp_path, monkeypatch) -> Path:
    """The warehouse under test, built from demo data, with company 101 in review mode and the log channel."""
    for name, value in env_for(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REACTIVATION_COMPANY_SETTINGS", json.dumps({str(REVIEWED): {"review": "required"}}))
    monkeypatch.setenv("REACTIVATION_CHANNEL", "log")
    monkeypatch.setenv("REACTIVATION_LOG_CHANNEL_PATH", str(tmp_path / "sent.jsonl"))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("REACTIVATION_REVIEW", raising=False)
    monkeypatch.delenv("REACTIVATION_REVIEW_CADENCE", raising=False)
    prebuilt(settings, "review", build_review_warehouse)
    return tmp_path / "sent.jsonl"


def build_review_warehouse(settings) -> None:
    """Demo data, ingested and built as of yesterday: every review test starts from a copy of it."""
    data = demo.generate(n_clients=240, years=2, seed=21, as_of=AS_OF)
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                        records=data.records), "demo")  # fmt: skip
    run_models(settings, as_of=AS_OF)


def plan_and_queue(settings, now: datetime = NOW) -> campaign.PlanReport:
    run_settings = campaign.RunSettings.from_env()
    with Warehouse.connect(settings) as wh:
        report = campaign.plan(wh, campaign.company_ids(wh, None), run_settings, now)
        campaign.queue(wh, report)
    return report


def rows(settings, company_id: int | None = None) -> list[dict]:
    with Warehouse.connect(settings) as wh:
        frame = wh.query_df("select * from reactivation_messages order by message_key")
    found = frame.to_dict("records")
    return [r for r in found if company_id is None or r["company_id"] == company_id]


def sent_keys(path: Path) -> set[str]:
    return {json.loads(line)["message_key"] for line in path.read_text().splitlines()} if path.exists() else set()


def deliver(settings, now: datetime):
    with Warehouse.connect(settings) as wh:
        return campaign.deliver_due(wh, campaign.RunSettings.from_env(), None, now=now)


def invoke(settings, *args: str):
    result = CliRunner().invoke(app, ["review", *args], env=env_for(settings))
    return result


def test_review_mode_sends_only_what_a_person_approved(settings, review_env) -> None:
    plan_and_queue(settings)
    reviewed = rows(settings, REVIEWED)
    treated = [r for r in reviewed if not r["is_holdout"]]
    assert len(treated) >= 5
    assert {r["status"] for r in treated} == {"awaiting_review"}
    assert all(r["scheduled_at"] is None or r["scheduled_at"] != r["scheduled_at"] for r in treated)
    assert {r["status"] for r in reviewed if r["is_holdout"]} <= {"suppressed"}
    others = [r for r in rows(settings) if r["company_id"] != REVIEWED and not r["is_holdout"]]
    assert others and {r["status"] for r in others} == {"pending"}  # companies not in review mode: as before

    # delivery once every message of company 102 is due: those go out, nothing of the reviewed company does
    in_102 = [r for r in others if r["company_id"] == 102]
    deliver(settings, max(r["scheduled_at"] for r in in_102))
    treated_keys = {r["message_key"] for r in treated}
    assert not sent_keys(review_env) & treated_keys
    assert sent_keys(review_env) >= {r["message_key"] for r in in_102}

    listed = invoke(settings, "list", "--company", str(REVIEWED), "--format", "json")
    assert listed.exit_code == 0, listed.output
    batch = json.loads(listed.stdout)
    assert {m["message_key"] for m in batch} == treated_keys  # holdout rows never listed
    phones = {r["message_key"]: r["phone"] for r in treated}
    for message in batch:
        assert set(message) >= {"message_key", "client", "service", "tone", "interval_level", "days_since", "text"}
        assert message["client"]["name"] and message["text"] and message["days_since"] > 0
        digits = "".join(ch for ch in phones[message["message_key"]] if ch.isdigit())
        assert message["client"]["phone"].endswith(digits[-4:]) and digits[:-4] not in message["client"]["phone"]
    table = invoke(settings, "list", "--company", str(REVIEWED))
    assert table.exit_code == 0 and f"{len(batch)} message(s) awaiting review" in table.stdout
    as_csv = invoke(settings, "list", "--format", "csv").stdout.splitlines()
    assert as_csv[0].startswith("message_key,") and len(as_csv) > len(batch)

    keys = sorted(treated_keys)
    approved, rejected = keys[:2], keys[2]
    approve = invoke(settings, "approve", "--company", str(REVIEWED), "--key", approved[0], "--key", approved[1])
    assert approve.exit_code == 0, approve.output
    reject = invoke(settings, "reject", "--key", rejected, "--reason", "client asked for a pause")
    assert reject.exit_code == 0, reject.output
    again = invoke(settings, "reject", "--key", approved[0])
    assert again.exit_code == 1 and "not awaiting review (it is pending)" in again.output

    after = {r["message_key"]: r for r in rows(settings, REVIEWED)}
    window = SendWindow()
    for key in approved:
        assert after[key]["status"] == "pending"
        approved_at = after[key]["reviewed_at"]
        from reactivation.schedule import schedule_send

        assert after[key]["scheduled_at"] == schedule_send(approved_at, "Europe/Moscow", "RU", window, seed=key)
    assert after[rejected]["status"] == "rejected" and after[rejected]["review_note"] == "client asked for a pause"
    assert {after[k]["status"] for k in keys[3:]} == {"awaiting_review"}

    latest = max(after[k]["scheduled_at"] for k in approved)
    deliver(settings, latest)  # (other companies' messages due by then go too: the wall clock set `latest`)
    lines = [json.loads(line)["message_key"] for line in review_env.read_text().splitlines()]
    assert sorted(k for k in lines if k in treated_keys) == sorted(approved)  # exactly the approved ones, once each


def test_approve_all_schedules_the_whole_batch_and_refuses_other_companies_keys(settings, review_env) -> None:
    plan_and_queue(settings)
    other_key = next(r["message_key"] for r in rows(settings, 102) if not r["is_holdout"])
    holdout_key = next((r["message_key"] for r in rows(settings, REVIEWED) if r["is_holdout"]), None)
    refused = invoke(settings, "approve", "--company", str(REVIEWED), "--key", other_key)
    assert refused.exit_code == 1 and "belongs to company 102" in refused.output
    if holdout_key:
        assert "never sent" in invoke(settings, "approve", "--company", str(REVIEWED), "--key", holdout_key).output
    whole = invoke(settings, "approve", "--company", str(REVIEWED), "--all")
    assert whole.exit_code == 0, whole.output
    treated = [r for r in rows(settings, REVIEWED) if not r["is_holdout"]]
    assert {r["status"] for r in treated} == {"pending"} and f"approved {len(treated)} message(s)" in whole.output
    assert json.loads(invoke(settings, "list", "--format", "json").stdout) == []


def test_edit_reruns_the_guardrails_and_refuses_with_the_reason(settings, review_env, tmp_path) -> None:
    plan_and_queue(settings)
    row = next(r for r in rows(settings, REVIEWED) if not r["is_holdout"])
    key, text = row["message_key"], row["message_text"]
    without_opt_out = tmp_path / "bad.txt"
    without_opt_out.write_text("Здравствуйте! Ждём вас снова в Салон «Лаванда».", encoding="utf-8")
    bad = invoke(settings, "edit", "--key", key, "--text-file", str(without_opt_out))
    assert bad.exit_code == 1 and "no_opt_out" in bad.output and "opt-out sentence" in bad.output
    too_long = tmp_path / "long.txt"
    too_long.write_text(text + " " + "очень " * 100, encoding="utf-8")
    assert "too_long" in invoke(settings, "edit", "--key", key, "--text-file", str(too_long)).output
    english = tmp_path / "en.txt"
    english.write_text("Hello! We miss you. Reply STOP to opt out.", encoding="utf-8")
    assert invoke(settings, "edit", "--key", key, "--text-file", str(english)).exit_code == 1
    assert rows(settings, REVIEWED)[0]["message_text"] is not None
    good = tmp_path / "good.txt"
    edited = "Добрый день! " + text
    good.write_text(edited, encoding="utf-8")
    ok = invoke(settings, "edit", "--key", key, "--text-file", str(good))
    assert ok.exit_code == 0, ok.output
    stored = next(r for r in rows(settings) if r["message_key"] == key)
    assert stored["message_text"] == edited and stored["status"] == "awaiting_review"


def test_unreviewed_rows_expire_without_cooldown_while_rejected_and_waiting_rows_block_reproposal(
    settings, review_env
) -> None:
    plan_and_queue(settings)
    treated = [r for r in rows(settings, REVIEWED) if not r["is_holdout"]]
    rejected = treated[0]
    with Warehouse.connect(settings) as wh:
        assert model.reject(wh, [rejected["message_key"]], NOW, "not now").changed == [rejected["message_key"]]
    # the next day, still waiting: the models keep every proposed client out (cooldown), nobody is proposed twice
    run_models(settings, as_of=AS_OF + timedelta(days=1))
    with Warehouse.connect(settings) as wh:
        cooled = wh.fetchall(
            "select client_id from due_client_exclusions where company_id = %s and reason = 'cooldown'", [REVIEWED]
        )
        cooled = {r[0] for r in cooled}
    # every win-back client proposed is held back (a rebook client is not due, so it has no exclusion row)
    assert {r["client_id"] for r in treated if r["campaign"] == "win_back"} <= cooled
    plan_and_queue(settings, NOW + timedelta(days=1))
    assert len([r for r in rows(settings, REVIEWED) if not r["is_holdout"]]) == len(treated)

    # past review_expiry_days (7): the next queueing expires them; the models then propose those clients again
    later = NOW + timedelta(days=8)
    plan_and_queue(settings, later)  # (planned against the old models: the expiry happens at queueing)
    statuses = {r["message_key"]: r["status"] for r in rows(settings, REVIEWED)}
    assert statuses[rejected["message_key"]] == "rejected"
    assert {statuses[r["message_key"]] for r in treated[1:]} == {"review_expired"}
    run_models(settings, as_of=AS_OF + timedelta(days=8))
    with Warehouse.connect(settings) as wh:
        reasons = wh.query_df(
            "select client_id, reason from due_client_exclusions where company_id = %s", [REVIEWED]
        ).to_dict("records")
        again = {r[0] for r in wh.fetchall(
            "select client_id from message_candidates where company_id = %s", [REVIEWED])}  # fmt: skip
    expired_clients = {r["client_id"] for r in treated[1:]}
    assert not expired_clients & {r["client_id"] for r in reasons if r["reason"] in ("cooldown", "max_attempts")}
    assert rejected["client_id"] in {r["client_id"] for r in reasons if r["reason"] == "cooldown"}
    assert expired_clients & again  # proposed again, as a new attempt
    plan_and_queue(settings, later + timedelta(hours=1))
    reproposed = [r for r in rows(settings, REVIEWED) if r["client_id"] in expired_clients and r["attempt"] == 2]
    assert reproposed and {r["status"] for r in reproposed} <= {"awaiting_review", "suppressed"}


def test_outcome_marts_keep_rejected_rows_in_the_intention_to_treat_rate(settings, review_env) -> None:
    plan_and_queue(settings)
    treated = sorted(  # the funnel's win-back columns are checked below (rebook rows have columns of their own)
        r["message_key"] for r in rows(settings, REVIEWED) if not r["is_holdout"] and r["campaign"] == "win_back"
    )
    with Warehouse.connect(settings) as wh:
        model.reject(wh, treated[:3], NOW, None)
        model.approve(wh, NOW, SendWindow(), 7, company_id=REVIEWED, keys=treated[3:5])
    deliver(settings, max(r["scheduled_at"] for r in rows(settings, REVIEWED) if r["status"] == "pending"))
    run_models(settings, as_of=AS_OF + timedelta(days=2))
    with Warehouse.connect(settings) as wh:
        outcomes = wh.query_df(
            "select message_key, status, is_exposed, exposed_at from message_outcomes where company_id = %s",
            [REVIEWED],
        ).set_index("message_key")
        performance = wh.query_df(
            "select sum(messages), sum(sent_messages), sum(rejected_messages) from campaign_performance"
            " where company_id = %s", [REVIEWED]
        ).iloc[0].tolist()  # fmt: skip
        funnel = (
            wh.query_df(
                "select sum(rejected), sum(awaiting_review), sum(queued) from reactivation_funnel"
                " where company_id = %s",
                [REVIEWED],
            )
            .iloc[0]
            .tolist()
        )
    assert outcomes.loc[treated[:3], "is_exposed"].all()  # rejected rows exposed from their queue time (ITT)
    assert not outcomes.loc[treated[5:], "is_exposed"].any()  # still awaiting: not exposed yet
    assert [int(v) for v in performance] == [5, 2, 3]
    assert [int(v) for v in funnel] == [3, len(treated) - 5, len(treated)]


def test_weekly_cadence_proposes_only_on_its_weekday() -> None:
    policy = ReviewPolicy(required=True, cadence="weekly:mon")
    monday = date(2026, 11, 23)
    assert policy.proposes_on(monday) and not any(policy.proposes_on(monday + timedelta(days=d)) for d in range(1, 7))
    assert ReviewPolicy(required=True).proposes_on(monday + timedelta(days=2))
    settings = ReviewSettings.from_env({
        "REACTIVATION_REVIEW": "required", "REACTIVATION_REVIEW_CADENCE": "weekly:friday",
        "REACTIVATION_COMPANY_SETTINGS": json.dumps({"101": {"review": "off"}, "102": {"review_cadence": "daily"}}),
    })  # fmt: skip
    assert settings.for_company(101) == ReviewPolicy(required=False, cadence="weekly:fri")
    assert settings.for_company(102) == ReviewPolicy(required=True, cadence="daily")
    assert settings.for_company(103) == ReviewPolicy(required=True, cadence="weekly:fri")
    assert settings.expiry_days == 7
    for bad in ({"REACTIVATION_REVIEW": "maybe"}, {"REACTIVATION_REVIEW_CADENCE": "weekly:funday"}):
        with pytest.raises(ValueError, match="REACTIVATION_REVIEW"):
            ReviewSettings.from_env(bad)


def test_a_weekly_company_gets_no_batch_on_other_days(settings, review_env, monkeypatch) -> None:
    other_day = (AS_OF + timedelta(days=1)).strftime("%a").lower()
    monkeypatch.setenv("REACTIVATION_COMPANY_SETTINGS", json.dumps(
        {str(REVIEWED): {"review": "required", "review_cadence": f"weekly:{other_day}"}}))  # fmt: skip
    report = plan_and_queue(settings)
    assert not [r for r in report.rows if r.company_id == REVIEWED] and rows(settings, 102)
    today = AS_OF.strftime("%a").lower()
    monkeypatch.setenv("REACTIVATION_COMPANY_SETTINGS", json.dumps(
        {str(REVIEWED): {"review": "required", "review_cadence": f"weekly:{today}"}}))  # fmt: skip
    plan_and_queue(settings)
    assert {r["status"] for r in rows(settings, REVIEWED) if not r["is_holdout"]} == {"awaiting_review"}
