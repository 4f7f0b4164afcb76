"""Retention that stays done and leaves no copy behind, on both engines, on demo-generated warehouses."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from reactivation import demo, optout, quality
from reactivation.channels import ChannelSettings, LogChannel, OutgoingMessage
from reactivation.ingest import close_batch, ingest, ingest_dir, register_batch, sources_from_objects
from reactivation.outbox import OutboxRow, enqueue
from reactivation.retention import RetentionReport, RetentionSettings, apply_retention, run_retention
from reactivation.warehouse import Warehouse

from .conftest import drop, make_settings, record_dbt_commands, run_models
from .test_incremental import COMPARED, assert_same, snapshot

AS_OF = date(2026, 11, 25)
NOW = datetime(2027, 5, 24, 12, 0, tzinfo=UTC)  # half a year after the data ends: many clients are lost by then
RAW_TABLES = {  # table: key columns
    "raw_yclients_clients": ["company_id", "id"],
    "raw_yclients_records": ["company_id", "id"],
    "raw_yclients_record_services": ["company_id", "record_id", "position"],
    "reactivation_messages": ["message_key"],
    "raw_ingest_batches": ["batch_id"],
}


def demo_data(n_clients: int = 300) -> demo.DemoData:
    return demo.generate(n_clients=n_clients, years=2, seed=17, as_of=AS_OF)


def old_messages(data: demo.DemoData) -> list[OutboxRow]:
    """A message a year before NOW to every tenth client, its text naming the client."""
    sent = NOW - timedelta(days=365)
    rows = []
    for card in data.clients[::10]:
        rows.append(
            OutboxRow(
                message_key=f"{card['company_id']}:{card['id']}:2026-01-01:1", company_id=card["company_id"],
                client_id=card["id"], cycle_id=date(2026, 1, 1), attempt=1, as_of_date=sent.date(), service_id=None,
                tone="gentle", interval_level="personal", variant="a", is_holdout=False, channel="log", locale="ru",
                phone=card.get("phone"), message_text=f"{card.get('name')}, ждём вас. Ответьте СТОП.",
                template_params=json.dumps({"name": card.get("name")}, ensure_ascii=False), prompt=None,
                composer="template", fallback_reason=None, scheduled_at=sent, status="pending", created_at=sent,
                updated_at=sent,
            )
        )  # fmt: skip
    return rows


def contacts_of_anonymised_clients(wh: Warehouse) -> tuple[int, int, int]:
    """How many rows `int_client_contacts` holds for clients whose card retention anonymised, and how many of
    those still have a name and a raw phone (both should be 0)."""
    return wh.fetchall(
        "select count(*), count(c.client_name), count(c.phone_raw) from int_client_contacts c"
        " join raw_yclients_clients r on r.company_id = c.company_id and r.id = c.client_id"
        " where r.anonymised_at is not null"
    )[0]


def load(wh: Warehouse, data: demo.DemoData) -> None:
    ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                    records=data.records), "demo")  # fmt: skip
    enqueue(wh, old_messages(data))


# ---------- the reference: the row-by-row retention as it was before it became set-based (kept verbatim)
def _reference_stale_clients(wh: Warehouse, cutoff: datetime, lost_before: datetime) -> list[tuple[int, int]]:
    return wh.fetchall(
        """
        with activity as (
            select company_id, client_id, max(coalesce(last_change_at, visit_at)) as last_seen,
                   max(case when attendance = 1 and not coalesce(deleted, false) then visit_at end) as last_visit,
                   bool_and(anonymised_at is not null) as is_anonymised
            from raw_yclients_records where client_id is not null group by company_id, client_id
        ),
        cards as (
            select company_id, id as client_id, _loaded_at, anonymised_at is not null as is_anonymised
            from raw_yclients_clients
        ),
        messaged as (
            select company_id, client_id, max(created_at) as last_message
            from reactivation_messages group by company_id, client_id
        ),
        known as (
            select company_id, client_id from cards
            union
            select company_id, client_id from activity
        )
        select known.company_id, known.client_id
        from known
        left join cards on cards.company_id = known.company_id and cards.client_id = known.client_id
        left join activity on activity.company_id = known.company_id and activity.client_id = known.client_id
        left join messaged on messaged.company_id = known.company_id and messaged.client_id = known.client_id
        where not (coalesce(cards.is_anonymised, true) and coalesce(activity.is_anonymised, true))
            and coalesce(activity.last_seen, cards._loaded_at) < %s
            and (activity.last_visit is null or activity.last_visit < %s)
            and (messaged.last_message is null or messaged.last_message < %s)
        order by known.company_id, known.client_id
        """,
        [cutoff, lost_before, cutoff],
    )


def _reference_scrub(payload: object, keys: tuple[str, ...]) -> str:
    data = payload if isinstance(payload, dict) else json.loads(payload)
    for key in keys:
        if key in data:
            data[key] = None
    client = data.get("client")
    if isinstance(client, dict):
        for key in ("name", "phone"):
            if key in client:
                client[key] = None
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def reference_retention(wh: Warehouse, settings: RetentionSettings, now: datetime) -> RetentionReport:
    cutoff = now - timedelta(days=settings.retention_days)
    lost_before = now - timedelta(days=settings.lost_after_days)
    report = RetentionReport()
    with wh.transaction():
        report.messages = wh.fetchone(
            "select count(*) from reactivation_messages where created_at < %s and anonymised_at is null", [cutoff]
        )[0]
        wh.execute(
            "update reactivation_messages set message_text = null, prompt = null, template_params = null,"
            " phone = null, anonymised_at = %s where created_at < %s and anonymised_at is null",
            [now, cutoff],
        )
        batch_id = None
        for company_id, client_id in _reference_stale_clients(wh, cutoff, lost_before):
            report.clients += 1
            if batch_id is None:
                batch_id = register_batch(wh, "retention", now)
            card = wh.fetchone(
                "select payload from raw_yclients_clients where company_id = %s and id = %s and anonymised_at is null",
                [company_id, client_id],
            )
            if card is not None:
                wh.execute(
                    "update raw_yclients_clients set name = null, phone = null, payload = %s, anonymised_at = %s,"
                    " _batch_id = %s where company_id = %s and id = %s",
                    [_reference_scrub(card[0], ("name", "phone")), now, batch_id, company_id, client_id],
                )
            for record_id, payload in wh.fetchall(
                "select id, payload from raw_yclients_records where company_id = %s and client_id = %s"
                " and anonymised_at is null",
                [company_id, client_id],
            ):
                report.records += 1
                wh.execute(
                    "update raw_yclients_records set client_name = null, client_phone = null, payload = %s,"
                    " anonymised_at = %s, _batch_id = %s where company_id = %s and id = %s",
                    [_reference_scrub(payload, ()), now, batch_id, company_id, record_id],
                )
        if batch_id is not None:
            close_batch(wh, batch_id, {"anonymised": {"clients": report.clients, "records": report.records}})
    return report


def raw_rows(wh: Warehouse, table: str) -> pd.DataFrame:
    frame = wh.query_df(f"select * from {table} order by {', '.join(RAW_TABLES[table])}")
    if "payload" in frame.columns:  # the same JSON, whatever its spacing or key order
        frame["payload"] = [None if p is None else json.loads(p) if isinstance(p, str) else p for p in frame["payload"]]
    if "summary" in frame.columns:
        frame["summary"] = [None if s is None else json.loads(s) for s in frame["summary"]]
    if table == "raw_ingest_batches":  # an ingest starts at the wall clock; retention at the `now` it is given
        frame.loc[frame["source"] != "retention", "started_at"] = None
    return frame.drop(columns=["finished_at", "_loaded_at"], errors="ignore")  # wall clock: not part of the result


def test_set_based_retention_leaves_every_raw_table_as_the_row_by_row_reference_did(engine: str) -> None:
    data = demo_data()
    ours, theirs = make_settings(engine, "ours"), make_settings(engine, "reference")
    try:
        with Warehouse.connect(ours) as wh, Warehouse.connect(theirs) as ref:
            for target in (wh, ref):
                load(target, data)
            lines = raw_rows(wh, "raw_yclients_record_services")
            reports = []
            for now in (NOW, NOW + timedelta(days=40)):  # a second run finds what the first one left
                reports.append((apply_retention(wh, RetentionSettings(), now),
                                reference_retention(ref, RetentionSettings(), now)))  # fmt: skip
            tables = {t: (raw_rows(wh, t), raw_rows(ref, t)) for t in RAW_TABLES}
    finally:
        drop(ours)
        drop(theirs)
    first, _ = reports[0]
    assert first.clients > 20 and first.records > 100 and first.messages > 10  # the data exercises every branch
    for new, old in reports:
        assert (new.messages, new.clients, new.records) == (old.messages, old.clients, old.records)
    for table, (new, old) in tables.items():
        pd.testing.assert_frame_equal(new, old, obj=table)
    # service lines hold no personal data: retention leaves them, and their batch, as ingest wrote them
    pd.testing.assert_frame_equal(tables["raw_yclients_record_services"][0], lines)


def anonymised_clients(wh: Warehouse) -> set[tuple[int, int]]:
    """(company, client) of every anonymised card and of every card-less client whose records all are."""
    return set(wh.fetchall(
        "select company_id, id from raw_yclients_clients where anonymised_at is not null"
        " union select company_id, client_id from raw_yclients_records where client_id is not null"
        " group by company_id, client_id having bool_and(anonymised_at is not null)"))  # fmt: skip


def stale_people(wh: Warehouse, data: demo.DemoData) -> tuple[set[str], set[str]]:
    """Names and phone digits of the anonymised clients that no live client shares or contains ("Денис" is in
    "Денис Белов"): finding those is no leak. A client without a card counts once all their records are."""
    anonymised = anonymised_clients(wh)
    names: dict[str, set[bool]] = {}
    phones: dict[str, set[bool]] = {}
    for card in data.clients:
        gone = (card["company_id"], card["id"]) in anonymised
        if card.get("name"):
            names.setdefault(card["name"].strip(), set()).add(gone)
        digits = optout.normalise_phone(card.get("phone"))
        if digits and len(digits) >= 10:
            phones.setdefault(digits, set()).add(gone)
    live = [n for n, g in names.items() if False in g]
    unique = {n for n, g in names.items() if g == {True} and not any(n in other for other in live)}
    return unique, {p for p, g in phones.items() if g == {True}}


_DIGIT_RUN = re.compile(r"\+?\d[\d \-()]{8,}\d")


def leaks(wh: Warehouse, names: set[str], phones: set[str]) -> dict[str, int]:
    """Every text or JSON column of every table and view in the warehouse, searched for those names and phones."""
    columns = wh.fetchall(
        "select table_name, column_name from information_schema.columns where table_schema = %s"
        " and lower(data_type) in ('text', 'varchar', 'character varying', 'json', 'jsonb')"
        " order by table_name, column_name",
        [wh.settings.schema],
    )
    assert any(t == "raw_ingest_rejects" for t, _ in columns) and any(t == "int_client_contacts" for t, _ in columns)
    name_pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    found: dict[str, int] = {}
    for table, column in columns:
        values = [v for (v,) in wh.fetchall(f'select cast("{column}" as text) from "{table}"') if v]
        hits = 0
        for value in values:
            named = name_pattern.search(value)
            if named or any(optout.normalise_phone(m.group(0)) in phones for m in _DIGIT_RUN.finditer(value)):
                hits += 1
        if hits:
            found[f"{table}.{column}"] = hits
    return found


def test_no_table_keeps_names_or_phones_of_anonymised_clients_after_retention_reingest_and_refresh(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = demo_data()
    source = tmp_path / "data"
    # every eighth client has no card: their name and phone reach the models only from their records' client object
    without_cards = replace(data, clients=[card for i, card in enumerate(data.clients) if i % 8])
    without_cards.write_jsonl(source)
    with (source / "records.jsonl").open("a", encoding="utf-8") as handle:  # rejected lines that name people
        for card in data.clients[::25]:
            handle.write(json.dumps({"company_id": card["company_id"], "client": card}, ensure_ascii=False) + "\n")
            handle.write(f'{{"id": "x", "client": {{"name": "{card["name"]}", "phone": "{card["phone"]}"\n')
    with Warehouse.connect(settings) as wh:
        ingest_dir(wh, source)
        enqueue(wh, old_messages(data))
        for card in data.clients[::10]:  # a stop reply that names its sender, long ago
            optout.add(wh, card["company_id"], client_id=card["id"], source="inbound",
                       text=f"СТОП, это {card['name']}", at=NOW - timedelta(days=300))  # fmt: skip
    run_models(settings, as_of=AS_OF)

    report = run_retention(settings, RetentionSettings(), NOW)
    with Warehouse.connect(settings) as wh:
        names, phones = stale_people(wh, data)
        after_retention = leaks(wh, names, phones)
    assert report.clients > 20 and len(names) > 10 and len(phones) > 20

    with Warehouse.connect(settings) as wh:
        ingest_dir(wh, source)  # the same source read again
        after_reingest = leaks(wh, names, phones)
    dbt_runs = record_dbt_commands(monkeypatch)
    again = run_retention(settings, RetentionSettings(), NOW + timedelta(days=1))
    assert dbt_runs == []  # nobody new to anonymise: no batch, and the contact model is left as it is
    with Warehouse.connect(settings) as wh:
        after_next_retention = leaks(wh, names, phones)
        anonymised = anonymised_clients(wh)
    run_models(settings, as_of=AS_OF)
    with Warehouse.connect(settings) as wh:
        after_refresh = leaks(wh, names, phones)
        incremental = snapshot(wh)
    assert after_retention == {}
    assert after_reingest == {}
    assert after_next_retention == {} and again.clients == 0 and len(anonymised) >= len(names)
    cardless = {(card["company_id"], card["id"]) for card in data.clients} - {
        (card["company_id"], card["id"]) for card in without_cards.clients}  # fmt: skip
    assert len(anonymised & cardless) >= 5  # the scenario reaches clients known only from their records
    assert after_refresh == {}
    # retention's batch (cards and records, not their service lines) read incrementally equals a full refresh
    run_models(settings, as_of=AS_OF, full_refresh=True, select=COMPARED)
    with Warehouse.connect(settings) as wh:
        assert_same(incremental, snapshot(wh))


@pytest.mark.parametrize("how", ["file", "objects"])  # objects: the path the YClients sync takes
def test_reading_the_same_source_again_keeps_anonymised_clients_anonymised(settings, tmp_path: Path, how: str) -> None:
    data = demo_data(120)
    for record in data.records[::7]:  # records without a change date are rewritten by every load
        record.pop("last_change_date", None)
    data.write_jsonl(tmp_path / "data")

    def read() -> None:
        if how == "file":
            ingest_dir(wh, tmp_path / "data")
        else:
            ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                            records=data.records), "yclients:test")  # fmt: skip

    with Warehouse.connect(settings) as wh:
        read()
        report = apply_retention(wh, RetentionSettings(), NOW)
        before = [raw_rows(wh, t) for t in ("raw_yclients_clients", "raw_yclients_records")]
        read()
        after = [raw_rows(wh, t) for t in ("raw_yclients_clients", "raw_yclients_records")]
    assert report.clients > 5
    for old, new in zip(before, after):
        gone = old[old["anonymised_at"].notna()].set_index(["company_id", "id"])
        now = new.set_index(["company_id", "id"]).loc[gone.index]
        personal = [c for c in ("name", "phone", "client_name", "client_phone") if c in now.columns]
        assert now[personal].isna().all().all()
        assert (now["anonymised_at"] == gone["anonymised_at"]).all()
        for payload in now["payload"]:
            assert payload.get("name") is None and payload.get("phone") is None
            client = payload.get("client")
            assert not isinstance(client, dict) or (client.get("name") is None and client.get("phone") is None)


def test_rejected_lines_keep_file_line_and_reason_but_no_name_or_phone(warehouse: Warehouse, tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "clients.jsonl").write_text(
        '{"company_id": 1, "name": "Ульяна Тестова", "phone": "+7 916 555-12-34"}\n'  # no id
        '{"company_id": 1, "id": 5, "name": "Ульяна Тестова", "phone": "+79165551234"\n',  # not JSON
        encoding="utf-8",
    )
    ingest_dir(warehouse, source)
    stored = warehouse.fetchall("select file, line, reason, content from raw_ingest_rejects order by line")
    assert [(f, n) for f, n, _, _ in stored] == [("clients.jsonl", 1), ("clients.jsonl", 2)]
    assert stored[0][2] == "missing id" and stored[1][2].startswith("invalid JSON")
    for _, _, _, content in stored:
        assert "Ульяна" not in content and "5551234" not in content and "555-12-34" not in content
        assert "+7916" in content  # masked like mask_phone: the country and operator stay readable
    assert json.loads(stored[0][3])["company_id"] == 1


def test_quality_reports_store_masked_samples_of_phones(warehouse: Warehouse) -> None:
    warehouse.execute(
        "create table due_clients as select * from (values (1, 1, '89161234567', 5, 'gentle', 'personal', 30, 1.5),"
        " (1, 2, '+7 916 765-43-21', 5, 'gentle', 'personal', 30, 1.5)) as t(company_id, client_id, phone,"
        " service_id, tone, interval_level, interval_days, overdue_ratio)"
    )
    warehouse.execute(
        "create table company_health as select 1 as company_id, 10 as records, 10 as active_clients,"
        " current_timestamp as last_loaded_at"
    )
    results = quality.run_gate(warehouse, [1], quality.GateSettings(), "run-1", datetime.now(UTC))
    stored = warehouse.fetchone("select report from reactivation_quality_reports where run_id = 'run-1'")[0]
    assert "expect_column_values_to_match_regex(phone)" in results[0].failed_checks
    assert "1234567" not in stored and "765-43-21" not in stored and "7654321" not in stored
    assert "8916*****67" in stored and '"unexpected_count": 2' in stored


def test_log_channel_file_holds_no_name_and_no_whole_phone(tmp_path: Path) -> None:
    path = tmp_path / "outbox_log.jsonl"
    message = OutgoingMessage(
        message_key="1:2:2026-01-01:1", company_id=1, client_id=2, phone="+79161234567",
        text="Ульяна, ждём вас снова в «Салоне». Ответьте СТОП.", locale="ru", tone="gentle",
        client_first_name="Ульяна", service_title="Маникюр", company_name="Салон", booking_url=None,
    )  # fmt: skip
    assert LogChannel(ChannelSettings(log_path=path)).send(message).accepted
    written = path.read_text(encoding="utf-8")
    assert "Ульяна" not in written and "1234567" not in written
    assert json.loads(written)["text"].startswith("{name}, ждём вас")


def test_retention_erases_opt_out_reply_texts_past_the_period_and_keeps_the_opt_out(warehouse: Warehouse) -> None:
    optout.add(warehouse, 1, client_id=7, source="inbound", text="СТОП, Ульяна", at=NOW - timedelta(days=91))
    optout.add(warehouse, 1, client_id=8, source="inbound", text="стоп", at=NOW - timedelta(days=10))
    report = apply_retention(warehouse, RetentionSettings(), NOW)
    texts = dict(warehouse.fetchall("select client_id, message_text from reactivation_opt_outs"))
    assert report.opt_out_texts == 1 and texts == {7: None, 8: "стоп"}
    assert set(optout.list_active(warehouse)["client_id"]) == {7, 8}


def test_lost_after_days_comes_from_the_dbt_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REACTIVATION_DBT_VARS", raising=False)
    assert RetentionSettings.from_env().lost_after_days == 365  # dbt_project.yml
    monkeypatch.setenv("REACTIVATION_DBT_VARS", '{"lost_after_days": 200}')
    assert RetentionSettings.from_env().lost_after_days == 200


def test_daily_tasks_that_return_personal_data_do_not_persist_their_results() -> None:
    from reactivation.flows import daily

    for name in ("run_quality_gate", "plan_messages", "reactivation_daily"):
        assert getattr(daily, name).persist_result is False, name
