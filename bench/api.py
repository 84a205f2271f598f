"""Benchmark the query API on 127.0.0.1 at default scale: p50/p95 latency per endpoint family and
requests/s held by 20 concurrent clients for 30 s, beside a naive baseline, in the same run.

The data is a `lake demo` workdir (default scale; created with `lake demo` when missing). Each
server runs in its own process (`python -m bench.api serve`), the clients in this one:
- `pooled`: what `lake serve` runs: a PostgreSQL connection pool as lake_api, one DuckDB
  snapshot shared by all requests (a cursor each);
- `naive`: the same app and SQL, but every request opens a new PostgreSQL connection and, for
  the analytics endpoints, builds its DuckDB engine from PostgreSQL and the lake (what a "just
  connect and query" server does: one query per request, no pool, nothing kept).
Clients: 20 threads, each with a keep-alive HTTP connection, cycling through a fixed, seeded list
of requests (every family, facility tokens and an admin token). The run fails on any non-2xx.
Also measured: cold start (import + app build of the Lambda handler module, fresh interpreter).

Run: python -m bench.api [--workdir data/demo] [--seconds 30] [--clients 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from local.stack.postgres_server import free_port

FAMILIES = ("health", "robots", "robot", "procedures", "procedure", "maintenance", "telemetry_hourly",
            "anomalies", "view")
VIEWS = ("v_procedure_volume_weekly", "v_outcome_trend_monthly", "v_robot_utilization_daily",
         "v_robot_reliability", "v_telemetry_health_daily")


def serve(workdir: Path, port: int, mode: str) -> int:
    """The server process: `lake serve`'s context (pooled) or the naive engines."""
    import uvicorn

    from api.app import create_app
    from local.analytics.workdir_engine import database_url
    from local.api_server import api_role_url, local_context
    from local.workdir import Workdir

    wd = Workdir.at(workdir)
    with database_url(wd) as admin_url:
        ctx = local_context(wd, admin_url, poll_seconds=0)
        if mode == "naive":
            ctx.transactional.close()
            ctx.analytics.close()
            ctx.transactional, ctx.analytics = _naive_engines(wd, api_role_url(admin_url, wd))
        uvicorn.run(create_app(ctx), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


def _naive_engines(wd: Any, url: str) -> tuple[Any, Any]:
    import psycopg

    from local.analytics.duckdb_engine import open_engine
    from local.analytics.workdir_engine import _names, lake_root
    from local.api_server import DuckDbEngine

    class NewConnection:
        name = "postgresql"

        def run(self, statement: Any) -> Any:
            with psycopg.connect(url) as conn:
                conn.execute("SET TimeZone = 'UTC'")
                cur = conn.execute(statement.tree.sql(dialect="postgres"), statement.params)
                return [d.name for d in cur.description or ()], cur.fetchall()

        def ping(self) -> None:
            psycopg.connect(url).close()

        def close(self) -> None:
            return None

    class FreshEngine:
        name = "duckdb"

        def run(self, statement: Any) -> Any:
            engine = DuckDbEngine(lambda: open_engine(url, lake_root(wd), glue_database=_names().glue_database,
                                                      views=False), lambda: 0, poll_seconds=0)
            try:
                return engine.run(statement)
            finally:
                engine._con.close()

        def ping(self) -> None:
            return None

        def close(self) -> None:
            return None

    return NewConnection(), FreshEngine()


def _requests(workdir: Path, admin: str, base_token: dict[str, str], seed: int = 7) -> list[tuple[str, str, str]]:
    """(family, path, token) for every family, ids taken from the data, shuffled with a seed."""
    import psycopg

    from local.api_server import api_role_url
    from local.workdir import Workdir

    wd = Workdir.at(workdir)
    with psycopg.connect(api_role_url(admin, wd)) as conn:
        robots = conn.execute("SELECT robot_id, facility_id FROM surgical_robots ORDER BY 1").fetchall()
        procedures = conn.execute("SELECT procedure_id, facility_id FROM surgical_procedures ORDER BY 1").fetchall()
    rng = random.Random(seed)
    out: list[tuple[str, str, str]] = []
    for _ in range(40):
        robot, facility = rng.choice(robots)
        proc, pfac = rng.choice(procedures)
        fac, admin_token = base_token[facility], base_token["admin"]
        out += [("health", "/v1/health", ""), ("robots", "/v1/robots", fac), ("robot", f"/v1/robots/{robot}", fac),
                ("procedures", "/v1/procedures?limit=100", base_token[pfac]),
                ("procedure", f"/v1/procedures/{proc}", base_token[pfac]),
                ("maintenance", f"/v1/robots/{robot}/maintenance", fac),
                ("telemetry_hourly", f"/v1/robots/{robot}/telemetry/hourly?limit=100", fac),
                ("anomalies", f"/v1/robots/{robot}/anomalies", admin_token),
                ("view", f"/v1/views/{rng.choice(VIEWS)}?limit=100", rng.choice((fac, admin_token)))]
    rng.shuffle(out)
    return out


def _tokens(workdir: Path) -> dict[str, str]:
    from api.principal import Principal
    from api.tokens import issue, signing_key
    from local.workdir import Workdir

    key = signing_key(Workdir.at(workdir).state_dir)
    tokens = {f"FAC-{i:03d}": issue(key, Principal.from_groups("bench", [f"facility:FAC-{i:03d}"]))
              for i in range(1, 100)}
    tokens["admin"] = issue(key, Principal.from_groups("bench", ["admin"]))
    return tokens


def load(port: int, requests: list[tuple[str, str, str]], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads for `seconds`; latency per family, requests/s, errors."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = offset
        mine: dict[str, list[float]] = defaultdict(list)
        while time.monotonic() < stop:
            family, path, token = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException) as exc:
                ok, response = False, None
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                errors.append(f"{family}: {type(exc).__name__}")
            if not ok and response is not None:
                errors.append(f"{family} {path}: HTTP {response.status}")
            mine[family].append(time.perf_counter() - started)
        with lock:
            for family, values in mine.items():
                latencies[family].extend(values)

    threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = sum(len(v) for v in latencies.values())
    return {
        "requests": total, "seconds": round(elapsed, 1), "rps": round(total / elapsed, 1), "errors": len(errors),
        "error_samples": errors[:5],
        "families": {f: {"n": len(v), "p50_ms": round(1000 * statistics.median(v), 1),
                         "p95_ms": round(1000 * statistics.quantiles(v, n=20)[18], 1) if len(v) >= 20 else None}
                     for f, v in sorted(latencies.items())},
    }


def _wait(port: int, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not come up")


def cold_start(repeats: int = 5) -> dict[str, float]:
    """Median seconds to import the Lambda handler module (FastAPI app built) vs Powertools' resolver
    with the same engines' imports, each in a fresh interpreter."""
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "REDSHIFT_WORKGROUP": "wg",
           "REDSHIFT_DATABASE": "analytics", "AWS_DEFAULT_REGION": "us-east-1"}
    scripts = {
        "fastapi_mangum_app": "import api.lambda_handler",
        "powertools_resolver_same_engines": (
            "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
            "import psycopg, psycopg_pool, sqlglot, boto3, api.queries, api.catalog\n"
            "app = APIGatewayRestResolver(enable_validation=True)\n"
            "app.get('/v1/health')(lambda: {})\n"
            "boto3.client('redshift-data'); boto3.client('redshift-serverless')\n"
            "api.catalog.views()"),
    }
    out = {}
    for name, script in scripts.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - started)
        out[name] = round(statistics.median(times), 3)
    out["empty_interpreter"] = round(statistics.median(
        _time([sys.executable, "-c", "pass"]) for _ in range(repeats)), 3)
    return out


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started


