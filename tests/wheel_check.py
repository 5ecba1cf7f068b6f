"""`make wheel-check`: the wheel built from the project installs and serves from outside the checkout.

Builds the wheel (`pip wheel --no-deps`) from a clean copy of the checkout's files (tracked and
new ones, as they are in the working tree; nothing ignored: no .venv, instance/ or build/),
checks what it carries, deletes the copy, installs the wheel alone into a fresh virtual
environment in a temporary folder and, from another empty folder, runs `init-db`, `demo` and
`run` (`python -m flask --app ketamine_integration ...`), fetching /login and a static file.

Dependencies (WHEEL_CHECK_DEPS): `venv` (default, fast, nothing downloaded) lets the fresh
environment see the packages of the environment running this check through a .pth file and
installs the wheel with --no-deps; `index` installs the wheel with its dependencies from the
package index, as a clean machine's deployment does.

Nothing may come from the checkout: the fresh environment installs an audit hook that ends any
process opening or listing a path inside it (the dependency folder excepted when it lies
there), the hook is shown to work first, and the module, templates, migrations, protocol files,
vocabulary files and instance folder the app uses must all be inside the fresh environment.
"""
from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SHIPPED = runpy.run_path(str(CHECKOUT / "ketamine_integration" / "shipped" / "__init__.py"))["SHIPPED"]
GUARD_EXIT = 70
GUARD = '''"""wheel-check: end the process on any read of the checkout (an installed app reads only itself)."""
import os
import sys

FORBIDDEN = {forbidden!r}
ALLOWED = {allowed!r}
EVENTS = {{"open", "os.listdir", "os.scandir", "glob.glob", "os.chdir"}}


def _inside(path, root):
    return path == root or path.startswith(root + os.sep)  # as wheel_check.inside


def _guard(event, args):
    if event not in EVENTS or not args or isinstance(args[0], int) or args[0] is None:
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if _inside(path, FORBIDDEN) and not any(_inside(path, root) for root in ALLOWED):
        os.write(2, ("wheel-check: read from the checkout: %s (%s)\\n" % (path, event)).encode())
        os._exit({exit_code})


sys.addaudithook(_guard)
'''
PROBE = """import json, sys, ketamine_integration
app = ketamine_integration.create_app()
print(json.dumps({"module": ketamine_integration.__file__, "templates": app.template_folder,
                  "protocols": app.config["PROTOCOLS_DIR"], "vocabularies": app.config["TECHNIQUES_DIR"],
                  "forms": app.config["FORMS_DIR"], "instance": app.instance_path,
                  "migrations": app.extensions["migrate"].directory, "sys.path": sys.path}))
"""


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def run(command: list, *, cwd: Path, env: dict | None = None, timeout: int = 600) -> str:
    shown = (str(part).partition("\n")[0] + (" ..." if "\n" in str(part) else "") for part in command)
    print("$", " ".join(shown), flush=True)
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True)
    check(done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def clean_copy(target: Path) -> None:
    """The checkout's files as they are now, tracked or new, without anything git ignores."""
    listed = run(["git", "-C", CHECKOUT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                 cwd=CHECKOUT)
    for name in filter(None, listed.split("\0")):
        source = CHECKOUT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def build_wheel(work: Path) -> Path:
    source = work / "source"
    clean_copy(source)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", work / "dist",
         source], cwd=work)
    (wheel,) = (work / "dist").glob("ketamine_integration-*.whl")
    check_wheel_contents(wheel, source)
    shutil.rmtree(source)  # from here on the wheel is all there is of the project
    return wheel


def check_wheel_contents(wheel: Path, source: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    outside = sorted(n for n in names if n.split("/")[0] != "ketamine_integration"
                     and not n.split("/")[0].endswith(".dist-info"))
    check(not outside, f"the wheel carries files outside the package: {outside[:10]}")
    expected = {f"ketamine_integration/{inside}/{path.relative_to(source / folder).as_posix()}"
                for folder, inside in SHIPPED.items()
                for path in (source / folder).rglob("*") if path.is_file()}
    expected |= {path.relative_to(source).as_posix() for path in (source / "ketamine_integration").rglob("*")
                 if path.is_file()}
    missing = sorted(expected - names)
    check(not missing, f"the wheel lacks {len(missing)} file(s) of the project: {missing[:10]}")
    print(f"wheel: {wheel.name}, {len(names)} files, every file of the package and of "
          f"{', '.join(f'{name}/' for name in SHIPPED)} among them; nothing else but its metadata")


def site_packages(python: Path) -> Path:
    return Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=python.parent).strip())


