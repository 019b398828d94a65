"""A real S3-compatible server (moto, installed by the ``dev`` extra) for the s3a tests.

Spark has one session per process and reads its ``spark.hadoop.fs.s3a.*`` settings when
the session starts, so the endpoint must be known before the shared ``spark`` fixture
builds it, while the server itself is only needed by the few s3a tests. Hence two steps:

- ``s3_endpoint`` (session, used by ``spark``): binds a listening socket on 127.0.0.1 on a
  free port (cheap: no moto import, no thread) and exports the endpoint and test
  credentials the way a user would (``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ...),
  so the session gets its s3a settings from :func:`lake.session.object_store_conf` like
  any other run. Holding the socket means no other process can take the port meanwhile.
- ``s3_server`` (session, lazy): serves moto's S3 on that socket from a thread of the test
  process, so a run that uses no s3a test never starts it; ``s3_bucket`` makes a fresh
  bucket and yields its ``s3a://`` URI.

The credentials are moto's dummies, set here for the test process only (a developer's own
AWS variables are replaced, so a test can never reach a real account).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import uuid
from typing import Iterator

import pytest

HOST = "127.0.0.1"


@dataclasses.dataclass
class S3Endpoint:
    """A reserved loopback port and the environment that points S3 clients at it."""

    sock: socket.socket
    url: str
    env: dict[str, str]
    server: object | None = None
    thread: threading.Thread | None = None

    def serve(self) -> None:
        """Serve moto's S3 on the reserved socket from a daemon thread (idempotent)."""
        if self.server is not None:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args, **kwargs) -> None:  # one line per request drowns the test output
                pass

        app = DomainDispatcherApplication(create_backend_app)
        self.server = make_server(HOST, 0, app, threaded=True, request_handler=QuietHandler,
                                  fd=self.sock.fileno())
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto-s3", daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=30)
        self.sock.close()

    def client(self):
        """A boto3 S3 client for this server (test set-up and checks only)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])


def reserve_endpoint() -> S3Endpoint:
    """Bind and listen on a free loopback port; return the endpoint (not yet served)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(64)
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    env = {
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ACCESS_KEY_ID": "lake-test",
        "AWS_SECRET_ACCESS_KEY": "lake-test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",  # delta-rs (lake query's arrow engine) refuses http:// without it
    }
    return S3Endpoint(sock=sock, url=url, env=env)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """The reserved endpoint, exported to this process's environment (see module doc)."""
    endpoint = reserve_endpoint()
    saved = {k: os.environ.get(k) for k in (*endpoint.env, "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN",
                                             "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    for key in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        os.environ.pop(key, None)
    os.environ.update(endpoint.env)
    yield endpoint
    endpoint.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def s3_server(s3_endpoint: S3Endpoint, spark) -> S3Endpoint:
    """The moto S3 server the shared ``spark`` session is configured for, started on first use."""
    s3_endpoint.serve()
    return s3_endpoint


@pytest.fixture()
def s3_bucket(s3_server: S3Endpoint) -> str:
    """A new, empty bucket; returns its ``s3a://`` URI."""
    name = f"lake-test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return f"s3a://{name}"
