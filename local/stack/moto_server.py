"""A moto server in its own process on 127.0.0.1, standing in for the AWS APIs.

A separate process (not `ThreadedMotoServer`) so the AWS stand-in does not compete with the
ingest handler for this process's GIL: on a 2-core machine the two then run in parallel.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.exceptions import StackError
from local.stack.postgres_server import free_port

# moto accepts any credentials; boto3 needs some (never the user's real ones).
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def moto_client(service: str, endpoint: str, region: str) -> Any:
    """A boto3 client for `service` on the moto server at `endpoint`, in the stack's region."""
    return boto3.session.Session(region_name=region, **_CREDENTIALS).client(
        service, endpoint_url=endpoint, config=Config(max_pool_connections=16, retries={"mode": "standard"}),
    )


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class MotoServer:
    """`python -m moto.server` on a free port; `endpoint` is what boto3 and the AWS CLI use."""

    def __init__(self, log_file: Path, preferred_port: int | None = None) -> None:
        self.port = preferred_port if preferred_port and port_is_free(preferred_port) else free_port()
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        log = self.log_file.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise StackError(f"moto server exited at start (see {self.log_file})")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=1):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise StackError(f"moto server did not answer on {self.endpoint} within {timeout:.0f} s")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