def make_venv(work: Path, wheel: Path, deps: str) -> tuple[Path, list[str]]:
    """A fresh environment with the wheel installed; returns its python and where its dependencies are."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work)
    python = venv / "bin" / "python"
    site = site_packages(python)
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    if deps == "venv":
        here = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
        (site / "ki_dependencies.pth").write_text("".join(f"{path}\n" for path in here))
        run(pip + ["--no-deps", wheel], cwd=work)
        return python, here
    check(deps == "index", f"WHEEL_CHECK_DEPS must be venv or index, got {deps!r}")
    run(pip + [wheel], cwd=work)
    return python, []


def install_guard(python: Path, allowed: list[str]) -> None:
    site = site_packages(python)
    (site / "ki_checkout_guard.py").write_text(GUARD.format(
        forbidden=os.path.realpath(CHECKOUT), allowed=[os.path.realpath(p) for p in allowed],
        exit_code=GUARD_EXIT))
    (site / "ki_checkout_guard.pth").write_text("import ki_checkout_guard\n")


def clean_env(python: Path) -> dict:
    """No variable that could point the app at the checkout or at other settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
           and not k.startswith(("FLASK_", "KI_")) and k not in ("DATABASE_URL", "SECRET_KEY", "PROTOCOLS_DIR", "TECHNIQUES_DIR", "FORMS_DIR")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def check_guard(python: Path, elsewhere: Path, env: dict) -> None:
    done = subprocess.run([python, "-c", f"open({str(CHECKOUT / 'pyproject.toml')!r}).read()"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    check(done.returncode == GUARD_EXIT and "read from the checkout" in done.stderr,
          f"the guard let a read of the checkout through: exit {done.returncode} {done.stderr}")
    print("guard: a read of the checkout ends the process (shown with pyproject.toml)")


def inside(path: str, root: str | Path) -> bool:
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root + os.sep)


def check_paths(python: Path, elsewhere: Path, env: dict, dependencies: list[str]) -> Path:
    """Where the installed app reads from, asked of the app itself: all inside the fresh environment."""
    venv = python.parents[1]
    found = json.loads(run([python, "-c", PROBE], cwd=elsewhere, env=env).strip().splitlines()[-1])
    for what in ("module", "templates", "protocols", "vocabularies", "forms", "instance", "migrations"):
        check(inside(found[what], venv), f"{what} is read from {found[what]}, outside {venv}")
        print(f"{what:<12} {os.path.realpath(found[what])}")
    on_path = [p for p in found["sys.path"] if p and inside(p, CHECKOUT)
               and not any(inside(p, folder) for folder in dependencies)]
    check(not on_path, f"the checkout is on sys.path: {on_path}")
    return Path(found["instance"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def serve_and_fetch(flask: list, elsewhere: Path, env: dict, wheel: Path) -> None:
    port = free_port()
    log = elsewhere / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(flask + ["run", "--port", str(port)], cwd=elsewhere, env=env,
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        status, page = wait_for(f"http://127.0.0.1:{port}/login", server, log)
        text = page.decode()
        check(status == 200 and "<h1>Sign in</h1>" in text and 'name="csrf_token"' in text
              and "/static/style.css" in text, f"/login did not render the sign-in page:\n{text[:2000]}")
        status, css = fetch(f"http://127.0.0.1:{port}/static/style.css")
        packaged = zipfile.ZipFile(wheel).read("ketamine_integration/static/style.css")
        check(status == 200 and css == packaged, "/static/style.css is not the packaged stylesheet")
        print(f"served on port {port}: /login 200 (the sign-in page), /static/style.css 200 "
              f"({len(css)} bytes, the packaged file)")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    check(server.returncode != GUARD_EXIT, f"the server read from the checkout:\n{log.read_text()}")


def wait_for(url: str, server: subprocess.Popen, log: Path) -> tuple[int, bytes]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        check(server.poll() is None, f"the server stopped (exit {server.returncode}):\n{log.read_text()}")
        try:
            return fetch(url)
        except OSError:
            time.sleep(0.2)
    raise CheckFailed(f"{url} did not answer within 60 s:\n{log.read_text()}")


def flask_command(python: Path) -> list:
    script = python.parent / "flask"  # installed with Flask itself (WHEEL_CHECK_DEPS=index)
    return ([script] if script.exists() else [python, "-m", "flask"]) + ["--app", "ketamine_integration"]


def use_installed(python: Path, dependencies: list[str], wheel: Path, elsewhere: Path) -> None:
    """init-db, demo and run from an empty folder, with the guard on and no settings inherited."""
    install_guard(python, dependencies)
    elsewhere.mkdir()
    env = clean_env(python)
    check_guard(python, elsewhere, env)
    flask = flask_command(python)
    print(run(flask + ["init-db"], cwd=elsewhere, env=env).strip())
    instance = check_paths(python, elsewhere, env, dependencies)
    check((instance / "ketamine_integration.db").is_file(), f"no SQLite database in {instance}")
    print(run(flask + ["demo"], cwd=elsewhere, env=env).strip().splitlines()[0])
    serve_and_fetch(flask, elsewhere, env, wheel)


def main() -> int:
    deps = os.environ.get("WHEEL_CHECK_DEPS", "venv")
    with tempfile.TemporaryDirectory(prefix="ki-wheel-check-") as temporary:
        work = Path(temporary).resolve()
        try:
            check(not inside(work, CHECKOUT), f"{work} is inside the checkout")
            wheel = build_wheel(work)
            python, dependencies = make_venv(work, wheel, deps)
            use_installed(python, dependencies, wheel, work / "elsewhere")
        except CheckFailed as failure:
            print(f"wheel-check FAILED: {failure}", file=sys.stderr)
            return 1
    print(f"wheel-check passed (dependencies: {deps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
