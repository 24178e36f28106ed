"""Entry point of ``shelfrank``; each command group lives in its own module."""

from __future__ import annotations

import typer

from cli import (
    admin_commands,
    catalog_commands,
    clickmodel_commands,
    db_commands,
    demo_commands,
    encoder_commands,
    evaluation_commands,
    events_commands,
    features_commands,
    judgments_commands,
    models_commands,
    opensearch_commands,
    search_commands,
    simulate_commands,
    train_commands,
    worker_commands,
)

app = typer.Typer(
    help="Shelfrank: hybrid search and learning to rank for shops on OpenSearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(opensearch_commands.app, name="opensearch")
app.add_typer(db_commands.app, name="db")
app.add_typer(catalog_commands.catalog_app, name="catalog")
app.add_typer(catalog_commands.index_app, name="index")
app.add_typer(search_commands.api_app, name="api")
app.add_typer(events_commands.app, name="events")
app.add_typer(clickmodel_commands.app, name="clickmodel")
app.add_typer(features_commands.app, name="features")
app.add_typer(models_commands.app, name="models")
app.add_typer(encoder_commands.app, name="encoder")
app.add_typer(worker_commands.redis_app, name="redis")
app.add_typer(worker_commands.tasks_app, name="tasks")
app.add_typer(admin_commands.app, name="admin")
app.add_typer(judgments_commands.app, name="judgments")
app.add_typer(evaluation_commands.app, name="evaluations")
app.command("worker")(worker_commands.worker)
app.command("beat")(worker_commands.beat)
app.command("search")(search_commands.search)
app.command("eval")(search_commands.eval_command)
app.command("tune-fusion")(search_commands.tune_fusion)
app.command("simulate")(simulate_commands.simulate)
app.command("train")(train_commands.train)
app.command("retrain")(train_commands.retrain_command)
app.command("demo")(demo_commands.demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
