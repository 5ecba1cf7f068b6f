"""PostgreSQL backups with pg_dump (custom format) and pg_restore."""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from .manifest import BackupError

#: Debian and Ubuntu keep each major version's client here, often off PATH.
POSTGRES_ROOTS = ("/usr/lib/postgresql",)


def find_tool(name: str, *, search_path: str | None = None, roots=POSTGRES_ROOTS) -> str:
    """pg_dump / pg_restore: on PATH, else the newest /usr/lib/postgresql/<major>/bin copy."""
    found = shutil.which(name, path=search_path)
    if found:
        return found
    candidates = [p for root in roots for p in glob.glob(os.path.join(root, "*", "bin", name)) if os.access(p, os.X_OK)]
    if candidates:
        return max(candidates, key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parent.parent.name)] or [0])
    raise BackupError(f"{name} not found on PATH or in {', '.join(r + '/*/bin' for r in roots)}: install the "
                      "PostgreSQL client tools (e.g. apt-get install postgresql-client) of the server's version")


def libpq(url: str) -> tuple[str, dict]:
    """A libpq connection URI without the password, and an environment carrying it (so it
    never shows in the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def run_tool(args: list[str], env: dict, what: str, *, stdin: bytes | None = None) -> None:
    done = subprocess.run(args, env=env, capture_output=True, input=stdin, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        raise BackupError(f"{what} failed: {' / '.join(detail[:4]) or f'exit status {done.returncode}'}")


def start_dump(url: str, snapshot: str, output: Path | None) -> subprocess.Popen:
    """pg_dump of the exported snapshot, running while the caller reads the same snapshot;
    with no `output` the dump comes back on a pipe (an encrypted backup's plaintext stays in
    memory; finish_dump reads it)."""
    conninfo, env = libpq(url)
    target = [f"--file={output}"] if output is not None else []
    return subprocess.Popen([find_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}",
                             *target, f"--dbname={conninfo}"],
                            env=env, stdout=subprocess.DEVNULL if output is not None else subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish_dump(process: subprocess.Popen, output: Path | None) -> bytes | None:
    """Wait for pg_dump; the dump itself when it was written to the pipe."""
    dump, errors = process.communicate()
    if process.returncode != 0:
        if output is not None:
            output.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {' / '.join(errors.decode(errors='replace').strip().splitlines()[:4])}")
    if output is not None:
        os.chmod(output, 0o600)  # a backup holds every patient's record
    return dump


def restore_dump(backup: Path, url: str, *, dump: bytes | None = None) -> None:
    """pg_restore in one transaction: a failure leaves the target as it was. --clean drops
    what the dump recreates (the caller has checked the target is empty or --replace). A
    decrypted `dump` is fed on stdin, never written to a file."""
    conninfo, env = libpq(url)
    source = [] if dump is not None else [str(backup)]
    run_tool([find_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--exit-on-error", f"--dbname={conninfo}", *source], env, f"pg_restore of {backup}", stdin=dump)


def _admin_conninfo(url: str) -> tuple[str, dict]:
    conninfo, env = libpq(url)
    return conninfo, {"password": env.get("PGPASSWORD")} if "PGPASSWORD" in env else {}


@contextmanager
def scratch_database(url: str):
    """A throw-away database on the same server (verify restores there, never over data). The
    restored records are written to the server's data files and WAL like any database's, until
    the drop; a verify killed outright (SIGKILL, a crash) leaves a ki_verify_* database behind."""
    name = f"ki_verify_{uuid.uuid4().hex[:12]}"
    conninfo, extra = _admin_conninfo(url)
    try:
        with psycopg.connect(conninfo, autocommit=True, **extra) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as err:
        raise BackupError(f"verify needs a scratch database on {make_url(url).host or 'the server'} and could "
                          f"not create one: {str(err).strip().splitlines()[0]}") from None
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        # Dropped on success and on every failure: it may hold a decrypted backup's records.
        try:
            with psycopg.connect(conninfo, autocommit=True, **extra) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as err:
            raise BackupError(f"the scratch database {name} could not be dropped ({str(err).strip().splitlines()[0]}):"
                              f" it holds the backup's records; drop it by hand: DROP DATABASE \"{name}\"") from None
