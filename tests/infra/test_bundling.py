"""Docker-free Lambda bundles: the right files, pinned wheels, what pruning removes, a reusable cache."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from infra import bundling
from infra.bundling import LocalPipBundler, install_requirements, lambda_code, prune, requirements_digest
from infra.config import MissingPartError


def _function_assets(synth) -> dict[str, Path]:
    """Staged asset folder per Python function, keyed by its handler."""
    out = {}
    for fn in synth.resources("AWS::Lambda::Function").values():
        props = fn["Properties"]
        if props.get("Runtime") == "python3.12":
            out[props["Handler"]] = synth.outdir / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
    return out


def test_each_function_gets_its_own_bundle(dev) -> None:
    assets = _function_assets(dev)
    assert set(assets) == {"lambdas.ingest.handler.handler", "lambdas.migrate.handler.handler",
                           "lambdas.redshift_sql.handler.handler", "lambdas.athena_sql.handler.handler",
                           "lambdas.alerts.handler.handler", "lambdas.alerts.router.handler",
                           "api.lambda_handler.handler"}
    # THEN the bundles differ (CDK caches bundles per source folder unless told apart), except
    # the two alerts functions', which are the ingest's by design: the same requirements (psycopg,
    # pyarrow for the windows export, Powertools, boto3) and the same `lambdas` package, so one
    # byte-identical asset instead of a second 200 MB build and upload
    ingest = assets["lambdas.ingest.handler.handler"]
    assert assets["lambdas.alerts.handler.handler"] == assets["lambdas.alerts.router.handler"] == ingest
    assert (ingest / "lambdas" / "alerts" / "handler.py").is_file()
    assert len(set(assets.values())) == 5


def test_migrate_bundle_has_psycopg_and_boto3_wheels_the_code_and_the_migrations(dev) -> None:
    asset = _function_assets(dev)["lambdas.migrate.handler.handler"]
    assert (asset / "lambdas" / "migrate" / "handler.py").exists()
    assert (asset / "lambdas" / "custom_resource.py").exists()
    assert (asset / "lake" / "contract.py").exists()
    sql = sorted(p.name for p in (asset / "sql" / "rds").glob("*.sql"))
    assert sql == sorted(p.name for p in (bundling.REPO_ROOT / "sql" / "rds").glob("*.sql"))
    # AND psycopg with its binary for Linux x86_64 / CPython 3.12 (not this machine's 3.11)
    binaries = list((asset / "psycopg_binary").glob("*.so"))
    assert binaries and all("cpython-312-x86_64-linux-gnu" in p.name for p in binaries)
    # AND its own boto3 (the runtime's version changes under it), without the ingest's libraries
    assert (asset / "boto3").is_dir() and not (asset / "pyarrow").exists()
    assert not list(asset.rglob("__pycache__"))


def test_sql_bundles_hold_their_views_and_only_the_sdk(dev) -> None:
    for handler, folder in (("lambdas.redshift_sql.handler.handler", "redshift"),
                            ("lambdas.athena_sql.handler.handler", "athena")):
        asset = _function_assets(dev)[handler]
        assert sorted(p.name for p in (asset / "sql" / folder).glob("*.sql")) == sorted(
            p.name for p in (bundling.REPO_ROOT / "sql" / folder).glob("*.sql"))
        packages = {p.name for p in asset.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")}
        assert packages == {"lake", "lambdas", "sql", "boto3", "botocore", "s3transfer", "jmespath", "dateutil",
                            "urllib3"}


def test_a_missing_requirements_file_fails_the_synth(tmp_path: Path) -> None:
    # GIVEN a function whose requirements file is missing
    missing = tmp_path / "requirements.txt"
    # WHEN its code asset is declared THEN the synth stops with the file named (no silent "no deps")
    with pytest.raises(MissingPartError, match="requirements.txt does not exist"):
        lambda_code(missing, ())
    with pytest.raises(MissingPartError):
        install_requirements(missing, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_missing_source_folder_fails_the_bundle(tmp_path: Path) -> None:
    with pytest.raises(MissingPartError, match="asset source sql/nowhere does not exist"):
        LocalPipBundler(None, ("sql/nowhere",)).try_bundle(str(tmp_path), image=None)  # type: ignore[arg-type]


def test_bundler_copies_sources_and_cached_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a warmed cache entry for a requirements file (no pip call needed)
    req = tmp_path / "requirements.txt"
    req.write_text("example-package\n")
    cache = tmp_path / "cache"
    entry = cache / f"pip-{requirements_digest(req)}"
    (entry / "example_package").mkdir(parents=True)
    (entry / "example_package" / "__init__.py").write_text("VERSION = '1.0'\n")
    (entry / ".complete").touch()
    monkeypatch.setattr(bundling, "CACHE_DIR", cache)
    out = tmp_path / "out"
    out.mkdir()
    # WHEN the bundler runs
    ok = LocalPipBundler(req, ("lake",)).try_bundle(str(out), image=None)  # type: ignore[arg-type]
    # THEN it reports success, copies the cached package and the source folder, not the marker
    assert ok is True
    assert (out / "example_package" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert (out / "lake" / "contract.py").exists()
    assert not (out / ".complete").exists()


def test_requirements_digest_follows_requirements_and_constraints(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("psycopg[binary]\n")
    b.write_text("psycopg[binary]\n")
    assert requirements_digest(a) == requirements_digest(b)
    b.write_text("psycopg[binary]\nboto3\n")
    assert requirements_digest(a) != requirements_digest(b)
    # AND a new pin in constraints.txt is a new bundle, whatever the requirements file says
    before = requirements_digest(a)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(bundling.CONSTRAINTS.read_text().replace("psycopg==", "psycopg==0.0.0.dev0+"))
    monkeypatch.setattr(bundling, "CONSTRAINTS", constraints)
    assert requirements_digest(a) != before


def test_glue_library_zip_is_importable_layout(dev) -> None:
    manifest = json.loads((dev.outdir / f"{dev.stack.stack_name}.assets.json").read_text())
    zips = [f for f in manifest["files"].values() if f["source"].get("packaging") == "zip"]
    assert zips
    # The lake library asset is a folder CDK zips at publish time: its root holds `lake/` only
    lake_dirs = [dev.outdir / f["source"]["path"] for f in zips
                 if (dev.outdir / f["source"]["path"] / "lake" / "contract.py").exists()
                 and not (dev.outdir / f["source"]["path"] / "lambdas").exists()]
    assert len(lake_dirs) == 1
    assert sorted(p.name for p in lake_dirs[0].iterdir()) == ["lake"]
    assert not zipfile.is_zipfile(lake_dirs[0])


def test_prune_removes_build_files_and_flight_and_keeps_what_imports(tmp_path: Path) -> None:
    # GIVEN a pip --target folder shaped like pyarrow's and numpy's wheels
    for rel in ("pyarrow/include/arrow/api.h", "pyarrow/tests/test_x.py", "pyarrow/lib.pyx", "pyarrow/lib.pxd",
                "pyarrow/_flight.cpython-312-x86_64-linux-gnu.so", "pyarrow/libarrow_flight.so.2500",
                "pyarrow/libarrow_python.so", "pyarrow/libarrow_python.so.2500.1.0",
                "pyarrow/libarrow_python.so.2500", "pyarrow/libarrow_python_parquet_encryption.so.2500",
                "pyarrow/libparquet.so.2500", "pyarrow/parquet/core.py", "pyarrow/flight.py",
                "numpy/_core/tests/test_a.py", "numpy/_core/include/numpy/x.h", "numpy/_core/multiarray.py",
                "psycopg/pq/__init__.py", "bin/jp.py"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
    # WHEN pruned
    removed = prune(tmp_path)
    # THEN build-time files, Flight and the link-time copies are gone; the loaded libraries stay
    kept = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert kept == ["numpy/_core/multiarray.py", "psycopg/pq/__init__.py", "pyarrow/flight.py",
                    "pyarrow/libarrow_python.so.2500", "pyarrow/libarrow_python_parquet_encryption.so.2500",
                    "pyarrow/libparquet.so.2500", "pyarrow/parquet/core.py"]
    assert removed == 11 * 10
