"""Throughput under gunicorn (2 workers) with wrk on loopback, for a mixed read workload.

Each page of the mix is requested by the user who would open it, signed in through the
login form beforehand; wrk sends the requests round-robin over the mix and a Lua script
reports the latency percentiles and the errors (socket errors and HTTP 4xx/5xx answers).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from ketamine_integration import PROJECT_ROOT

from .clinic import BENCH_PASSWORD
from .databases import SECRET

WRK_SCRIPT = r"""
local paths, cookies, n = {}, {}, 0
%(entries)s
request = function()
  n = n + 1
  local i = (n - 1) %% #paths + 1
  return wrk.format("GET", paths[i], {["Cookie"] = cookies[i]})
end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "seconds": %%f, "p50": %%d, "p95": %%d, "p99": %%d, ' ..
    '"socket_errors": %%d, "http_errors": %%d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def _session_cookie(base: str, username: str) -> str:
    """Sign in through the login form as a browser would; the session cookie it gets."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": BENCH_PASSWORD, "csrf_token": token})
    opener.open(base + "/login", data=form.encode())
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "ki_session" not in cookie:
        raise RuntimeError(f"could not sign in as {username}")
    return cookie


def throughput(uri: str, mix, *, seconds: int = 20, connections: int = 8) -> dict:
    """Requests per second, p50/p95/p99 (ms) and errors of the mix [(username, path)] under wrk."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk; `make bench` does it as root)")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=uri, SECRET_KEY=SECRET, KI_ENV="development")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                               "--log-level", "warning", "wsgi:app"], cwd=PROJECT_ROOT, env=env,
                              start_new_session=True)
    try:
        _wait_until_up(base)
        cookies = {user: _session_cookie(base, user) for user in {u for u, _ in mix}}
        entries = "\n".join(f"paths[{i}] = {json.dumps(path)}; cookies[{i}] = {json.dumps(cookies[user])}"
                            for i, (user, path) in enumerate(mix, 1))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT % {"entries": entries})
        run = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
                              "-s", script.name, base], capture_output=True, text=True, check=True)
        os.unlink(script.name)
        result = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return {"rps": result["requests"] / result["seconds"], "p50_ms": result["p50"] / 1000,
            "p95_ms": result["p95"] / 1000, "p99_ms": result["p99"] / 1000, "requests": result["requests"],
            "errors": result["socket_errors"] + result["http_errors"], "connections": connections, "seconds": seconds}
