"""Run code the way the Lambda python3.12 runtime does: from a built asset, under CPython 3.12.

The runtime's `sys.path` is the function's code (`/var/task`), the layers (`/opt/python`, none
here), the runtime's own packages (`/var/runtime`: the bootstrap and an AWS SDK whose version
varies by region and over time), then the standard library. `run_in_runtime` rebuilds that:
`python3.12 -I -S` (no site-packages, no PYTHON* variables, no current directory), then the
asset, then `runtime_sdk()`: an older boto3 standing in for `/var/runtime`'s, which the asset's
pinned boto3 must shadow. What differs from AWS: CPython 3.12.x of this machine instead of
Lambda's patch release, this machine's glibc (2.36) instead of Amazon Linux 2023's (2.34; the
bundle's wheels are manylinux_2_28, so both run them), no `awslambdaric` bootstrap (the script
imports the handler and calls it, as the bootstrap does), and moto/PostgreSQL on 127.0.0.1.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.bundling import CACHE_DIR, LAMBDA_PYTHON_VERSION, PIP_PLATFORM_ARGS

LAMBDA_PYTHON_ENV = "LAMBDA_PYTHON"
# The SDK standing in for /var/runtime's: deliberately not the bundled version.
RUNTIME_SDK = ("boto3==1.38.36", "botocore==1.38.36")
MISSING_PYTHON = (
    f"CPython {LAMBDA_PYTHON_VERSION} (the Lambda runtime's Python) was not found: the tests run the "
    f"deployed bundle under it. Install it (e.g. `pyenv install {LAMBDA_PYTHON_VERSION}`, or your OS's "
    f"python{LAMBDA_PYTHON_VERSION} package), put python{LAMBDA_PYTHON_VERSION} on PATH or set "
    f"{LAMBDA_PYTHON_ENV}=/path/to/python{LAMBDA_PYTHON_VERSION}."
)


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_lambda_python() -> str | None:
    """$LAMBDA_PYTHON, else python3.12 on PATH, else a pyenv 3.12 (newest first); None when absent."""
    candidates = [os.environ.get(LAMBDA_PYTHON_ENV, ""), shutil.which(f"python{LAMBDA_PYTHON_VERSION}") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{LAMBDA_PYTHON_VERSION}.*/bin/python{LAMBDA_PYTHON_VERSION}"),
                         key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()], reverse=True)
    return next((c for c in candidates if c and _version_of(c) == LAMBDA_PYTHON_VERSION), None)


def runtime_sdk(cache_dir: Path = CACHE_DIR) -> Path:
    """A pip --target folder with `RUNTIME_SDK` for CPython 3.12 (cached like the bundles)."""
    target = cache_dir / f"runtime-sdk-{'-'.join(RUNTIME_SDK).replace('==', '')}"
    if (target / ".complete").exists():
        return target
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-compile", "--target", str(staging), *PIP_PLATFORM_ARGS, *RUNTIME_SDK],
                   check=True, capture_output=True, text=True)
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another worker finished first
    return target


def run_in_runtime(python: str, asset: Path, sdk: Path, script: str, env: dict[str, str],
                   timeout: float = 300) -> dict[str, Any]:
    """Run `script` with the runtime's sys.path; it writes its result (JSON) to RESULT_FILE.

    stdout/stderr stay free for what the function prints (Powertools' logs and EMF metrics).
    """
    result_file = asset.parent / f"result-{os.getpid()}-{asset.name}.json"
    result_file.unlink(missing_ok=True)
    boot = (f"import sys; sys.path[:0] = [{str(asset)!r}, {str(sdk)!r}]; RESULT_FILE = {str(result_file)!r}\n"
            + script)
    proc = subprocess.run([python, "-I", "-S", "-c", boot], cwd=asset, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not result_file.exists():
        raise AssertionError(f"the runtime process failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    try:
        return dict(json.loads(result_file.read_text()))
    finally:
        result_file.unlink(missing_ok=True)
