"""deploy/ (systemd units), Dockerfile and compose.yaml, held to the README's "Production" commands and to each other.

Static checks, no containers and no systemd needed: the units run the same commands as the README (same programs,
modules, ports), as the dedicated user with the environment file and a restart policy; compose runs the same commands;
the image is multi-stage and runs as a non-root user. Where the tools exist, ``systemd-analyze verify`` checks the units
and ``docker compose config`` the compose file. Also: beat's schedule file lands in the var directory.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
APP_UNITS = {
    "amarktai-web.service": "gunicorn",
    "amarktai-asgi.service": "uvicorn",
    "amarktai-worker.service": "celery worker",
    "amarktai-beat.service": "celery beat",
}
COMPOSE_SERVICE = {"gunicorn": "web", "uvicorn": "asgi", "celery worker": "worker", "celery beat": "beat"}
VENV_BIN = "/srv/amarktai/.venv/bin/"


def parse_unit(path):
    """{section: {key: [values]}} (a key may repeat, as ExecReload= does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {line!r} outside a section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def kind(argv):
    """'gunicorn', 'uvicorn', 'celery worker', 'celery beat' for a command line."""
    program = Path(argv[0]).name
    if program == "celery":
        return f"celery {next(arg for arg in argv if arg in ('worker', 'beat'))}"
    return program


def readme_commands():
    """The README's production command lines (``.venv/bin/<program> ...``), by kind, comments removed."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Production", 1)[1].split("\n## ", 1)[0]
    commands = {}
    for line in section.splitlines():
        if line.startswith(".venv/bin/") and not line.startswith(".venv/bin/python"):
            argv = shlex.split(line.split(" #", 1)[0])
            commands[kind(argv)] = [Path(argv[0]).name, *argv[1:]]
    return commands


def unit_command(name):
    (exec_start,) = parse_unit(DEPLOY / name)["Service"]["ExecStart"]
    assert exec_start.startswith(VENV_BIN), f"{name} runs {exec_start!r}, not a program of the checkout's venv"
    argv = shlex.split(exec_start)
    return [Path(argv[0]).name, *argv[1:]]


def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def without_bind(argv):
    """The command without its listening address: the units listen on loopback (nginx on the same host), compose on
    the container's network. Returns (argv without -b HOST[:PORT] or --host HOST, the ports named in -b)."""
    rest, ports = [], []
    args = iter(argv)
    for arg in args:
        if arg == "--host":
            next(args)
            continue
        if arg == "-b":
            host_port = next(args)
            if ":" in host_port:
                ports.append(host_port.rsplit(":", 1)[1])
            continue
        rest.append(arg)
    return rest, ports


def gunicorn_config_port():
    match = re.search(r'^bind = "127\.0\.0\.1:(\d+)"', (DEPLOY / "gunicorn.conf.py").read_text(), re.M)
    assert match, "deploy/gunicorn.conf.py binds no 127.0.0.1 port"
    return match[1]


def test_every_service_runs_as_the_amarktai_user_with_the_environment_file_and_a_restart_policy():
    for name in APP_UNITS:
        service = parse_unit(DEPLOY / name)["Service"]
        assert service["User"] == ["amarktai"], name
        assert service["Group"] == ["amarktai"], name
        assert service["EnvironmentFile"] == ["/etc/amarktai/amarktai.env"], name
        assert service["WorkingDirectory"] == ["/srv/amarktai"], name
        assert service["Restart"] == ["on-failure"], name
        assert service["NoNewPrivileges"] == ["yes"], name
        assert service["ProtectSystem"] == ["strict"], name
        # The var directory (AMARKTAI_VAR_DIR in the environment file) and the shared metrics directory are writable.
        assert service["StateDirectory"] == ["amarktai"], name
        assert "/run/amarktai-metrics" in service["ReadWritePaths"][0].split(), name
        unit = parse_unit(DEPLOY / name)["Unit"]
        assert "amarktai-metrics.service" in unit["Requires"][0].split(), name
    metrics = parse_unit(DEPLOY / "amarktai-metrics.service")["Service"]
    assert metrics["RuntimeDirectory"] == ["amarktai-metrics"]
    assert metrics["User"] == ["amarktai"]
    env_example = (DEPLOY / "amarktai.env.example").read_text()
    assert "\nAMARKTAI_VAR_DIR=/var/lib/amarktai\n" in env_example
    assert "\nPROMETHEUS_MULTIPROC_DIR=/run/amarktai-metrics\n" in env_example
    assert "amarktai" in (DEPLOY / "amarktai.sysusers.conf").read_text().split()


def test_the_target_starts_every_unit():
    wanted = set(parse_unit(DEPLOY / "amarktai.target")["Unit"]["Wants"][0].split())
    assert wanted == {path.name for path in DEPLOY.glob("*.service")}
    for path in DEPLOY.glob("*.service"):
        sections = parse_unit(path)
        assert sections["Unit"]["PartOf"] == ["amarktai.target"], path.name
        assert sections["Install"]["WantedBy"] == ["amarktai.target"], path.name


def test_the_environment_file_template_names_only_declared_variables():
    from amarktai.settings.env import DECLARED

    names = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (DEPLOY / "amarktai.env.example").read_text(), re.M)
    assert names
    assert set(names) <= set(DECLARED), set(names) - set(DECLARED)


