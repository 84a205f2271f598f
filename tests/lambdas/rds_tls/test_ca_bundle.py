"""The bundled CA file parses, holds the RDS and RDS Proxy roots, and is what the Lambdas ship."""

from __future__ import annotations

import datetime as dt
import re
import ssl

from cryptography import x509

from lambdas.rds_tls import CA_BUNDLE, tls_params

# Regions with Redshift Serverless and RDS Proxy that the README's examples and checklist use.
EXAMPLE_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
PROXY_ROOTS = {"Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4",
               "Starfield Services Root Certificate Authority - G2"}


def _certs() -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(CA_BUNDLE.read_bytes())


def test_bundle_parses_for_openssl_and_every_certificate_is_a_valid_ca() -> None:
    # GIVEN the bundle WHEN OpenSSL (what libpq uses) loads it THEN it takes every certificate
    context = ssl.create_default_context(cafile=str(CA_BUNDLE))
    certs = _certs()
    assert context.cert_store_stats()["x509_ca"] == len(certs) > 80
    # AND each is a CA certificate valid for at least another year
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    for cert in certs:
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.not_valid_after_utc > soon, cert.subject.rfc4514_string()


def test_bundle_covers_rds_proxy_and_the_example_regions() -> None:
    names = {c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in _certs()}
    assert names >= PROXY_ROOTS
    # the instance's default CA (rds-ca-rsa2048-g1) for each region the README's examples deploy to
    for region in EXAMPLE_REGIONS:
        assert f"Amazon RDS {region} Root CA RSA2048 G1" in names, region


def test_libpq_is_asked_to_verify_chain_and_host_name() -> None:
    assert tls_params() == {"sslmode": "verify-full", "sslrootcert": str(CA_BUNDLE)}
    assert re.search(r"lambdas/rds_tls/rds-ca-bundle\.pem$", str(CA_BUNDLE))
