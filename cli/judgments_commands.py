"""``shelfrank judgments import|export``: the judged queries tuning previews and the console use."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.access import audit
from core.db import migrate
from core.db.session import session_scope
from core.settings import get_settings
from evaluation import judgment_store
from evaluation import judgments as judgments_io

app = typer.Typer(help="Relevance judgments stored in the database (the console grades and previews with them).",
                  no_args_is_help=True)


def _url() -> str:
    url = get_settings().effective_database_url
    migrate.ensure_current(url)
    return url


@app.command("import")
@user_errors
def import_command(
    path: Path = typer.Argument(..., help="Judgments file."),
    fmt: str = typer.Option("csv", "--format", help="csv (query,product_id,grade), trec (qrels + --topics) or "
                            "homedepot (train.csv)."),
    topics: Path = typer.Option(None, "--topics", help="TREC topics file: lines of 'qid<TAB>query'."),
    replace: bool = typer.Option(False, "--replace", help="Delete every stored judgment first."),
) -> None:
    """Store a judgments file (pairs already stored get the file's grade)."""
    try:
        loaded = judgments_io.load(path, fmt, topics)
    except (OSError, UnicodeDecodeError, judgments_io.JudgmentsError) as exc:
        raise fail(str(exc)) from None
    who = audit.command_line_actor()
    try:
        with session_scope(_url()) as session:
            report = judgment_store.import_judgments(session, loaded, f"file:{path.name}", who, replace=replace)
            audit.record(session, who, "judgments.import", path.name[:100], {
                "queries": report.queries, "pairs": report.pairs, "replaced": report.replaced})
            totals = judgment_store.totals(session)
    except judgments_io.JudgmentsError as exc:  # a pair no loader checked (the store checks every one)
        raise fail(str(exc)) from None
    typer.echo(f"imported {report.pairs} judgments for {report.queries} queries; stored now: {totals['pairs']} "
               f"for {totals['queries']} queries")


@app.command("export")
@user_errors
def export_command(
    out: Path = typer.Argument(..., help="File to write."),
    fmt: str = typer.Option("csv", "--format", help="csv, or trec (also writes OUT.topics)."),
) -> None:
    """Write the stored judgments as CSV or TREC qrels."""
    with session_scope(_url()) as session:
        if fmt == "csv":
            out.write_text(judgment_store.export_csv(session))
        elif fmt == "trec":
            qrels, topics = judgment_store.export_qrels(session)
            out.write_text(qrels)
            out.with_suffix(out.suffix + ".topics").write_text(topics)
        else:
            raise fail("--format must be csv or trec")
    typer.echo(f"wrote {out}")