def test_the_units_run_the_readme_production_commands():
    readme = readme_commands()
    assert set(readme) == set(APP_UNITS.values()), readme
    for name, what in APP_UNITS.items():
        command = unit_command(name)
        assert kind(command) == what, name
        assert command == readme[what], f"{name} runs {command}, the README {readme[what]}"
    # The listening ports are nginx.conf's upstreams.
    nginx = (ROOT / "nginx.conf").read_text()
    asgi = unit_command("amarktai-asgi.service")
    assert f"server 127.0.0.1:{asgi[asgi.index('--port') + 1]} " in nginx
    assert asgi[asgi.index("--host") + 1] == "127.0.0.1"
    # The test servers (tests/servers.py) run the unit's command line.
    from tests import servers

    assert asgi[1:] == servers.asgi_command(asgi[asgi.index("--port") + 1])[3:]
    _, ports = without_bind(unit_command("amarktai-web.service"))
    assert f"server 127.0.0.1:{(ports or [gunicorn_config_port()])[0]} " in nginx


def test_compose_runs_the_same_services_and_commands():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "asgi", "worker", "beat", "nginx"} <= set(services)
    for name, what in APP_UNITS.items():
        service = services[COMPOSE_SERVICE[what]]
        unit, unit_ports = without_bind(unit_command(name))
        composed, compose_ports = without_bind(service["command"])
        assert composed == unit, f"compose {COMPOSE_SERVICE[what]} runs {service['command']}, {name} {unit}"
        if what == "gunicorn":
            assert compose_ports == unit_ports or [gunicorn_config_port()]
        env = service["environment"]
        assert env["AMARKTAI_VAR_DIR"] == "/var/lib/amarktai"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert service["build"]["target"] == "runtime"
    # nginx trusts only the nginx service (TRUSTED_PROXIES), at its fixed address.
    address = services["nginx"]["networks"]["amarktai"]["ipv4_address"]
    assert services["web"]["environment"]["TRUSTED_PROXIES"] == address
    # The nginx service runs the repository's nginx.conf with the systemd unit's prefix.
    (exec_start,) = parse_unit(DEPLOY / "amarktai-nginx.service")["Service"]["ExecStart"]
    unit_nginx = shlex.split(exec_start)
    command = services["nginx"]["command"]
    assert command[command.index("-p") + 1] == unit_nginx[unit_nginx.index("-p") + 1] == "/srv/amarktai/"
    assert services["nginx"]["build"]["target"] == "nginx"


