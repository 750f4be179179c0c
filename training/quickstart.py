"""``listingguard quickstart``: the whole path on embedded defaults, end to end over HTTP.

Generates demo data, trains and registers a model, pulls the champion as a bundle, starts
``listingguard-serve`` as a subprocess (training and serving never import each other), scores
the demo validation listings over HTTP and prints what happened.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.demo import write_demo_dataset
from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from training import tracking
from training.config import TrainConfig, load_config
from training.errors import TrainingError
from training.runner import run_training
from training.summary import promise_lines
from training.workspace import var_dir

Echo = Callable[[str], None]
DEMO_MAPPING = "demo"
QUICKSTART_POLICY = "marketplace-example"
"""The example policy with several markets (alcohol licensed in the US, prohibited in India)."""
READY_TIMEOUT_SECONDS = 60.0
DEMO_KEYS = {
    "demo-pipeline": "pipeline",
    "demo-reviewer": "reviewer",
    "demo-senior": "senior_reviewer",
    "demo-qa": "qa",
}
"""The keys the quickstart creates: name -> role."""
BATCH = 200


QUICK_TRANSFORMER = {
    "max_steps": 120,
    "batch_size": 16,
    "max_length": 32,
    "learning_rate": 2e-4,
    "evaluate_every_steps": 40,
    "patience": 3,
}
"""The quickstart's tiny fine-tuning (demo data is easy; real data wants the defaults)."""


def quickstart_config(family: str) -> TrainConfig:
    config = load_config()
    if family == "hashed-linear":
        return config
    raw = config.model_dump(mode="json")
    raw["family"] = family
    raw["transformer"].update(QUICK_TRANSFORMER)
    return TrainConfig.model_validate(raw)


def run_quickstart(
    *, rows: int, port: int, smoke: bool, echo: Echo, family: str = "hashed-linear"
) -> None:
    demo_dir = var_dir() / "demo"
    train_file = write_demo_dataset(demo_dir / "train", n=rows, seed=1)
    validation_file = write_demo_dataset(demo_dir / "validation", n=max(rows // 4, 200), seed=2)
    echo(f"demo data: {train_file} and {validation_file}")
    run = run_training(
        str(train_file),
        DEMO_MAPPING,
        config=quickstart_config(family),
        validation=str(validation_file),
        echo=echo,
    )
    if run.registered is None:
        raise TrainingError("quickstart needs a registered model version")
    champion = tracking.set_alias(run.registered.name, "champion", run.registered.version)
    bundle = var_dir() / "bundles" / "current"
    tracking.download_version(champion, bundle, force=True)
    echo(f"pulled {champion.name}@champion (v{champion.version}) -> {bundle}")
    for line in promise_lines(run.card):
        echo(line)
    database_url = f"sqlite:///{var_dir() / 'listingguard.db'}"
    keys = _issue_keys(database_url)
    server, base_url = _start_server(bundle, port, database_url, echo)
    try:
        _score_demo(base_url, validation_file, keys, echo)
        _print_keys(base_url, keys, echo)
        if smoke:
            return
        echo("serving; press Ctrl-C to stop")
        server.wait()
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        _stop(server)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _issue_keys(database_url: str) -> dict[str, str]:
    """A demo key per role the walk-through uses, created by ``listingguard-serve keys``."""
    keys = {}
    serve = [sys.executable, "-m", "serving.cli", "--database-url", database_url]
    for name, role in DEMO_KEYS.items():
        created = subprocess.run(
            [*serve, "keys", "create", "--name", name, "--role", role],
            capture_output=True,
            text=True,
            check=False,
        )
        if created.returncode != 0:
            raise TrainingError(f"could not create the demo {role} key: {created.stderr.strip()}")
        keys[role] = created.stdout.split()[0]
    return keys


def _print_keys(base_url: str, keys: dict[str, str], echo: Echo) -> None:
    echo("demo API keys (in var/listingguard.db; make more with listingguard-serve keys create):")
    for role, key in keys.items():
        echo(f"  {role:<16} {key}")
    echo(f"reviewer console: {base_url}/console (sign in with the reviewer key)")


def _start_server(
    bundle: Path, port: int, database_url: str, echo: Echo
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or _free_port()
    command = [
        sys.executable,
        "-m",
        "serving.cli",
        "--bundle",
        str(bundle),
        "--port",
        str(port),
        "--database-url",
        database_url,
        "--policy",
        QUICKSTART_POLICY,
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise TrainingError(f"the server exited with status {server.returncode} at startup")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                if response.status == 200:
                    echo(f"server ready at {base_url} (docs: {base_url}/docs)")
                    return server, base_url
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    _stop(server)
    raise TrainingError(f"the server did not become ready within {READY_TIMEOUT_SECONDS:.0f}s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _post(url: str, payload: dict[str, Any], key: str) -> Any:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _get(url: str, key: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _score_demo(base_url: str, validation_file: Path, keys: dict[str, str], echo: Echo) -> None:
    mapping = load_mapping(resolve_mapping_path(DEMO_MAPPING))
    listings = [
        row.listing.model_dump(mode="json") for row in load_labeled(validation_file, mapping).rows
    ]
    decisions: list[dict[str, Any]] = []
    for start in range(0, len(listings), BATCH):
        batch = {"listings": listings[start : start + BATCH]}
        body = _post(f"{base_url}/v1/score/batch", batch, keys["pipeline"])
        decisions += body["results"]
    actions = Counter(decision["action"] for decision in decisions)
    echo(
        f"scored {len(decisions)} demo listings over HTTP: "
        + ", ".join(f"{actions.get(action, 0)} {action}" for action in ("allow", "review", "block"))
    )
    for action in ("block", "review", "allow"):
        example = next((d for d in decisions if d["action"] == action), None)
        if example:
            echo(_describe(example, listings))
    missing = [action for action in ("allow", "review", "block") if not actions.get(action)]
    if missing:
        raise TrainingError(f"no demo listing was routed to {', '.join(missing)}")
    queue = _get(f"{base_url}/v1/queue?status=open&limit=1", keys["reviewer"])
    echo(f"review queue: {queue['total']} open items")
    audits = _get(f"{base_url}/v1/queue?kind=qa&status=open&limit=1", keys["qa"])
    echo(f"QA audit sample: {audits['total']} decisions drawn for blind audit")
    sample = json.dumps({"listing_id": "try-1", "title": "replica rolex watch aaa quality"})
    echo(
        f"try it: curl -s -X POST {base_url}/v1/score -H 'Content-Type: application/json' "
        f"-H 'Authorization: Bearer {keys['pipeline']}' -d '{sample}'"
    )


def _describe(decision: dict[str, Any], listings: list[dict[str, Any]]) -> str:
    title = next(item["title"] for item in listings if item["listing_id"] == decision["listing_id"])
    scores = ", ".join(
        f"{label} {value['probability']:.2f} ({value['band']})"
        for label, value in decision["labels"].items()
    )
    riskiest = max(decision["labels"], key=lambda label: decision["labels"][label]["probability"])
    phrases = [reason["phrase"] for reason in decision["labels"][riskiest]["reasons"]]
    indent = " " * 10
    return (
        f"  {decision['action']:>6}: {title[:60]!r}\n{indent}{scores}\n"
        f"{indent}{riskiest} reasons: {phrases}"
    )
