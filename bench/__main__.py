"""`python -m bench` (`make bench`): every benchmark, one after the other, each with its defaults.

Each one prints its own table; run them one at a time (`python -m bench.generate`,
`python -m bench.ingest`, `python -m bench.rds_guards`, `python -m bench.analytics`) to pass options.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench.generate", "bench.ingest", "bench.rds_guards", "bench.analytics")


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"\n=== python -m {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
