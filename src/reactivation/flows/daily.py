"""reactivation-daily: refresh the models, gate each company, queue and send its messages.

Composition only: every rule lives in `src/reactivation/`. A company whose quality gate fails sends nothing
and the run ends Failed (visibly), after the other companies went on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from logging import Logger, LoggerAdapter

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from reactivation import campaign, dbt, quality, retention, yclients
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse


@task(retries=1, retry_delay_seconds=300)
def sync_yclients(company_ids: list[int] | None) -> list[dict]:
    """Read what changed in YClients since the last run (resumable); nothing to do without a partner token."""
    if not yclients.YClientsSettings.from_env().partner_token:
        return []
    with Warehouse.connect() as wh:
        return [asdict(report) for report in yclients.sync(wh, company_ids)]


@task(retries=1, retry_delay_seconds=30)
def refresh_models(as_of: date | None) -> dict[str, int]:
    """dbt build: every seed and model, the data tests that guard sending (selector `daily`); names what broke."""
    return dbt.build(Settings.from_env(), as_of=as_of).counts()


@task
def find_held_companies() -> dict[int, str]:
    """Companies the models hold (an unusable time zone): no gate, no messages, and the run ends Failed."""
    return dbt.held_companies(Settings.from_env())


@task
def choose_companies(requested: list[int] | None) -> list[int]:
    with Warehouse.connect() as wh:
        return campaign.company_ids(wh, requested)


@task(persist_result=False)  # results never stored: the gate's reports sample due clients
def run_quality_gate(companies: list[int], run_id: str, dry_run: bool) -> list[quality.GateResult]:
    """Freshness is judged against the wall clock, whatever clock the run simulates."""
    settings = campaign.RunSettings.from_env()
    with Warehouse.connect() as wh:
        return quality.run_gate(wh, companies, settings.gate, run_id, datetime.now(UTC), persist=not dry_run)


@task(persist_result=False)  # the planned rows hold phones, names and message texts
def plan_messages(companies: list[int], now: datetime) -> campaign.PlanReport:
    with Warehouse.connect() as wh:
        return campaign.plan(wh, companies, campaign.RunSettings.from_env(), now)


# no cache key: it would hash every planned row (phones and texts included), and a queue step is never skipped
@task(cache_policy=NONE)
def queue_messages(report: campaign.PlanReport) -> int:
    with Warehouse.connect() as wh:
        return campaign.queue(wh, report)


@task(retries=2, retry_delay_seconds=60)
def deliver_due_messages(companies: list[int], now: datetime | None) -> dict:
    with Warehouse.connect() as wh:
        return campaign.deliver_due(wh, campaign.RunSettings.from_env(), companies, now=now).as_dict()


@task
def anonymise_old_data(now: datetime | None) -> dict[str, int]:
    """Retention: texts and phones past `REACTIVATION_RETENTION_DAYS` (90) are anonymised; counts stay.

    It runs before the refresh: anonymising opens an ingest batch, and the refresh that follows re-reads it, so the
    contact model drops the erased names and phones in the run's one dbt invocation (`reactivation retention`, on
    its own, refreshes that model itself).
    """
    report = retention.anonymise(Settings.from_env(), retention.RetentionSettings.from_env(), now)
    return {"messages": report.messages, "clients": report.clients, "records": report.records}


class StepClock:
    """Wall seconds of each step of one run, logged as each ends (`step refresh: 12.345 s`; the benchmark reads
    these lines) and returned in the run's summary."""

    def __init__(self, logger: Logger | LoggerAdapter) -> None:
        self.logger = logger
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - start)

    def record(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(seconds, 3)
        self.logger.info("step %s: %.3f s", name, seconds)


@flow(name="reactivation-daily", log_prints=False, persist_result=False)  # the summary quotes sample texts
def reactivation_daily(
    company_ids: list[int] | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> dict:
    """YClients sync → retention → refresh → quality gate → select → compose → schedule → outbox → deliver.

    `now` fixes the run's clock (backfills, tests); by default it is the real time.
    """
    logger = get_run_logger()
    logger.info("flow body started at unix time %.3f", time.time())  # the rest before it is Prefect's start-up
    steps = StepClock(logger)
    clock = now or datetime.now(UTC)
    run_id = uuid.uuid4().hex
    with steps.step("sync"):
        synced = sync_yclients(company_ids)  # first: the refresh builds on what it loaded
    sync_failed = [r["company_id"] for r in synced if r["error"]]
    for report in synced:
        if report["error"]:
            logger.error("YClients sync failed for company %s: %s", report["company_id"], report["error"])
        elif report["skipped_pages"]:
            logger.warning("YClients company %s: malformed pages skipped: %s", report["company_id"],
                           report["skipped_pages"])  # fmt: skip
    anonymised: dict[str, int] = {}
    if not dry_run:  # before the refresh, which re-reads what retention anonymised (anonymise_old_data)
        with steps.step("retention"):
            anonymised = anonymise_old_data(now)
    with steps.step("refresh"):
        build = refresh_models(as_of)
    with steps.step("companies"):
        companies = choose_companies(company_ids)
        held = {c: why for c, why in find_held_companies().items() if c in companies}
    for company_id, why in held.items():
        logger.error("company %s is held: %s", company_id, why)
    with steps.step("gate"):
        gates = run_quality_gate([c for c in companies if c not in held], run_id, dry_run)
    # a company whose sync failed may miss today's opt-outs: it is held like a failed gate
    passed = [g.company_id for g in gates if g.success and g.company_id not in sync_failed]
    for gate in gates:
        if not gate.success:
            logger.error("quality gate failed for company %s: %s", gate.company_id, ", ".join(gate.failed_checks))
    planning = time.perf_counter()
    plan = plan_messages(passed, clock)
    steps.record("plan", time.perf_counter() - planning - plan.compose_seconds)  # candidates, schedule, rows
    steps.record("compose", plan.compose_seconds)
    summary = {
        "run_id": run_id,
        "dbt": build,
        "companies": companies,
        "gate_failed": [g.company_id for g in gates if not g.success],
        "sync_failed": sync_failed,
        "held": held,
        "dry_run": dry_run,
        **plan.counts(),
    }
    summary["samples"] = [r.message_text for r in plan.rows if not r.is_holdout][:3]
    if not dry_run:
        with steps.step("queue"):
            # quoted: Prefect otherwise walks every field of every planned row looking for futures (~9 s for
            # 50 000 rows, more than the insert itself)
            summary["inserted"] = queue_messages(quote(plan))
        with steps.step("deliver"):
            summary["delivery"] = deliver_due_messages(passed, now)
        summary["anonymised"] = anonymised
    summary["seconds"] = steps.seconds
    logger.info("daily run %s: %s", run_id, {k: v for k, v in summary.items() if k != "samples"})
    problems = []
    if summary["gate_failed"]:
        problems.append(f"quality gate failed for companies {summary['gate_failed']}; their messages were held")
    if sync_failed:
        problems.append(f"YClients sync failed for companies {sync_failed}; their messages were held")
    if held:
        problems.append(dbt.describe_held(held))
    if problems:  # every problem named at once, after the other companies' messages went out
        raise RuntimeError("\n".join(problems))
    return summary


if __name__ == "__main__":
    reactivation_daily()
