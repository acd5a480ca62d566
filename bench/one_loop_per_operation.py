"""The pattern of Google's own SDK sample, for comparison: one sleeping loop (a thread) per operation.

    operation = client.models.generate_videos(...)
    while not operation.done:
        time.sleep(10)
        operation = client.operations.get(operation)
    client.files.download(file=operation.response.generated_videos[0].video)

Submits `--tasks` jobs to the load fake (bench/load_provider.py) and follows each on a thread of its own at
`--cadence`, downloading the video once it is done, all on one shared httpx.Client as the SDK shares its
client. Prints one line when every job is downloaded: how long it took. Its polls are in the fake's log under
the User-Agent "one-loop-per-operation".
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import httpx

AGENT = "one-loop-per-operation"


def follow(http: httpx.Client, base: str, *, cadence: float, folder: Path) -> None:
    job_id = http.post(f"{base}/v1/videos", json={"prompt": "x"}).json()["id"]
    while True:
        time.sleep(cadence)
        try:
            answer = http.get(f"{base}/v1/videos/{job_id}").json()
        except httpx.HTTPError:
            continue
        if answer.get("status") == "success":
            (folder / f"{job_id}.mp4").write_bytes(http.get(base + answer["result_url"]).content)
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--cadence", type=float, default=10.0)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    with httpx.Client(timeout=60, headers={"User-Agent": AGENT}, limits=limits) as http:
        threads = []
        for _ in range(args.tasks):
            thread = threading.Thread(
                target=follow, args=(http, args.base_url), kwargs={"cadence": args.cadence, "folder": args.folder}
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    print(f"{args.tasks} operations followed and downloaded in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
