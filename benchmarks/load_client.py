"""A small, bounded HTTP/1.1 load generator on asyncio streams: the same client for every side.

``concurrency`` keep-alive connections, each sending its share of the request bodies one after
another (a closed loop: at most ``concurrency`` requests in flight). One thread, no HTTP library
in the timed path: it parses only the status line, the headers it needs and a ``Content-Length``
body, so it stays small beside the server on a 2-core machine.
"""

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[int, bytes], bool]
"""Whether a response (status, body) is the one expected."""
TIMEOUT_S = 60.0


@dataclass
class _Connection:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0


def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split(b" ", 2)[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    parts = []
    while size := int((await reader.readline()).strip(), 16):
        parts.append(await reader.readexactly(size))
        await reader.readline()
    await reader.readline()
    return status, b"".join(parts)


async def _send_all(
    host: str, port: int, requests: Sequence[bytes], check: Check, start: asyncio.Event
) -> _Connection:
    result = _Connection()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await start.wait()
        for request in requests:
            began = time.perf_counter()
            writer.write(request)
            status, body = await asyncio.wait_for(_read_response(reader), TIMEOUT_S)
            result.latencies_s.append(time.perf_counter() - began)
            result.errors += not check(status, body)
    finally:
        writer.close()
    return result


def run_load(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, check: Check
) -> dict[str, Any]:
    """Send ``requests`` (full HTTP requests) over ``concurrency`` connections; the figures."""

    async def main() -> tuple[list[_Connection], float]:
        start = asyncio.Event()
        tasks = [
            asyncio.create_task(_send_all(host, port, requests[i::concurrency], check, start))
            for i in range(concurrency)
        ]
        await asyncio.sleep(0.2)  # every connection open before the clock starts
        began = time.perf_counter()
        start.set()
        done = await asyncio.gather(*tasks)
        return done, time.perf_counter() - began

    connections, elapsed = asyncio.run(main())
    latencies = sorted(x for c in connections for x in c.latencies_s)
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        **{f"p{q}_ms": percentile_ms(latencies, q) for q in (50, 90, 99)},
        "errors": sum(c.errors for c in connections),
    }


def percentile_ms(ordered: Sequence[float], q: int) -> float:
    """Nearest-rank percentile of ascending seconds, in milliseconds."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(1000 * ordered[rank - 1], 2)