def run(workdir: Path, seconds: float, clients: int, modes: tuple[str, ...]) -> dict[str, Any]:
    if not (workdir / "postgres").exists():
        print(f"no demo in {workdir}: running `lake demo --workdir {workdir}` (default scale) first", flush=True)
        subprocess.run([sys.executable, "-m", "cli", "demo", "--workdir", str(workdir)], check=True)
    from local.analytics.workdir_engine import database_url
    from local.workdir import Workdir

    with database_url(Workdir.at(workdir)) as admin:  # one database for both servers (DATABASE_URL)
        return _run_modes(workdir, admin, seconds, clients, modes)


def _run_modes(workdir: Path, admin: str, seconds: float, clients: int, modes: tuple[str, ...]) -> dict[str, Any]:
    tokens = _tokens(workdir)
    requests = _requests(workdir, admin, tokens)
    results: dict[str, Any] = {"load_average_before": os.getloadavg()}
    for mode in modes:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "bench.api", "serve", "--workdir", str(workdir),
                                 "--port", str(port), "--mode", mode], env={**os.environ, "DATABASE_URL": admin})
        try:
            _wait(port, proc)
            load(port, requests[:50], clients, min(5.0, seconds))  # warm-up
            results[mode] = load(port, requests, clients, seconds)
            results[mode]["load_average"] = os.getloadavg()
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        print(f"{mode}: {json.dumps(results[mode])}", flush=True)
    return results


def report(results: dict[str, Any]) -> str:
    modes = [m for m in ("pooled", "naive") if m in results]
    lines = ["| family | " + " | ".join(f"{m} p50 ms | {m} p95 ms" for m in modes) + " |",
             "|---|" + "---:|---:|" * len(modes)]
    for family in FAMILIES:
        cells = []
        for m in modes:
            f = results[m]["families"].get(family, {})
            cells += [str(f.get("p50_ms", "")), str(f.get("p95_ms", ""))]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    for m in modes:
        r = results[m]
        lines.append(f"\n{m}: {r['rps']} requests/s over {r['seconds']} s, {r['requests']} requests, "
                     f"{r['errors']} errors (load average {r['load_average'][0]:.1f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd")
    srv = sub.add_parser("serve", help="(internal) one server process")
    srv.add_argument("--workdir", required=True)
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--mode", choices=("pooled", "naive"), required=True)
    parser.add_argument("--workdir", default="data/demo")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--modes", default="pooled,naive")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        return serve(Path(args.workdir), args.port, args.mode)
    results = run(Path(args.workdir), args.seconds, args.clients, tuple(args.modes.split(",")))
    if not args.no_cold_start:
        results["cold_start_s"] = cold_start()
    print(report(results))
    if "cold_start_s" in results:
        print(f"\ncold start (median of 5, fresh interpreter, seconds): {results['cold_start_s']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if any(results[m]["errors"] for m in ("pooled", "naive") if m in results) else 0


if __name__ == "__main__":
    sys.exit(main())
