"""Real server processes for tests: uvicorn serving amarktai.asgi on a free port (the command line of
deploy/amarktai-asgi.service), gunicorn serving amarktai.wsgi (as in
production), and nginx running the repository's nginx.conf in front of them."""

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def daphne(env_overrides=None, migrate=True, timeout=30):
    """Yield the base URL of the ASGI server (uvicorn, as deployed; the name is historical) in a subprocess; its output
    goes to a temp log file (shown if it dies)."""
    var = tempfile.mkdtemp(prefix="amarktai-test-")
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "amarktai.settings",
            "AMARKTAI_VAR_DIR": var,
            "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{var}/server.sqlite3",
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(env_overrides or {})
    if migrate:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
        )
    port = free_port()
    log = open(Path(var) / "asgi.log", "w+")
    proc = subprocess.Popen(
        asgi_command(port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError("the ASGI server exited: " + log.read()[-3000:])
            try:
                httpx.get(f"{base}/api/system/ping", timeout=1)
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise RuntimeError("the ASGI server did not come up") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def database_url(connection):
    """A DATABASE_URL for ``connection``'s database: hand it to a server process so that it uses the database
    pytest-django set up (the test must be ``django_db(transaction=True)`` for the server to see the test's rows)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:") or not Path(name).is_absolute():
            raise RuntimeError(f"the SQLite test database {name!r} is not a file another process can open")
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    raise RuntimeError(f"no DATABASE_URL for a {connection.vendor} database")


def _wait_until_up(proc, url, log, name, timeout, **client_options):
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{name} exited: " + log.read()[-3000:])
        try:
            httpx.get(url, timeout=1, **client_options)
            return
        except httpx.HTTPError:
            if time.time() > deadline:
                log.seek(0)
                raise RuntimeError(f"{name} did not come up: " + log.read()[-3000:]) from None
            time.sleep(0.2)


def stop(proc):
    """End a process started by a test: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def gunicorn(env_overrides=None, workers=1, timeout=30):
    """Yield the base URL of gunicorn serving amarktai.wsgi from this venv with the production settings (DEBUG off,
    TLS redirect on, as the README runs it) on a free loopback port. Pass DATABASE_URL (see ``database_url``); without
    REDIS_URL each worker has its own local-memory cache, so keep ``workers=1`` for throttles to add up."""
    var = tempfile.mkdtemp(prefix="amarktai-gunicorn-")
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "amarktai.settings",
            "AMARKTAI_VAR_DIR": var,
            "DEBUG": "0",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(env_overrides or {})
    env = {name: value for name, value in env.items() if value is not None}  # None in the overrides: unset it
    port = free_port()
    log = open(Path(var) / "gunicorn.log", "w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "amarktai.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, f"{base}/api/system/ping", log, "gunicorn", timeout)
        yield base
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(var, ignore_errors=True)


def nginx_binary():
    """The nginx executable, or None (Debian puts it in /usr/sbin, which a normal user's PATH may lack)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def self_signed_cert(directory):
    """A throwaway certificate for 127.0.0.1/localhost: (cert path, key path)."""
    directory = Path(directory)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _substitute(text, old, new):
    assert old in text, f"nginx.conf no longer contains {old!r}: update tests/servers.py"
    return text.replace(old, new)


def nginx_config(directory, api_port=None, http_port=None, https_port=None):
    """Write a runnable copy of the repository's nginx.conf into ``directory`` and return its path. Only what cannot
    work outside a real host is replaced: the TLS certificate (a self-signed one in ``directory``), the pid file, the
    access and error logs and nginx's temp directories (into ``directory``); with ports given, the listen lines
    (loopback only: the plain-HTTP redirect server on ``http_port``, the TLS server on ``https_port``) and the gunicorn
    upstream's port."""
    directory = Path(directory)
    cert, key = self_signed_cert(directory)
    text = (ROOT / "nginx.conf").read_text()
    text = _substitute(text, "/etc/ssl/amarktai/fullchain.pem", str(cert))
    text = _substitute(text, "/etc/ssl/amarktai/privkey.pem", str(key))
    text = _substitute(text, "/var/log/nginx/amarktai.access.log", str(directory / "access.log"))
    text = _substitute(text, "/var/log/nginx/amarktai.error.log", str(directory / "error.log"))
    text = _substitute(text, "pid /run/amarktai-nginx.pid;", f"pid {directory / 'nginx.pid'};")
    temp_paths = "".join(
        f"    {kind}_temp_path {directory / (kind + '_temp')};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = _substitute(text, "\nhttp {\n", "\nhttp {\n" + temp_paths)
    if api_port is not None:
        text = _substitute(text, "server 127.0.0.1:8101 ", f"server 127.0.0.1:{api_port} ")
    if http_port is not None:
        text = _substitute(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
        text = _substitute(text, "listen [::]:80;", "")
    if https_port is not None:
        text = _substitute(text, "listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
        text = _substitute(text, "listen [::]:443 ssl http2;", "")
    conf = directory / "nginx.conf"
    conf.write_text(text)
    return conf


def nginx_command(conf, directory, directives=""):
    """nginx with the README's prefix (the project directory: static files from var/staticfiles), its startup error
    log in ``directory`` (``nginx_config`` puts the pid file and the logs there too), and any further main-context
    ``directives``."""
    directory = Path(directory)
    return [
        nginx_binary(),
        "-p",
        f"{ROOT}/",
        "-c",
        str(conf),
        "-e",
        str(directory / "error.log"),
        *(["-g", directives] if directives else []),
    ]


def tls_context(directory):
    """An SSL context that trusts the certificate ``nginx_config`` made in ``directory``."""
    return ssl.create_default_context(cafile=str(Path(directory) / "cert.pem"))


@contextlib.contextmanager
def nginx(api_port, timeout=20):
    """Run the repository's nginx.conf (see ``nginx_config``) in the foreground in front of gunicorn on ``api_port``.
    Yields (https base URL, working directory with access.log and error.log)."""
    directory = Path(tempfile.mkdtemp(prefix="amarktai-nginx-"))
    directory.chmod(0o755)  # run as root, nginx's workers switch to an unprivileged user and write temp files here
    http_port, https_port = free_port(), free_port()
    conf = nginx_config(directory, api_port=api_port, http_port=http_port, https_port=https_port)
    log = open(directory / "nginx.out", "w+")
    proc = subprocess.Popen(nginx_command(conf, directory, "daemon off;"), stdout=log, stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{https_port}"
    try:
        _wait_until_up(proc, f"{base}/api/system/ping", log, "nginx", timeout, verify=tls_context(directory))
        yield base, directory
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


# The whole stack (tests/system/test_stack.py): every production process from this venv, each in its own process group.


def nginx_stack_config(directory, api_port, daphne_port, static_root, http_port, https_port):
    """``nginx_config`` with the Daphne upstream on ``daphne_port`` as well and ``location /static/`` serving
    ``static_root`` (a collectstatic output), so gunicorn, Daphne and the static files are all the test's own."""
    import re

    conf = nginx_config(directory, api_port=api_port, http_port=http_port, https_port=https_port)
    text = _substitute(conf.read_text(), "server 127.0.0.1:8001 ", f"server 127.0.0.1:{daphne_port} ")
    static = re.compile(r"(location /static/ \{\s*alias )[^;]+;")
    assert static.search(text), "nginx.conf no longer has `location /static/ { alias ...; }`: update tests/servers.py"
    text = static.sub(lambda m: f"{m.group(1)}{str(static_root).rstrip('/')}/;", text, count=1)
    conf.write_text(text)
    return conf


def gunicorn_command(port, workers):
    """gunicorn as deployed: with deploy/gunicorn.conf.py when the repository has one, bind and workers set here."""
    command = [sys.executable, "-m", "gunicorn"]
    config = ROOT / "deploy" / "gunicorn.conf.py"
    if config.exists():
        command += ["-c", str(config)]
    serve = ["-w", str(workers), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "amarktai.wsgi:application"]
    return [*command, *serve]


def asgi_command(port):
    """The ASGI server as deploy/amarktai-asgi.service runs it (tests/system/test_deploy_files.py holds them together;
    bots/management/commands/serve.py gives uvicorn the same options), on 127.0.0.1:``port``."""
    return [sys.executable, "-m", "uvicorn", *ASGI_OPTIONS, "--host", "127.0.0.1", "--port", str(port), ASGI_APP]


ASGI_APP = "amarktai.asgi:application"
ASGI_OPTIONS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--ws",
    "websockets-sansio",
    "--lifespan",
    "off",
    "--no-access-log",
    "--no-proxy-headers",
    "--no-server-header",
    "--log-level",
    "warning",
    "--timeout-graceful-shutdown",
    "10",
]
daphne_command = asgi_command  # the name the stack test used before uvicorn replaced Daphne


def celery_beat_command(directory):
    directory = Path(directory)
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "amarktai",
        "beat",
        "-l",
        "warning",
        "-s",
        str(directory / "celerybeat-schedule"),
        "--pidfile",
        str(directory / "celerybeat.pid"),
    ]


class Processes:
    """Named subprocesses, each in a process group of its own (so a stop reaches its children: gunicorn's and nginx's
    workers) with its output in ``directory``/<name>.log. ``stop_all`` ends every group; ``logs`` shows their output."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name, command, env=None):
        with open(self.directory / f"{name}.log", "w") as log:
            self.procs[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self.procs[name]

    def log(self, name):
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_http(self, name, url, timeout, **client_options):
        """Wait until ``url`` answers (any status), failing at once if process ``name`` exits."""
        proc, deadline = self.procs[name], time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log(name)[-3000:]}")
            try:
                httpx.get(url, timeout=1, **client_options)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} did not answer {url} in {timeout}s:\n{self.log(name)[-3000:]}"
                    ) from None
                time.sleep(0.2)

    def stop(self, name, sig=None, timeout=15):
        """Signal process ``name``'s group (SIGTERM by default), wait for it, SIGKILL the group if it lingers."""
        import signal

        proc = self.procs[name]
        for signum, wait in ((sig or signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
        with contextlib.suppress(ProcessLookupError):  # children left behind by a leader that did exit
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def stop_all(self):
        for name in reversed(list(self.procs)):
            self.stop(name, timeout=5)

    def logs(self, tail=4000):
        return "\n".join(f"----- {name} -----\n{self.log(name)[-tail:]}" for name in self.procs)
