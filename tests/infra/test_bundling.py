"""Docker-free Lambda bundles: the right files, the right wheels, and a reusable pip cache."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import bundling
from infra.bundling import LocalPipBundler, install_requirements, requirements_digest


def _function_assets(synth) -> dict[str, Path]:
    """Staged asset folder per Python function, keyed by its handler module."""
    out = {}
    for fn in synth.resources("AWS::Lambda::Function").values():
        props = fn["Properties"]
        if props.get("Runtime") != "python3.12":
            continue
        digest = props["Code"]["S3Key"].removesuffix(".zip")
        out[props["Handler"]] = synth.outdir / f"asset.{digest}"
    return out


def test_each_function_gets_its_own_bundle(dev) -> None:
    assets = _function_assets(dev)
    assert set(assets) == {"lambdas.ingest.handler.handler", "lambdas.migrate.handler.handler",
                           "lambdas.redshift_sql.handler.handler", "lambdas.athena_sql.handler.handler",
                           "lambdas.alerts.handler.handler", "lambdas.alerts.router.handler"}
    # THEN the bundles differ (CDK caches bundles per source folder unless told apart), except
    # the alerts function's, which is the ingest's by design (same dependencies, no second build)
    assert assets["lambdas.alerts.handler.handler"] == assets["lambdas.ingest.handler.handler"]
    assert len(set(assets.values())) == 5


def test_migrate_bundle_has_psycopg_wheels_the_code_and_the_migrations(dev) -> None:
    asset = _function_assets(dev)["lambdas.migrate.handler.handler"]
    assert (asset / "lambdas" / "migrate" / "handler.py").exists()
    assert (asset / "lambdas" / "custom_resource.py").exists()
    assert (asset / "lake" / "contract.py").exists()
    sql = sorted(p.name for p in (asset / "sql" / "rds").glob("*.sql"))
    assert sql == sorted(p.name for p in (bundling.REPO_ROOT / "sql" / "rds").glob("*.sql"))
    # AND psycopg with its binary for Linux x86_64 / CPython 3.12 (not this machine's 3.11)
    binaries = list((asset / "psycopg_binary").glob("*.so"))
    assert binaries and all("cpython-312-x86_64-linux-gnu" in p.name for p in binaries)
    assert not (asset / "boto3").exists()  # provided by the runtime
    assert not list(asset.rglob("__pycache__"))


def test_redshift_bundle_has_the_views_and_no_third_party_packages(dev) -> None:
    asset = _function_assets(dev)["lambdas.redshift_sql.handler.handler"]
    assert (asset / "lambdas" / "redshift_sql" / "handler.py").exists()
    assert sorted(p.name for p in (asset / "sql" / "redshift").glob("*.sql")) == sorted(
        p.name for p in (bundling.REPO_ROOT / "sql" / "redshift").glob("*.sql"))
    assert sorted(p.name for p in asset.iterdir()) == ["lake", "lambdas", "sql"]


def test_missing_requirements_means_no_dependencies(tmp_path: Path) -> None:
    # GIVEN a requirements file that does not exist (a part not written yet)
    missing = tmp_path / "requirements.txt"
    # WHEN the dependencies are installed THEN nothing is installed and nothing fails
    assert install_requirements(missing, cache_dir=tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists()


def test_bundler_copies_sources_and_cached_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a warmed cache entry for a requirements file (no pip call needed)
    req = tmp_path / "requirements.txt"
    req.write_text("example-package==1.0\n")
    cache = tmp_path / "cache"
    entry = cache / f"pip-{requirements_digest(req)}"
    (entry / "example_package").mkdir(parents=True)
    (entry / "example_package" / "__init__.py").write_text("VERSION = '1.0'\n")
    (entry / ".complete").touch()
    monkeypatch.setattr(bundling, "CACHE_DIR", cache)
    out = tmp_path / "out"
    out.mkdir()
    # WHEN the bundler runs
    ok = LocalPipBundler(req, ("lake",)).try_bundle(str(out), image=None)
    # THEN it reports success, copies the cached package and the source folder, not the marker
    assert ok is True
    assert (out / "example_package" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert (out / "lake" / "contract.py").exists()
    assert not (out / ".complete").exists()


def test_requirements_digest_follows_the_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("psycopg[binary]>=3.2\n")
    b.write_text("psycopg[binary]>=3.2\n")
    assert requirements_digest(a) == requirements_digest(b)
    b.write_text("psycopg[binary]>=3.3\n")
    assert requirements_digest(a) != requirements_digest(b)


def test_glue_library_zip_is_importable_layout(dev) -> None:
    manifest = json.loads((dev.outdir / f"{dev.stack.stack_name}.assets.json").read_text())
    zips = [f for f in manifest["files"].values() if f["source"].get("packaging") == "zip"]
    assert zips
    # The lake library asset is a folder CDK zips at publish time: its root holds `lake/`
    lake_dirs = [dev.outdir / f["source"]["path"] for f in zips
                 if (dev.outdir / f["source"]["path"] / "lake" / "contract.py").exists()]
    assert lake_dirs
    assert not zipfile.is_zipfile(lake_dirs[0])


def test_ingest_bundle_relies_on_the_layer_and_stays_small(dev) -> None:
    # GIVEN the ingest function's staged bundle
    asset = _function_assets(dev)["lambdas.ingest.handler.handler"]
    if not (bundling.REPO_ROOT / "lambdas" / "ingest" / "requirements.txt").exists():
        pytest.skip("the ingest part has not written its requirements yet")
    names = {p.name for p in asset.iterdir()}
    # THEN its own dependencies are bundled, the layer's and the runtime's are not
    assert {"psycopg", "psycopg_binary", "aws_lambda_powertools", "pydantic_core", "lake", "lambdas"} <= names
    assert not names & {"pyarrow", "pandas", "numpy", "boto3", "botocore"}
    assert (asset / "lambdas" / "ingest" / "handler.py").exists()
    # AND it leaves room next to the AWSSDKPandas layer under Lambda's 250 MB unzipped limit
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    assert size < 40 * 1024**2, f"{size / 1024**2:.1f} MB"


@pytest.mark.parametrize(("handler", "folder"), [
    ("lambdas.redshift_sql.handler", "sql/redshift"), ("lambdas.athena_sql.handler", "sql/athena"),
])
def test_bundled_handler_imports_and_finds_its_sql_inside_the_bundle(dev, handler: str, folder: str) -> None:
    # GIVEN a staged bundle (what Lambda unpacks to /var/task)
    asset = _function_assets(dev)[f"{handler}.handler"]
    # WHEN its handler module is imported from the bundle alone (not this checkout)
    code = (f"import sys; sys.path[:0] = [{str(asset)!r}]; import {handler} as h; "
            "print(h.__file__); print(h.SQL_DIR); print(len(list(h.SQL_DIR.glob('*.sql'))))")
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True,
                            cwd=asset)
    module_file, sql_dir, count = result.stdout.split()
    # THEN code and SQL come from the bundle, with every file of the folder
    assert module_file.startswith(str(asset)) and sql_dir == str(asset / folder)
    assert int(count) == len(list((bundling.REPO_ROOT / folder).glob("*.sql"))) > 0


def test_prune_removes_only_what_runtime_and_layer_provide(tmp_path: Path) -> None:
    # GIVEN a pip --target folder with runtime/layer packages next to our own dependencies
    for name in ("boto3", "boto3-1.40.0.dist-info", "botocore", "numpy", "numpy.libs", "pyarrow",
                 "pandas-2.3.0.dist-info", "psycopg", "psycopg_binary", "pydantic_core", "numpydoc"):
        (tmp_path / name).mkdir()
    (tmp_path / "typing_extensions.py").write_text("")
    # WHEN pruned
    removed = bundling.prune_provided(tmp_path)
    # THEN exactly the provided ones are gone (numpydoc is not numpy)
    assert removed == ["boto3", "boto3-1.40.0.dist-info", "botocore", "numpy", "numpy.libs",
                       "pandas-2.3.0.dist-info", "pyarrow"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "numpydoc", "psycopg", "psycopg_binary", "pydantic_core", "typing_extensions.py"]
