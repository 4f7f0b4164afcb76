"""`reactivation review ...`: list the batch waiting for review, approve, reject, edit, serve the web page."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from reactivation.review import model
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse, WarehouseError

review_app = typer.Typer(help="Owner review before sending (review mode).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
Keys = Annotated[list[str] | None, typer.Option("--key", help="Message key (repeatable).")]


def _connect() -> Warehouse:
    try:
        wh = Warehouse.connect(Settings.from_env())
    except WarehouseError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    wh.ensure_tables()
    return wh


def _report(result: model.ApproveResult, verb: str) -> None:
    console.print(f"{verb} {len(result.changed)} message(s)")
    for key, reason in result.refused.items():
        err.print(f"[yellow]{key}: {reason}[/yellow]", highlight=False)
    if result.refused:
        raise typer.Exit(1)


@review_app.command("list")
def list_command(
    company: Annotated[int | None, typer.Option("--company", help="Company id.")] = None,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """The messages waiting for review (phones masked but the last four digits; holdout rows never listed)."""
    if output not in ("table", "json", "csv"):
        raise typer.BadParameter("use table, json or csv", param_hint="--format")
    settings = model.ReviewSettings.from_env()
    with _connect() as wh:
        batch = model.list_batch(wh, datetime.now(UTC), settings.expiry_days, company)
    if output == "json":
        sys.stdout.write(json.dumps(batch, ensure_ascii=False, indent=2) + "\n")
        return
    flat = [
        {"message_key": m["message_key"], "company_id": m["company_id"], "client": m["client"]["name"],
         "phone": m["client"]["phone"], "service": m["service"], "tone": m["tone"],
         "interval_level": m["interval_level"], "last_visit": m["last_visit_date"], "days_since": m["days_since"],
         "text": m["text"]}
        for m in batch
    ]  # fmt: skip
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]) if flat else ["message_key"])
        writer.writeheader()
        writer.writerows(flat)
        sys.stdout.write(buffer.getvalue())
        return
    table = Table(title=f"{len(flat)} message(s) awaiting review", show_lines=True)
    columns = ("message_key", "client", "phone", "service", "tone", "interval_level", "days_since", "text")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in flat:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    console.print(table)


@review_app.command("approve")
def approve_command(
    company: Annotated[int, typer.Option("--company", help="Company id.")],
    approve_all: Annotated[bool, typer.Option("--all", help="Approve the company's whole batch.")] = False,
    key: Keys = None,
) -> None:
    """Approve messages: each is scheduled into its next open send window and sent with every send-time check."""
    if approve_all == bool(key):
        raise typer.BadParameter("give either --all or one or more --key")
    from reactivation.schedule import SendWindow

    settings = model.ReviewSettings.from_env()
    with _connect() as wh:
        result = model.approve(
            wh, datetime.now(UTC), SendWindow.from_env(), settings.expiry_days, company_id=company,
            keys=None if approve_all else key,
        )  # fmt: skip
    _report(result, "approved")


@review_app.command("reject")
def reject_command(
    key: Annotated[list[str], typer.Option("--key", help="Message key (repeatable).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the message).")] = None,
) -> None:
    """Reject messages: never sent; the client counts as contacted for the cooldown."""
    with _connect() as wh:
        result = model.reject(wh, key, datetime.now(UTC), reason)
    _report(result, "rejected")


@review_app.command("edit")
def edit_command(
    key: Annotated[str, typer.Option("--key", help="Message key.")],
    text_file: Annotated[Path, typer.Option("--text-file", help="File holding the new text (UTF-8).")],
) -> None:
    """Replace a waiting message's text; the guardrails (opt-out sentence, length, business name, language) rerun."""
    from reactivation.messages import ComposeSettings

    text = text_file.read_text(encoding="utf-8")
    settings = model.ReviewSettings.from_env()
    with _connect() as wh:
        try:
            model.edit_text(wh, key, text, datetime.now(UTC), ComposeSettings.from_env().max_chars,
                            settings.expiry_days)  # fmt: skip
        except model.ReviewError as exc:
            err.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(1) from None
    console.print(f"edited {key}")


@review_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
) -> None:
    """Serve the review page; needs REACTIVATION_REVIEW_TOKEN (open it once with ?token=...)."""
    from reactivation.review.web import ReviewConfigError, serve

    try:
        serve(host, port)
    except ReviewConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