def test_the_market_data_service_runs_as_its_own_process_everywhere():
    """One market-data process (manage.py market_data) in systemd, compose and the README's production commands."""
    command = ["python", "manage.py", "market_data"]
    assert unit_command("amarktai-market-data.service") == command
    service = parse_unit(DEPLOY / "amarktai-market-data.service")["Service"]
    assert service["User"] == ["amarktai"] and service["Restart"] == ["on-failure"]
    assert service["EnvironmentFile"] == ["/etc/amarktai/amarktai.env"]
    composed = compose()["services"]["market-data"]
    assert composed["command"] == command
    assert composed["environment"]["REDIS_URL"].startswith("redis://redis:")
    section = (ROOT / "README.md").read_text().split("## Production", 1)[1].split("\n## ", 1)[0]
    assert ".venv/bin/python manage.py market_data" in section


def test_the_image_is_multi_stage_and_runs_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", text, re.M)
    names = [name for _, name in stages]
    assert {"builder", "app", "nginx", "runtime"} <= set(names), stages
    assert stages[-1] == ("app", "runtime"), "the default (last) stage is not the application image"
    app = text.split(" AS app\n", 1)[1].split("\nFROM ", 1)[0]
    users = re.findall(r"^USER (\S+)$", app, re.M)
    assert users and users[-1] == "amarktai"
    assert "COPY --from=builder /opt/venv /opt/venv" in app
    # No key is baked in: collectstatic runs with throwaway keys set, so the settings create no key file.
    assert "SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEY=" in app
    # The builder installs the runtime part of requirements.txt: everything above "# Tests".
    requirements = (ROOT / "requirements.txt").read_text()
    assert "\n# Tests\n" in requirements
    runtime = requirements.split("\n# Tests\n", 1)[0]
    for package in ("gunicorn==", "uvicorn==", "uvloop==", "httptools==", "celery[", "psycopg[", "Django=="):
        assert package in runtime, package
    assert "pytest" not in runtime
    # The nginx stage points nginx.conf's upstreams at the compose services and puts the static files where
    # nginx.conf's /static/ alias reads them (relative to the prefix).
    nginx = (ROOT / "nginx.conf").read_text()
    for old, new in re.findall(r"s/(server 127\.0\.0\.1:\d+ )/(server \w+:\d+ )/", text):
        assert old in nginx, old
        assert new.split()[1].split(":")[0] in compose()["services"]
    alias = re.search(r"location /static/ \{[^}]*alias (\S+);", nginx)[1]
    assert f"/srv/amarktai/{alias.rstrip('/')}" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".env", "var", ".venv", ".git"):
        assert path in ignored, path


def test_beat_keeps_its_schedule_in_the_var_directory():
    from celery.apps.beat import Beat

    from amarktai.celery import app

    var = Path(settings.VAR_DIR).resolve()
    assert Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).resolve().parent == var
    assert Path(app.conf.beat_schedule_filename).resolve().parent == var
    assert Path(Beat(app=app, quiet=True).schedule).resolve().parent == var


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path):
    """The units as systemd reads them (unknown keys, bad values and missing programs are reported). The checkout's
    venv stands in for /srv/amarktai/.venv, and /bin/true for nginx where it is not installed."""
    nginx = "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else "/bin/true"
    names = []
    for path in [*DEPLOY.glob("*.service"), *DEPLOY.glob("*.target")]:
        text = path.read_text().replace(VENV_BIN, f"{Path(sys.executable).parent}/")
        (tmp_path / path.name).write_text(text.replace("/usr/sbin/nginx", nginx))
        names.append(path.name)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify reports unknown keys and unparsable values as warnings with exit status 0: any output is a failure.
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not output, output


@pytest.mark.skipif(not shutil.which("docker"), reason="docker is not installed")
def test_docker_compose_config(tmp_path):
    if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("docker has no compose plugin")
    env = {**os.environ, "POSTGRES_PASSWORD": "x", "SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "x", "ALLOWED_HOSTS": "x"}
    proc = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
