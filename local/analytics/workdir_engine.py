"""Open the analytics engine (DuckDB, `local/analytics/duckdb_engine.py`) on a workdir's data.

Reuses the database of a stack running on the workdir (`lake up` in another terminal),
otherwise starts the workdir's PostgreSQL for the duration of the query.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.config import load_config
from local.exceptions import InputError
from local.stack.aws_resources import LocalNames
from local.stack.local_stack import running_stack_info
from local.stack.postgres_server import server_url_from_env
from local.stack.workdir_database import LocalDatabase
from local.workdir import Workdir, no_lake_yet


def require_state(workdir: Workdir) -> None:
    """A workdir without a database has nothing to show yet."""
    if not (workdir.postgres_dir / "pgdata").exists() and not server_url_from_env():
        raise InputError(no_lake_yet(workdir.root))


@contextmanager
def database_url(workdir: Workdir) -> Iterator[str]:
    info = running_stack_info(workdir)
    if info:
        yield str(info["database_url"])
        return
    require_state(workdir)
    with LocalDatabase(workdir) as db:
        yield db.url


def _names() -> LocalNames:
    return LocalNames.from_config(load_config())


def lake_root(workdir: Workdir) -> Path:
    """The processed bucket's mirror in the workdir: the local lake."""
    return workdir.bucket_dir(_names().buckets["processed"])


def pin_as_of_to_data(workdir: Workdir) -> None:
    """From now on this workdir's views read "now" as the data's last timestamp (`lake demo`)."""
    workdir.write_json(workdir.as_of_file, {"as_of": "data"})


def open_engine(pg_url: str, workdir: Workdir) -> Any:
    """The analytics engine over the workdir, its views filled from this environment's settings.

    "Now" is the current time, as in AWS, unless the workdir is pinned to its data's last
    timestamp (`pin_as_of_to_data`, done by `lake demo`).
    """
    from local.analytics.duckdb_engine import open_engine as open_duckdb  # imports duckdb: only when queried

    names = _names()
    con = open_duckdb(pg_url, lake_root(workdir), glue_database=names.glue_database,
                      settings=load_config().detection)
    apply_as_of_pin(con, workdir)
    return con


def apply_as_of_pin(con: Any, workdir: Workdir) -> None:
    """Pin the engine's `as_of` views to the data's last timestamp if the workdir asks for it."""
    from local.analytics.duckdb_engine import data_as_of, set_as_of

    pin = workdir.read_json(workdir.as_of_file, {}) or {}
    if pin.get("as_of") == "data":
        when = data_as_of(con)
        if when is not None:
            set_as_of(con, when, _names().glue_database)


@contextmanager
def analytics_connection(workdir: Workdir) -> Iterator[Any]:
    """A DuckDB connection with rds./rds_etl./lake./analytics. names, closed afterwards."""
    with database_url(workdir) as url:
        con = open_engine(url, workdir)
        try:
            yield con
        finally:
            con.close()
