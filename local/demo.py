"""`lake demo`: generate -> stack -> upload -> ETL -> rollups -> views -> summary + report.html."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from generators.errors import GeneratorError
from generators.options import resolve
from generators.runner import generate as generate_files
from lake.contract import MANIFEST_FILE
from local.analytics.workdir_engine import open_engine, pin_as_of_to_data
from local.commands import record_run
from local.console import Stages
from local.exceptions import StackError
from local.local_run import run_pipeline
from local.report.findings import collect_findings, findings_sections, findings_text
from local.report.html_report import render_report
from local.report.insights import collect_trends, quality_numbers
from local.report.terminal_summary import summary_text
from local.stack.local_stack import LocalStack, running_stack_info
from local.workdir import Workdir

_STATE_ENTRIES = ("input", "postgres", "s3", "state", "report.html", "report.json")


@dataclass(frozen=True)
class DemoOptions:
    scale: str = "default"
    seed: int = 42
    dirty_rate: float = 0.01
    fresh: bool = False
    workers: int | None = None


def wipe(workdir: Workdir) -> None:
    """Forget a previous demo: only the entries local mode creates in the workdir."""
    if running_stack_info(workdir):
        raise StackError(f"a local stack is running on {workdir.root}; stop it before --fresh")
    for name in _STATE_ENTRIES:
        path = workdir.root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    Workdir.at(workdir.root)


def generate(input_dir: Path, opts: DemoOptions) -> bool:
    """Run `lake generate` into input_dir unless it already holds this exact data set."""
    marker = input_dir / "_demo_options.json"
    wanted = {k: v for k, v in asdict(opts).items() if k in ("scale", "seed", "dirty_rate")}
    if marker.exists() and (input_dir / MANIFEST_FILE).exists() and json.loads(marker.read_text()) == wanted:
        return False
    if input_dir.exists():
        shutil.rmtree(input_dir)
    try:
        generate_files(resolve(opts.scale, seed=opts.seed, dirty_rate=opts.dirty_rate), input_dir)
    except GeneratorError as exc:
        raise StackError(f"generating the demo data: {exc}") from exc
    marker.write_text(json.dumps(wanted))
    return True


def cmd_demo(workdir: Workdir, opts: DemoOptions) -> int:
    stages = Stages()
    started = time.time()
    if opts.fresh:
        wipe(workdir)
    input_dir = workdir.root / "input"
    with stages.stage(f"generate ({opts.scale} scale, seed {opts.seed}, dirty rate {opts.dirty_rate})"):
        if not generate(input_dir, opts):
            stages.say(f"    {input_dir} already holds this data set")
    with stages.stage("start local stack (moto + PostgreSQL + migrations)"):
        stack = LocalStack(workdir, log=stages.say).start()
    try:
        outcome = run_pipeline(stack, input_dir, stages, workers=opts.workers)
        with stages.stage("analytics views (DuckDB)"):
            pin_as_of_to_data(workdir)  # demo data is old: "now" is its last timestamp
            con = open_engine(stack.db.url, workdir)
            try:
                trends, view_tables = collect_trends(con)
                findings = collect_findings(con, outcome.rollup.alerts if outcome.rollup else ())
            finally:
                con.close()
            quality = quality_numbers(stack.db.url, outcome.quarantine)
    finally:
        with stages.stage("stop local stack (state kept in workdir)"):
            stack.stop()
    record_run(workdir, "demo", started, outcome, {"scale": opts.scale, "seed": opts.seed})
    (workdir.root / "report.json").write_text(json.dumps(outcome.report, indent=2))
    report_path = workdir.root / "report.html"
    facts = [
        ("workdir", str(workdir.root)),
        ("scale", opts.scale),
        ("seed", str(opts.seed)),
        ("dirty rate", str(opts.dirty_rate)),
        ("generated at (UTC)", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())),
        ("total time", f"{stages.total:.1f} s"),
    ]
    report_path.write_text(
        render_report(
            title="surgical-lake local demo",
            facts=facts,
            timings=stages.timings,
            tables=outcome.report["tables"],
            quality=quality,
            dashboard_command=f"lake serve --workdir {workdir.root} --open",
            view_tables=view_tables,
            sections=findings_sections(findings),
        )
    )
    stages.say(summary_text(outcome.report["tables"], quality, trends))
    stages.say(findings_text(findings))
    stages.say("\ntimings:\n" + stages.table())
    stages.say(f"\nreport: {report_path} (run report: {workdir.root / 'report.json'})")
    stages.say(f"dashboard (charts, drill-down, adherence, data quality): lake serve --workdir {workdir.root} --open")
    stages.say(
        f'explore: lake query --workdir {workdir.root} "SELECT table_name FROM information_schema.tables'
        " WHERE table_schema = 'analytics'\""
    )
    stages.say(serve_hint(workdir))
    return 0


def serve_hint(workdir: Workdir) -> str:
    """The `lake serve` command and an admin token (12 h) for what the demo loaded."""
    from api.principal import ADMIN_GROUP, Principal
    from api.tokens import issue, signing_key
    from local.api_server import DEFAULT_PORT

    token = issue(signing_key(workdir.state_dir), Principal.from_groups("demo", [ADMIN_GROUP]))
    return "\n".join([
        f"serve the API: lake serve --workdir {workdir.root}   (docs http://127.0.0.1:{DEFAULT_PORT}/v1/docs)",
        f"  admin token (12 h; `lake token --workdir {workdir.root} --facility FAC-003` for one facility):",
        f"  {token}",
        f'  curl -H "Authorization: Bearer <token>" http://127.0.0.1:{DEFAULT_PORT}/v1/robots',
    ])
