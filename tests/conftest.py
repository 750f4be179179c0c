"""Fixtures shared by the whole suite: shared data location and real databases."""

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from filelock import FileLock

# Under pytest-xdist each worker process gets a core: math libraries (torch, BLAS) that start a
# thread per core in every worker oversubscribe the machine and spin-wait against each other
# (measured: the transformer and training tests took 2.2x as long with the default threads).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_threads, "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def shared_dir() -> Path:
    """Where ../shared lives: ``LISTINGGUARD_SHARED_DIR`` or the repository's sibling."""
    configured = os.environ.get("LISTINGGUARD_SHARED_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared"


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """``build(folder)`` once per test run, shared by every pytest-xdist worker of the run.

    Session fixtures run once per worker process; a trained bundle costs seconds of both cores,
    so the first worker builds it under a lock in the run's common temporary folder and the
    others read the same files (tests never write into a session fixture's folder)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name) / name
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent / "built-once"
    root.mkdir(exist_ok=True)
    folder, done = root / name, root / f"{name}.done"
    with FileLock(root / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def marketplace_dir() -> Path:
    path = shared_dir() / "data" / "marketplace-risk-v1"
    if not (path / "train.jsonl").is_file():
        pytest.skip(f"shared data absent: {path} (set LISTINGGUARD_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def sms_spam_file() -> Path:
    path = shared_dir() / "data" / "sms-spam-collection" / "SMSSpamCollection"
    if not path.is_file():
        pytest.skip(f"shared data absent: {path} (set LISTINGGUARD_SHARED_DIR)")
    return path


def _postgres_admin_url() -> str:
    return os.environ.get("LISTINGGUARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("LISTINGGUARD_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (LISTINGGUARD_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"no PostgreSQL server answers: {reason}")


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Headless Debian Chromium under Playwright; skipped (or, in CI, failed) without it.

    Per module: Playwright's sync API keeps an event loop running in the main thread while it
    is open, which would break any later test that runs its own loop."""
    reason = "" if CHROMIUM.is_file() else f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        reason = reason or f"playwright is not installed: {error}"
    if reason:
        if os.environ.get("LISTINGGUARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"a browser is required (LISTINGGUARD_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[object]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        _postgres_unavailable(str(error).splitlines()[0])
    yield engine
    engine.dispose()


@contextmanager
def _postgres_database(admin: object, template: str | None = None) -> Iterator[str]:
    """A freshly created, uniquely named PostgreSQL database (a copy of ``template``, else
    empty), dropped afterwards."""
    from sqlalchemy import Engine, text
    from sqlalchemy.engine import make_url

    assert isinstance(admin, Engine)
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    url = make_url(_postgres_admin_url()).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_postgres_template(postgres_admin_engine: object) -> Iterator[str]:
    """A database migrated to head once per session; tests get copies of it (``CREATE DATABASE
    ... TEMPLATE``: about 0.04 s, where migrating a new one takes about 0.3 s)."""
    from sqlalchemy.engine import make_url

    from serving.db import upgrade_database

    with _postgres_database(postgres_admin_engine) as url:
        upgrade_database(url)  # disposes its engine: a template must have no open connection
        yield str(make_url(url).database)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_admin_engine: object) -> Iterator[str]:
    """A fresh PostgreSQL database, already migrated to head — empty for tests marked
    ``blank_database`` (the migration tests) — dropped afterwards."""
    template = None
    if request.node.get_closest_marker("blank_database") is None:
        template = str(request.getfixturevalue("migrated_postgres_template"))
    with _postgres_database(postgres_admin_engine, template) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per session; tests get copies of the file
    (a copy takes well under a millisecond, migrating a new one about 0.1 s)."""
    from serving.db import upgrade_database

    path = tmp_path_factory.mktemp("sqlite-template") / "listingguard.db"
    upgrade_database(f"sqlite:///{path}")  # disposes its engine: the WAL is checkpointed
    assert not path.with_name(f"{path.name}-wal").exists(), "the template left a WAL behind"
    return path


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite database file, already migrated to head — none at all for tests marked
    ``blank_database``."""
    path = tmp_path / "listingguard.db"
    if request.node.get_closest_marker("blank_database") is None:
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture(scope="session")
def demo_rows() -> list[object]:
    """Demo training rows (generated, never real data)."""
    from data.demo import generate_demo_listings

    return list(generate_demo_listings(n=2000, seed=101))


@pytest.fixture(scope="session")
def demo_validation_rows() -> list[object]:
    from data.demo import generate_demo_listings

    return list(generate_demo_listings(n=500, seed=202))


@pytest.fixture(scope="session")
def demo_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    demo_rows: list[object],
    demo_validation_rows: list[object],
) -> Path:
    """A real bundle (ONNX + card) trained once per test run on demo data, without MLflow."""
    from training.config import load_config
    from training.pipeline import train_bundle

    def build(bundle_dir: Path) -> None:
        train_bundle(
            demo_rows,  # type: ignore[arg-type]
            config=load_config(),
            data_fingerprint="demo-test",
            bundle_dir=bundle_dir,
            validation_rows=demo_validation_rows,  # type: ignore[arg-type]
        )

    return built_once(tmp_path_factory, "demo-bundle", build)


@pytest.fixture(scope="session")
def second_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    demo_rows: list[object],
    demo_validation_rows: list[object],
) -> Path:
    """Another model of the demo bundle's labels (a challenger): a stronger penalty, fewer rows."""
    from training.config import load_config
    from training.pipeline import train_bundle

    config = load_config()
    config = config.model_copy(update={"model": config.model.model_copy(update={"c": 1.0})})

    def build(bundle_dir: Path) -> None:
        train_bundle(
            demo_rows[:1500],  # type: ignore[arg-type]
            config=config,
            data_fingerprint="demo-second",
            bundle_dir=bundle_dir,
            validation_rows=demo_validation_rows,  # type: ignore[arg-type]
        )

    return built_once(tmp_path_factory, "second-bundle", build)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Hugging Face encoder folder, tiny and randomly initialized (no download)."""
    from tests.transformer_fixtures import tiny_encoder_folder

    return built_once(tmp_path_factory, "tiny-encoder", tiny_encoder_folder)


def _tiny_bundle(
    family: str,
    tmp_path_factory: pytest.TempPathFactory,
    encoder: Path,
    rows: list[object],
    validation: list[object],
    *,
    ensemble_head: str = "auto",
) -> Path:
    from tests.transformer_fixtures import tiny_config
    from training.config import EnsembleParams
    from training.pipeline import train_bundle

    config = tiny_config(family, encoder).model_copy(
        update={"ensemble": EnsembleParams(head=ensemble_head)}  # type: ignore[arg-type]
    )

    def build(root: Path) -> None:
        train_bundle(
            rows,  # type: ignore[arg-type]
            config=config,
            data_fingerprint=f"demo-{family}",
            bundle_dir=root / "bundle",
            validation_rows=validation[:200],  # type: ignore[arg-type]
            checkpoint_dir=root / "checkpoints",
        )

    return built_once(tmp_path_factory, f"{family}-{ensemble_head}", build) / "bundle"


@pytest.fixture(scope="session")
def transformer_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_encoder: Path,
    demo_rows: list[object],
    demo_validation_rows: list[object],
) -> Path:
    """A transformer-family bundle (int8) fine-tuned for a few steps on demo data."""
    return _tiny_bundle(
        "transformer", tmp_path_factory, tiny_encoder, demo_rows, demo_validation_rows
    )


@pytest.fixture(scope="session")
def ensemble_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_encoder: Path,
    demo_rows: list[object],
    demo_validation_rows: list[object],
) -> Path:
    """An ensemble-family bundle (n-grams + the tiny transformer, one merged graph)."""
    return _tiny_bundle("ensemble", tmp_path_factory, tiny_encoder, demo_rows, demo_validation_rows)


@pytest.fixture(scope="session")
def joint_ensemble_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_encoder: Path,
    demo_rows: list[object],
    demo_validation_rows: list[object],
) -> Path:
    """An ensemble whose every label has a joint head (n-grams + pooled embedding)."""
    return _tiny_bundle(
        "ensemble",
        tmp_path_factory,
        tiny_encoder,
        demo_rows,
        demo_validation_rows,
        ensemble_head="joint",
    )
