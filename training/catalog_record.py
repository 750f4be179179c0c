"""Recording a scored catalog through a running service's batch endpoint.

The service is the one place decisions are recorded: ``POST /v1/score/batch`` scores each listing
with the serving bundle and policy and applies what only it knows (human verdicts, restricted
sellers, the review queue, idempotency, audit sampling). Sending the same listings again is safe:
a listing whose content, model and policy are unchanged answers its stored decision without
being scored again, so a retry — or a rerun after a crash — records nothing twice.

A file is marked recorded (``<stem>.scores.parquet.recorded``, naming the scores it recorded and
the service's URL) once every batch of it was answered; a rerun skips a file whose marker names
its current scores and the same URL. The service's answer is compared with the catalog's own
decision: they differ where a human decided the content, the seller is restricted, or the
service runs another model or policy (``disagreements``).
"""

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from data.schema import Listing
from training.catalog import listing_fields
from training.catalog_files import CatalogError, output_path, written_fingerprint

Echo = Callable[[str], None]
ATTEMPTS: Final = 5
FIRST_BACKOFF_S: Final = 0.5
TIMEOUT_S: Final = 120.0
RETRIED_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
RECORDED_SUFFIX: Final = ".recorded"


@dataclass
class Recording:
    files: int = 0
    files_skipped: int = 0
    listings: int = 0
    replayed: int = 0
    disagreements: int = 0
    retries: int = 0


def record_catalog(
    sources: list[Path],
    output: Path,
    *,
    url: str,
    api_key: str,
    batch_size: int = 256,
    echo: Echo = print,
) -> Recording:
    """Send every valid scored listing of ``sources`` to the service at ``url``."""
    import pyarrow.parquet as pq

    recording = Recording()
    endpoint = url.rstrip("/") + "/v1/score/batch"
    for source in sources:
        scored_path = output_path(output, source)
        stamp = written_fingerprint(scored_path)
        if stamp is None:
            raise CatalogError(f"{source}: no scores to record ({scored_path} is missing)")
        marker = scored_path.with_name(scored_path.name + RECORDED_SUFFIX)
        if _recorded(marker, stamp, url):
            recording.files_skipped += 1
            continue
        scored = pq.read_table(scored_path, columns=["listing_id", "action", "error"])
        ours = {
            row["listing_id"]: row["action"] for row in scored.to_pylist() if row["error"] is None
        }
        listings = [
            listing
            for row in pq.read_table(source).to_pylist()
            if row.get("listing_id") in ours and (listing := _valid(row)) is not None
        ]
        for start in range(0, len(listings), batch_size):
            chunk = listings[start : start + batch_size]
            results = _post_batch(endpoint, api_key, chunk, recording, where=f"{source.name}")
            for result in results:
                recording.replayed += bool(result["replayed"])
                recording.disagreements += result["action"] != ours[result["listing_id"]]
            recording.listings += len(chunk)
        marker.write_text(json.dumps({"scores": stamp, "url": url, "listings": len(listings)}))
        recording.files += 1
        echo(f"recorded {source.name}: {len(listings)} listings through {endpoint}")
    return recording


def _recorded(marker: Path, stamp: dict[str, Any], url: str) -> bool:
    """Whether ``marker`` says these very scores were recorded at ``url``."""
    try:
        found = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and found.get("scores") == stamp and found.get("url") == url


def _valid(row: dict[str, Any]) -> Listing | None:
    """The row as a listing; None for a row scoring refused (its id may repeat a valid one's)."""
    try:
        return Listing.model_validate(listing_fields(row))
    except ValidationError:
        return None


def _post_batch(
    endpoint: str, api_key: str, chunk: list[Listing], recording: Recording, *, where: str
) -> list[dict[str, Any]]:
    body = json.dumps({"listings": [listing.model_dump(mode="json") for listing in chunk]})
    request = urllib.request.Request(
        endpoint,
        data=body.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        method="POST",
    )
    delay = FIRST_BACKOFF_S
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                results: list[dict[str, Any]] = json.loads(response.read())["results"]
                return results
        except urllib.error.HTTPError as error:
            retry_after = error.headers.get("Retry-After", "")
            if retry_after.isdigit():
                delay = max(delay, float(retry_after))
            if error.code not in RETRIED_STATUSES or attempt == ATTEMPTS:
                raise CatalogError(
                    f"{where}: the service answered {error.code}: {_message(error)}"
                ) from None
        except (
            urllib.error.URLError,
            http.client.HTTPException,  # a connection cut mid-answer (IncompleteRead, ...)
            TimeoutError,
            ConnectionError,
            ValueError,  # an answer that is not the API's JSON (a proxy's page)
            KeyError,
        ) as error:
            if attempt == ATTEMPTS:
                raise CatalogError(
                    f"{where}: {endpoint} unreachable after {ATTEMPTS} attempts: {error}"
                ) from None
        recording.retries += 1
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return error.reason or "no message"
