"""A load fake of route 4 (the `/v1/videos` gateway) for the tracking bench: thousands of jobs, cheaply.

Each job renders for `--render-s` seconds (no work is done: its status is read from the clock), every answer
waits `--latency-ms` first, as a real provider's 100–500 ms would, and every request is logged, one line each:

    <unix time it arrived> <method> <path> <HTTP status> <who> <what it said: job id, in_progress, success…>

where `who` is the poller's `X-Dailies-Tracker` header (tracker loops send theirs: host:pid:loop) or its
User-Agent. A finished job's content is one real MP4 (rendered once by the simulator's renderer), so
archiving downloads, probes and posters a real file.

    .venv/bin/python bench/load_provider.py --port 8710 --render-s 120 --latency-ms 200 --log /tmp/provider.log

`serving(...)` runs it on a thread of this process instead (tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class LoadProvider:
    def __init__(self, *, render_s: float, latency_s: float, log_path: Path | None, video: bytes) -> None:
        self.render_s, self.latency_s, self.video = render_s, latency_s, video
        self.jobs: dict[str, float] = {}
        self.requests = 0
        self._log = open(log_path, "a", buffering=1 << 16) if log_path else None

    def add_job(self, started: float | None = None) -> str:
        job_id = uuid.uuid4().hex[:16]
        self.jobs[job_id] = time.time() if started is None else started
        return job_id

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                arrived = time.time()
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                status, body, kind, said = self.answer(method, target.split("?", 1)[0])
                who = headers.get("x-dailies-tracker") or headers.get("user-agent", "-").replace(" ", "_")
                self.requests += 1
                if self._log:
                    self._log.write(f"{arrived:.3f} {method} {target} {status} {who} {said}\n")
                writer.write(
                    f"HTTP/1.1 {status} OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: keep-alive\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    def answer(self, method: str, path: str) -> tuple[int, bytes, str, str]:
        parts = path.strip("/").split("/")  # v1 videos [id [content]]
        if parts[:2] != ["v1", "videos"]:
            return 404, b'{"error": {"message": "no such path", "code": "not_found"}}', "application/json", "-"
        if method == "POST" and len(parts) == 2:
            job_id = self.add_job()
            receipt = json.dumps({"id": job_id, "task_id": job_id, "status": "queued"}).encode()
            return 200, receipt, "application/json", job_id
        started = self.jobs.get(parts[2]) if len(parts) > 2 else None
        if started is None:
            return 404, b'{"error": {"message": "no such task", "code": "not_found"}}', "application/json", "-"
        elapsed = time.time() - started
        if len(parts) == 4 and parts[3] == "content":
            if elapsed < self.render_s:
                return 404, b'{"error": {"message": "not ready", "code": "not_found"}}', "application/json", "-"
            return 200, self.video, "video/mp4", "content"
        if elapsed < self.render_s:
            progress = f"{int(100 * elapsed / self.render_s)}%"
            answer = {"id": parts[2], "status": "in_progress", "progress": progress}
        else:
            answer = {"id": parts[2], "status": "success", "progress": "100%", "result_url": f"{path}/content"}
        return 200, json.dumps(answer).encode(), "application/json", answer["status"]

    async def serve(self, port: int, ready: threading.Event | None = None, stop: asyncio.Event | None = None) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", port, backlog=4096, limit=1 << 16)
        if ready:
            ready.set()
        async with server:
            self._flusher = asyncio.create_task(self._flush_every_second())
            try:
                if stop is None:
                    await server.serve_forever()
                else:
                    await stop.wait()
            finally:
                # Connections kept alive are ended here, not left pending when the loop goes.
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)
                if self._log:
                    self._log.flush()

    async def _flush_every_second(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self._log:
                self._log.flush()


def sample_video(folder: Path, *, duration_s: int = 8, width: int = 1280, height: int = 720) -> bytes:
    """One real H.264 MP4 (the simulator's renderer), made once per folder."""
    path = folder / f"load-provider-{width}x{height}-{duration_s}s.mp4"
    if not path.exists():
        from studio.simulator.render import render_clip

        render_clip(path, width=width, height=height, duration_s=duration_s, audio=False, title_lines=["load"], seed=1)
    return path.read_bytes()


@contextmanager
def serving(
    *, render_s: float, latency_s: float = 0.0, log_path: Path | None = None, video: bytes = b"not a video"
) -> Iterator[tuple[str, LoadProvider]]:
    """The fake on a thread of this process: (its base URL, the provider)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = LoadProvider(render_s=render_s, latency_s=latency_s, log_path=log_path, video=video)
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(provider.serve(port, ready, stop),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}", provider
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--render-s", type=float, default=120)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--video-folder", type=Path, required=True)
    args = parser.parse_args()
    video = sample_video(args.video_folder)
    provider = LoadProvider(render_s=args.render_s, latency_s=args.latency_ms / 1000, log_path=args.log, video=video)
    asyncio.run(provider.serve(args.port))


if __name__ == "__main__":
    main()
