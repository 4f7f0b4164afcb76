"""The `reactivation` command line: ingest, refresh, inspect, demo."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reactivation import dbt, overview
from reactivation.ingest import IngestReport, ingest_dir
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse, WarehouseError

app = typer.Typer(
    help="Win back lapsed clients of appointment businesses booked through YClients.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="As-of date YYYY-MM-DD (default: today in each company's zone).")
]


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-25", param_hint="--as-of") from None


def _connect(settings: Settings) -> Warehouse:
    try:
        return Warehouse.connect(settings)
    except WarehouseError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _print_ingest(report: IngestReport) -> None:
    loaded = ", ".join(f"{k} {report.loaded.get(k, 0)}/{v}" for k, v in report.seen.items())
    console.print(f"batch {report.batch_id}: new or changed / offered: {loaded}")
    if report.rejects:
        err.print(f"[yellow]{len(report.rejects)} line(s) rejected and skipped:[/yellow]")
        for reject in report.rejects[:50]:
            err.print(f"  {reject.file}:{reject.line}: {reject.reason}")
        if len(report.rejects) > 50:
            err.print(f"  ... and {len(report.rejects) - 50} more (table raw_ingest_rejects)")
    if report.held:  # loaded, but the refresh and the daily run will hold these companies and fail naming them
        err.print(f"[red]error:[/red] {dbt.describe_held(report.held)}", highlight=False)


def _refresh(settings: Settings, as_of: date | None, full_refresh: bool, all_checks: bool = False) -> dict[int, str]:
    """Build every model; returns the companies the models hold (printed here), which got no due clients."""
    _connect(settings).close()  # a clear error before dbt's own, when the warehouse is unreachable
    try:
        outcome = dbt.build(settings, as_of=as_of, full_refresh=full_refresh, all_checks=all_checks)
    except dbt.DbtFailure as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.counts().items()))
    checked = ", ".join(f"{n} {kind}" for kind, n in sorted(outcome.resource_counts().items()))
    console.print(f"dbt build on {settings.describe()}: {counts} ({checked})", soft_wrap=True)
    held = dbt.held_companies(settings)
    if held:
        err.print(f"[red]error:[/red] {dbt.describe_held(held)}", highlight=False)
    return held


@app.command()
def ingest(
    from_dir: Annotated[
        Path | None, typer.Option("--from-dir", help="Folder with companies/services/clients/records.jsonl")
    ] = None,
    from_yclients: Annotated[
        bool, typer.Option("--from-yclients", help="Read the YClients REST API (YCLIENTS_* settings).")
    ] = False,
    company: Annotated[
        list[int] | None,
        typer.Option("--company", help="YClients company id (repeatable; default REACTIVATION_YCLIENTS_COMPANIES)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Where a first sync starts, YYYY-MM-DD (default: 10 years ago).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Forget the YClients cursors and read the whole history again.")
    ] = False,
) -> None:
    """Load YClients data into the raw tables: JSON Lines files or the REST API (idempotent, resumable)."""
    if (from_dir is None) == (not from_yclients):
        raise typer.BadParameter("give either --from-dir DIR or --from-yclients", param_hint="--from-dir")
    settings = Settings.from_env()
    if from_yclients:
        _ingest_yclients(settings, company, _as_of(since), full)
        return
    with _connect(settings) as wh:
        try:
            report = ingest_dir(wh, from_dir)
        except FileNotFoundError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    _print_ingest(report)


def _ingest_yclients(settings: Settings, companies: list[int] | None, since: date | None, full: bool) -> None:
    """Sync each company from the API; exit code 1 names the companies that failed, the others are loaded."""
    from reactivation import yclients  # loaded only when asked for: it brings httpx, tenacity and the ingest

    with _connect(settings) as wh:
        try:
            reports = yclients.sync(wh, companies, since, full)
        except yclients.YClientsConfigError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    for report in reports:
        (err if report.error else console).print(report.summary(), markup=False)
        for note in report.warnings + [f"skipped, read again next run: {url}" for url in report.skipped_pages]:
            err.print(f"  {note}", markup=False)
    if any(report.error for report in reports):
        raise typer.Exit(1)


@app.command()
def refresh(
    as_of: AsOf = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
    all_checks: Annotated[
        bool,
        typer.Option(
            "--all-checks",
            help="Run every data test and the dbt unit tests too, not only the checks that guard sending.",
        ),
    ] = False,
) -> None:
    """Build every model with the data tests that guard sending (dbt selector `daily`); `--all-checks` runs all.

    Fails naming the model or test that broke, or the held company.
    """
    if _refresh(Settings.from_env(), _as_of(as_of), full_refresh, all_checks):
        raise typer.Exit(1)  # after the other companies were built: they are usable, the held one is not


@app.command()
def due(
    as_of: AsOf = None,
    company: Annotated[list[int] | None, typer.Option("--company", help="Company id (repeatable).")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    refresh_first: Annotated[
        bool, typer.Option("--refresh/--no-refresh", help="Rebuild the models for --as-of first.")
    ] = True,
) -> None:
    """Print the clients due for a message (one row per company and client)."""
    if output_format not in ("table", "csv", "json"):
        raise typer.BadParameter("choose table, csv or json", param_hint="--format")
    settings = Settings.from_env()
    if as_of is not None and refresh_first:
        with console.capture():
            _refresh(settings, _as_of(as_of), False)
    with _connect(settings) as wh:
        frame = overview.due_clients(wh, company)
    if output_format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif output_format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", force_ascii=False) + "\n")
    else:
        console.print(overview.render_table(f"{len(frame)} due clients", frame))


@app.command()
def summary() -> None:
    """Due clients by company, tone and level; exclusions by reason; rejects by reason."""
    with _connect(Settings.from_env()) as wh:
        overview.print_overview(wh, console)


@app.command()
def docs() -> None:
    """Generate the dbt docs site (target/index.html); open it with `dbt docs serve` or any web server."""
    settings = Settings.from_env()
    _connect(settings).close()
    try:
        dbt.run_dbt(["docs", "generate"], settings)
    except dbt.DbtFailure as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"docs written to {dbt.target_path(settings) / 'index.html'}")


def _print_run(summary: dict) -> None:
    console.print(f"companies {summary['companies']}; quality gate failed for {summary['gate_failed'] or 'none'}")
    console.print(
        f"queued {summary['queued']} messages, {summary['holdout']} held out (control group);"
        f" by tone {summary['by_tone']}, by variant {summary['by_variant']}, by composer {summary['by_composer']}"
    )
    if summary.get("fallbacks"):
        console.print(f"AI fallbacks to templates: {summary['fallbacks']}")
    if "delivery" in summary:
        console.print(f"delivery now: {summary['delivery']} (the rest goes out in its send window)")
    for text in summary.get("samples", []):
        console.print(f"[dim]sample:[/dim] {text}")


def _run_daily(as_of: date | None, dry_run: bool, company: list[int] | None, now: datetime | None = None) -> dict:
    from reactivation.flows.daily import reactivation_daily  # loaded when run: Prefect is slow to import

    state = reactivation_daily(company_ids=company, as_of=as_of, dry_run=dry_run, now=now, return_state=True)
    summary = state.result(raise_on_failure=False)
    if state.is_failed():
        err.print(f"[red]the daily run failed: {summary}[/red]")
        raise typer.Exit(1)
    return summary


@app.command()
def run(
    as_of: AsOf = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compose and show, write nothing to the outbox.")] = False,
    company: Annotated[list[int] | None, typer.Option("--company", help="Company id (repeatable).")] = None,
) -> None:
    """Run the daily flow once, in Prefect's local ephemeral mode (no server needed)."""
    _print_run(_run_daily(_as_of(as_of), dry_run, company))


