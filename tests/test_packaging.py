"""The wheel, installed with only its ``serve`` extra into a fresh venv, serves a real bundle.

Checks what the repository checkout would hide: the wheel carries every module and data file
serving needs, ``import serving`` resolves to the installed copy, and the scoring process never
loads a training library.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

PACKAGES = ("data", "models", "training", "evaluation", "serving")
HEAVY = ("torch", "sklearn", "mlflow", "pandas", "datasets", "scipy", "transformers")
PIP_TIMEOUT_SECONDS = 600
PROBE_TIMEOUT_SECONDS = 180

# Runs inside the fresh venv: serves the bundle in a thread of this very process, so that the
# sys.modules check below sees everything the server imported.
PROBE = """
import json, socket, sys, threading, time, urllib.error, urllib.request
from pathlib import Path

import uvicorn

import serving
from serving.app import create_app
from serving.settings import Settings

bundle, database, heavy = Path(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
key = sys.argv[4]
app = create_app(Settings(bundle=bundle, database_url=f"sqlite:///{database}"))
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
base = f"http://127.0.0.1:{listener.getsockname()[1]}"
server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
thread.start()

ready_status = None
deadline = time.monotonic() + 60
while ready_status != 200 and time.monotonic() < deadline and thread.is_alive():
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
            ready_status = response.status
    except urllib.error.HTTPError as error:
        ready_status = error.code
        time.sleep(0.1)
    except OSError:
        time.sleep(0.1)

listing = {"listing_id": "pkg-1", "title": "replica rolex watch aaa quality", "price": 25.0}
request = urllib.request.Request(
    f"{base}/v1/score",
    data=json.dumps(listing).encode(),
    headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
)
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        score_status, body = response.status, json.loads(response.read())
except urllib.error.HTTPError as error:
    score_status, body = error.code, {"error": error.read().decode(errors="replace")}

server.should_exit = True
thread.join(timeout=30)
print(json.dumps({
    "ready_status": ready_status,
    "score_status": score_status,
    "action": body.get("action"),
    "labels": sorted(body.get("labels", {})),
    "heavy_loaded": sorted(name for name in heavy if name in sys.modules),
    "serving_file": serving.__file__,
    "server_stopped": not thread.is_alive(),
}))
"""


@dataclass(frozen=True)
class ServeVenv:
    root: Path
    python: Path
    bin: Path
    workdir: Path


def clean_env() -> dict[str, str]:
    """The environment minus anything that could point Python at the checkout or our settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
        and not name.startswith("LISTINGGUARD_")
    }


def run_checked(command: list[str | Path], *, cwd: Path, timeout: float) -> str:
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, (
        f"{command} exited with status {completed.returncode}\n"
        f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    )
    return completed.stdout


def copy_source(target: Path) -> Path:
    """The project's packaging inputs only, so a stale ``build/`` in the checkout cannot leak in."""
    target.mkdir()
    for path in REPO_ROOT.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, target / path.name)
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return target


@pytest.fixture(scope="module")
def serve_venv(tmp_path_factory: pytest.TempPathFactory) -> ServeVenv:
    root = tmp_path_factory.mktemp("packaging")
    source = copy_source(root / "source")
    started = time.perf_counter()
    run_checked(
        [sys.executable, "-m", "build", "--wheel", "--outdir", root / "dist", source],
        cwd=root,
        timeout=PIP_TIMEOUT_SECONDS,
    )
    (wheel,) = (root / "dist").glob("listingguard-*.whl")
    run_checked([sys.executable, "-m", "venv", root / "venv"], cwd=root, timeout=120)
    bin_dir = root / "venv" / "bin"
    run_checked(
        [bin_dir / "python", "-m", "pip", "install", "-q", f"{wheel}[serve]"],
        cwd=root,
        timeout=PIP_TIMEOUT_SECONDS,
    )
    print(f"built the wheel and installed it with [serve] in {time.perf_counter() - started:.0f}s")
    workdir = root / "work"
    workdir.mkdir()
    return ServeVenv(root / "venv", bin_dir / "python", bin_dir, workdir)


def test_import_serving_resolves_to_the_installed_wheel(serve_venv: ServeVenv) -> None:
    code = "import serving, sys; print(serving.__file__); print(sys.path)"
    output = run_checked([serve_venv.python, "-I", "-c", code], cwd=serve_venv.workdir, timeout=60)
    location = Path(output.splitlines()[0]).resolve()
    assert location.is_relative_to(serve_venv.root.resolve()), output
    assert "site-packages" in location.parts, output
    assert str(REPO_ROOT) not in output, "the checkout is on the new venv's sys.path"


def test_console_scripts_are_installed(serve_venv: ServeVenv) -> None:
    help_text = run_checked(
        [serve_venv.bin / "listingguard-serve", "--help"], cwd=serve_venv.workdir, timeout=60
    )
    assert "--bundle" in help_text
    # Same distribution, without the train extra: the script is there even if training needs more.
    assert (serve_venv.bin / "listingguard").is_file()


@pytest.mark.parametrize("family_bundle", ["demo_bundle", "transformer_bundle", "ensemble_bundle"])
def test_installed_server_scores_without_loading_training_libraries(
    serve_venv: ServeVenv, family_bundle: str, request: pytest.FixtureRequest
) -> None:
    """Every family is served by onnxruntime and tokenizers alone: no torch, no transformers."""
    demo_bundle = request.getfixturevalue(family_bundle)
    probe = serve_venv.workdir / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    database = serve_venv.workdir / f"{family_bundle}.db"
    key = run_checked(
        [
            *(serve_venv.bin / "listingguard-serve", "--database-url", f"sqlite:///{database}"),
            *("keys", "create", "--name", "packaging-probe", "--role", "pipeline"),
        ],
        cwd=serve_venv.workdir,
        timeout=PROBE_TIMEOUT_SECONDS,
    ).split()[0]
    started = time.perf_counter()
    output = run_checked(
        [serve_venv.python, "-I", probe, demo_bundle, database, ",".join(HEAVY), key],
        cwd=serve_venv.workdir,
        timeout=PROBE_TIMEOUT_SECONDS,
    )
    print(f"installed server started and scored in {time.perf_counter() - started:.1f}s")
    report = json.loads(output.strip().splitlines()[-1])
    print(report)
    assert report["ready_status"] == 200, report
    assert report["score_status"] == 200, report
    assert report["action"] in {"allow", "review", "block"}, report
    assert report["labels"] == ["counterfeit", "fraud", "regulated"], report
    assert report["heavy_loaded"] == [], report
    assert Path(report["serving_file"]).resolve().is_relative_to(serve_venv.root.resolve())
    assert report["server_stopped"], report
