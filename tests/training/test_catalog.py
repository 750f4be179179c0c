"""Catalog scoring on a real Ray cluster (``ray start --head``), with resume and recording."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("ray")

from benchmarks.live_server import free_port, start_server, stop_server  # noqa: E402
from data.demo import generate_demo_listings  # noqa: E402
from data.schema import Listing  # noqa: E402
from models.scorer import BundleScorer  # noqa: E402
from training.catalog import catalog_policy, listing_fields, score_rows  # noqa: E402
from training.catalog_files import output_path  # noqa: E402
from training.cli import main  # noqa: E402

RAY_START_TIMEOUT_S = 120


def _write_catalog(folder: Path) -> list[Listing]:
    """Two Parquet files of demo listings, attributes as a map column; the second file also
    holds one invalid row."""
    listings = [row.listing for row in generate_demo_listings(n=120, seed=303)]
    folder.mkdir()
    rows = [listing.model_dump(mode="json") for listing in listings]
    rows.append({**rows[0], "listing_id": "bad-1", "title": "", "description": ""})
    for name, part in (("part-a", rows[:70]), ("part-b", rows[70:])):
        pq.write_table(_table(part), folder / f"{name}.parquet")
    return listings


def _table(rows: list[dict[str, object]]) -> object:
    plain = [{k: v for k, v in row.items() if k != "attributes"} for row in rows]
    pairs = [list(dict(row.get("attributes") or {}).items()) for row in rows]  # type: ignore[call-overload]
    attributes = pa.array(pairs, type=pa.map_(pa.string(), pa.string()))
    return pa.Table.from_pylist(plain).append_column("attributes", attributes)


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real local Ray head, started the way an operator starts a cluster; stopped after.

    Token authentication is off for this throwaway test cluster (head and clients alike), so the
    test neither reads nor writes the user's ``~/.ray/auth_token``."""
    ray_bin = Path(sys.executable).with_name("ray")
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    settings = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env = {**os.environ, **settings}
    head = [str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2"]
    head += ["--include-dashboard=false", "--object-store-memory=300000000"]
    head += ["--disable-usage-stats", f"--temp-dir={temp}"]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        subprocess.run(head, check=True, env=env, timeout=RAY_START_TIMEOUT_S, capture_output=True)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stop = [str(ray_bin), "stop", "--force"]
            subprocess.run(stop, env=env, timeout=60, capture_output=True)


def _scored(output: Path) -> dict[str, dict[str, object]]:
    rows = []
    for path in sorted(output.glob("*.scores.parquet")):
        rows += pq.read_table(path).to_pylist()
    return {str(row["listing_id"]): row for row in rows}


@pytest.mark.slow  # a Ray cluster
def test_catalog_scoring_on_a_ray_cluster_matches_the_scorer_and_resumes(
    tmp_path: Path, demo_bundle: Path, ray_address: str
) -> None:
    catalog, output = tmp_path / "catalog", tmp_path / "scores"
    listings = _write_catalog(catalog)
    runner = CliRunner()
    command = ["score-catalog", "--input", str(catalog), "--output", str(output)]
    command += ["--bundle", str(demo_bundle), "--address", ray_address, "--workers", "2"]
    first = runner.invoke(main, command)
    assert first.exit_code == 0, first.output
    assert "scored 121 listings from 2 file(s)" in first.output
    assert "1 invalid" in first.output

    # The same scores and actions as the bundle's scorer and routing in this process.
    scorer = BundleScorer(demo_bundle)
    expected = score_rows(
        [listing.model_dump(mode="json") for listing in listings],
        scorer,
        catalog_policy(None, scorer),
    )
    got = _scored(output)
    assert len(got) == 121
    for row in expected:
        stored = got[row["listing_id"]]
        assert stored["action"] == row["action"]
        for label in scorer.labels:
            assert stored[f"score_{label}"] == pytest.approx(row[f"score_{label}"], abs=1e-9)
    assert got["bad-1"]["action"] is None
    for part in ("part-a", "part-b"):  # each output keeps its input's row order
        read = pq.read_table(catalog / f"{part}.parquet").column("listing_id").to_pylist()
        written = pq.read_table(output_path(output, catalog / f"{part}.parquet"))
        assert written.column("listing_id").to_pylist() == read
    assert "title" in str(got["bad-1"]["error"]) or "listing" in str(got["bad-1"]["error"])

    # A crash after part-a was written and while part-b was in flight: part-a is kept as it is,
    # part-b (and its leftover partial file) is scored again.
    finished = output_path(output, catalog / "part-a.parquet")
    in_flight = output_path(output, catalog / "part-b.parquet")
    kept = finished.stat().st_mtime_ns
    shutil.move(in_flight, in_flight.with_name(f".{in_flight.name}.partial"))
    again = runner.invoke(main, command)
    assert again.exit_code == 0, again.output
    assert "skipping 1 finished file(s): part-a.parquet" in again.output
    assert "scored 51 listings from 1 file(s)" in again.output
    assert finished.stat().st_mtime_ns == kept
    assert _scored(output) == got

    # Nothing left to do: nothing is scored.
    done = runner.invoke(main, command)
    assert done.exit_code == 0 and "scored 0 listings" in done.output

    # A new export under the same name is not "finished": it is scored again.
    pq.write_table(_table(rows_of(listings[:5])), catalog / "part-a.parquet")
    renewed = runner.invoke(main, command)
    assert renewed.exit_code == 0, renewed.output
    assert "skipping 1 finished file(s): part-b.parquet" in renewed.output
    assert "scored 5 listings from 1 file(s)" in renewed.output


def rows_of(listings: list[Listing]) -> list[dict[str, object]]:
    return [listing.model_dump(mode="json") for listing in listings]


@pytest.mark.slow  # a Ray cluster
def test_recording_a_catalog_through_the_service(
    tmp_path: Path, demo_bundle: Path, ray_address: str
) -> None:
    catalog, output = tmp_path / "catalog", tmp_path / "scores"
    _write_catalog(catalog)
    server = start_server(demo_bundle, f"sqlite:///{tmp_path / 'service.db'}", tmp_path / "log")
    try:
        env = {"LISTINGGUARD_API_KEY": server.key}
        command = ["score-catalog", "--input", str(catalog), "--output", str(output)]
        command += ["--bundle", str(demo_bundle), "--address", ray_address]
        command += ["--record", f"http://127.0.0.1:{server.port}"]
        first = CliRunner().invoke(main, command, env=env)
        assert first.exit_code == 0, first.output
        # Same bundle and default policy, fresh database: the service decides as the catalog did.
        assert "recorded 120 listings from 2 file(s) (0 already stored, 0 decided otherwise" in (
            first.output
        )
        # The markers make a rerun record nothing again.
        again = CliRunner().invoke(main, command, env=env)
        assert again.exit_code == 0, again.output
        assert "recorded 0 listings from 0 file(s)" in again.output
        assert "2 file(s) were recorded before" in again.output
        for marker in output.glob("*.recorded"):
            marker.unlink()
        # Without the markers every listing is sent again and answered from the store.
        replay = CliRunner().invoke(main, command, env=env)
        assert "recorded 120 listings from 2 file(s) (120 already stored" in replay.output
    finally:
        stop_server(server.process)


def test_parquet_attributes_as_map_or_struct_read_as_the_listing_s() -> None:
    as_map = {"listing_id": "a", "title": "Lamp", "attributes": [("condition", "used")]}
    as_struct = {"listing_id": "a", "title": "Lamp", "attributes": {"condition": "used", "x": None}}
    assert listing_fields(as_map)["attributes"] == {"condition": "used"}
    assert listing_fields(as_struct)["attributes"] == {"condition": "used"}
    assert "price" not in listing_fields({"listing_id": "a", "price": None, "shop": "x"})


def test_files_whose_columns_differ_are_refused_before_ray_starts(
    tmp_path: Path, demo_bundle: Path
) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    rows = [{"listing_id": "a", "title": "Lamp", "attributes": {"condition": "used"}}]
    pq.write_table(pa.Table.from_pylist(rows), catalog / "a.parquet")
    pq.write_table(_table(rows), catalog / "b.parquet")  # attributes as a map here
    command = ["score-catalog", "--input", str(catalog), "--output", str(tmp_path / "o")]
    result = CliRunner().invoke(main, [*command, "--bundle", str(demo_bundle)])
    assert result.exit_code == 1
    assert "b.parquet: column attributes is map<string, string" in result.output
    assert "but struct<condition: string> in a.parquet" in result.output
    (catalog / "b.parquet").write_text("not parquet")
    broken = CliRunner().invoke(main, [*command, "--bundle", str(demo_bundle)])
    assert broken.exit_code == 1
    assert "b.parquet: not a readable Parquet file" in broken.output
    assert "the files of one catalog need the same columns" in result.output


def test_bad_input_is_a_one_line_error(tmp_path: Path, demo_bundle: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    base = ["score-catalog", "--input", str(empty), "--output", str(tmp_path / "o")]
    result = CliRunner().invoke(main, [*base, "--bundle", str(demo_bundle)])
    assert result.exit_code == 1
    assert f"{empty}: no .parquet files in this folder" in result.output
    no_key = CliRunner().invoke(
        main,
        [*base, "--bundle", str(demo_bundle), "--record", "http://127.0.0.1:9"],
        env={"LISTINGGUARD_API_KEY": ""},
    )
    assert no_key.exit_code == 2 and "needs an API key in $LISTINGGUARD_API_KEY" in no_key.output