@app.command()
def deliver() -> None:
    """Send the outbox messages whose scheduled time has come (what the 15-minute deployment runs)."""
    from reactivation.flows.deliver import reactivation_deliver

    console.print(f"delivery: {reactivation_deliver()}")


@app.command()
def inbound(from_file: Annotated[Path, typer.Option("--from-file", help="JSON Lines of inbound replies.")]) -> None:
    """Record inbound replies; stop words (СТОП, unsubscribe, не пишите ...) opt the sender out."""
    from reactivation import optout

    with _connect(Settings.from_env()) as wh:
        wh.ensure_tables()
        report = optout.record_inbound_file(wh, from_file)
    console.print(f"{report.replies} replies, {report.opted_out} opted out")
    for reject in report.rejects:
        err.print(f"  skipped {reject}")


@app.command()
def report(
    company: Annotated[int | None, typer.Option("--company", help="One company (default: all, pooled).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="First day to include, YYYY-MM-DD.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for index.html and the PNG charts.")] = Path("report"),
) -> None:
    """Write the outcomes report (HTML + PNG): funnel, uplift by tone/level/variant, time to booking, revenue."""
    from reactivation.report import build_report

    with _connect(Settings.from_env()) as wh:
        try:
            result = build_report(wh, out, company_id=company, since=_as_of(since))
        except ValueError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    console.print(f"report: {result.html_path} ({len(result.charts)} charts)")


@app.command("retention")
def retention_command(
    days: Annotated[int | None, typer.Option("--days", help="Retention in days (default 90).")] = None,
) -> None:
    """Anonymise message texts and phone numbers older than the retention period (idempotent), then refresh the
    contact model so no model keeps a copy."""
    from reactivation.retention import RetentionSettings, run_retention

    settings = RetentionSettings.from_env()
    if days is not None:
        settings = RetentionSettings(retention_days=days, lost_after_days=settings.lost_after_days)
    _connect(Settings.from_env()).close()  # a clear error when the warehouse cannot be reached
    report = run_retention(Settings.from_env(), settings)
    console.print(
        f"anonymised {report.messages} messages, {report.clients} clients ({report.records} records)"
        f" older than {settings.retention_days} days"
    )


from reactivation.review.cli import review_app  # noqa: E402 - beside the other sub-command groups

app.add_typer(review_app, name="review")
optout_app = typer.Typer(help="Manage opt-outs by hand.", no_args_is_help=True)
app.add_typer(optout_app, name="optout")
Company = Annotated[int, typer.Option("--company", help="Company id.")]
Client = Annotated[int | None, typer.Option("--client", help="Client id.")]
Phone = Annotated[str | None, typer.Option("--phone", help="Phone number.")]


@optout_app.command("add")
def optout_add(company: Company, client: Client = None, phone: Phone = None) -> None:
    """Opt a client (by id or phone) out of every future message."""
    from reactivation import optout

    with _connect(Settings.from_env()) as wh:
        wh.ensure_tables()
        key = optout.add(wh, company, client_id=client, phone=phone, source="command")
    console.print(f"opted out: company {company} {key.split(':')[0]}")


@optout_app.command("remove")
def optout_remove(company: Company, client: Client = None, phone: Phone = None) -> None:
    """Lift an opt-out (only when the client asked to hear from the business again)."""
    from reactivation import optout

    with _connect(Settings.from_env()) as wh:
        wh.ensure_tables()
        removed = optout.remove(wh, company, client_id=client, phone=phone)
    console.print("removed" if removed else "no active opt-out matched")


@optout_app.command("list")
def optout_list(company: Annotated[int | None, typer.Option("--company")] = None) -> None:
    """List active opt-outs (phones masked)."""
    from reactivation import optout
    from reactivation.channels import mask_phone

    with _connect(Settings.from_env()) as wh:
        wh.ensure_tables()
        frame = optout.list_active(wh, company)
    frame["client_id"] = frame["client_id"].astype("Int64")  # 1234, not 1234.0 beside a phone-only row
    frame["phone"] = frame["phone"].map(lambda p: mask_phone("+" + p) if isinstance(p, str) and p else "")
    frame["opt_out_key"] = frame["opt_out_key"].map(lambda k: k if k.startswith("client:") else "phone:…")
    console.print(overview.render_table(f"{len(frame)} active opt-outs", frame))


@app.command()
def demo(
    clients: Annotated[int, typer.Option(help="Clients across all demo companies.")] = 1500,
    years: Annotated[float, typer.Option(help="Years of history.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    as_of: AsOf = None,
    out: Annotated[Path, typer.Option(help="Where the generated JSON Lines files go.")] = Path("demo_data"),
) -> None:
    """Replay five weeks of a campaign on generated salons: daily runs, deliveries, clients booking back.

    The history ends 35 days before the as-of date; the daily flow runs then and two weeks later (with the `log`
    channel), simulated clients answer (treated more often than the holdout), and a final refresh as of today
    fills the outcome marts, so `reactivation report` has a funnel and an uplift to show.
    """
    from datetime import UTC, timedelta

    from reactivation import demo as demo_data
    from reactivation.flows.deliver import reactivation_deliver
    from reactivation.ingest import ingest, sources_from_objects

    settings = Settings.from_env()
    today = _as_of(as_of) or date.today()
    start = today - timedelta(days=35)
    data = demo_data.generate(n_clients=clients, years=years, seed=seed, as_of=start)
    counts = data.write_jsonl(out)
    console.print(f"generated {', '.join(f'{n} {f}' for f, n in counts.items())} into {out}/ (history until {start})")
    with _connect(settings) as wh:
        report = ingest_dir(wh, out)
    _print_ingest(report)
    for week, run_day in enumerate((start, start + timedelta(days=14))):
        morning = datetime.combine(run_day, datetime.min.time(), UTC) + timedelta(hours=7)
        console.rule(f"daily run as of {run_day}")
        summary = _run_daily(run_day, dry_run=False, company=None, now=morning)
        # the delivery deployment runs every 15 minutes; two of its runs next day reach every zone's window
        for hours in (24, 30):
            reactivation_deliver(now=morning + timedelta(hours=hours))
        _print_run(summary)
        with _connect(settings) as wh:
            exposed = demo_data.exposed_messages(wh, run_day)
            answers = demo_data.simulate_bookings(exposed, data, until=morning + timedelta(days=14), seed=seed + week)
            ingest(wh, sources_from_objects(records=answers), "demo:answers")
        console.print(f"{len(answers)} clients booked back after the run of {run_day} (simulated)")
    console.rule(f"refresh as of {today}")
    _refresh(settings, today, False)
    with _connect(settings) as wh:
        overview.print_overview(wh, console)
    console.print(
        f"what was sent is in {os.environ.get('REACTIVATION_LOG_CHANNEL_PATH', 'outbox_log.jsonl')};"
        " `reactivation report` draws the outcomes"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
