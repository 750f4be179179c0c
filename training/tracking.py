"""MLflow: the tracking store, runs, the model registry and its aliases.

A bundle is logged as the run artifact folder ``bundle`` and registered as a model version whose
source is that folder, so ``models pull`` gives back the very bytes that were logged.
"""

import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import RegistryError
from training.workspace import quiet_third_parties, var_dir

EXPERIMENT = "listingguard"
BUNDLE_ARTIFACT = "bundle"
ALIASES = ("champion", "challenger")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or a SQLite store under ``var/mlflow``."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    folder = var_dir() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def ui_command(*, host: str, port: int) -> list[str]:
    """``mlflow ui`` on this project's store: tracking database and artifact folder named, so
    it never creates a stray ``mlflow.db`` in the working directory."""
    artifacts = (var_dir() / "mlflow" / "artifacts").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return [
        str(Path(sys.executable).parent / "mlflow"),
        "ui",
        "--backend-store-uri",
        tracking_uri(),
        "--default-artifact-root",
        artifacts.as_uri(),
        "--host",
        host,
        "--port",
        str(port),
        # One worker: a local UI for one person, and it starts in about two thirds of the time.
        "--workers",
        "1",
    ]


def tracked_mlflow() -> Any:
    """The ``mlflow`` module, imported on first use (it takes seconds) and pointed at our store."""
    quiet_third_parties()
    import mlflow

    # MLflow logs its own schema migrations at INFO on every new store: not news for our users.
    logging.getLogger("mlflow").setLevel(logging.WARNING)

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def experiment_id() -> str:
    mlflow = tracked_mlflow()
    existing = mlflow.get_experiment_by_name(EXPERIMENT)
    if existing is not None:
        return str(existing.experiment_id)
    artifacts = (var_dir() / "mlflow" / "artifacts").resolve()
    return str(mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri()))


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str | None
    source: str
    aliases: tuple[str, ...]
    created_at_ms: int


def register_bundle(name: str, run_id: str, artifact_uri: str) -> RegisteredVersion:
    """Register the run's bundle folder as a new version of model ``name``."""
    client = tracked_mlflow().MlflowClient()
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    created = client.create_model_version(
        name, source=f"{artifact_uri}/{BUNDLE_ARTIFACT}", run_id=run_id
    )
    return _describe(client, name, str(created.version))


def set_alias(name: str, alias: str, version: str) -> RegisteredVersion:
    if alias not in ALIASES:
        raise RegistryError(f"alias {alias!r} is not one of {', '.join(ALIASES)}")
    client = tracked_mlflow().MlflowClient()
    _describe(client, name, version)
    client.set_registered_model_alias(name, alias, version)
    return _describe(client, name, version)


def list_versions(name: str | None = None) -> list[RegisteredVersion]:
    client = tracked_mlflow().MlflowClient()
    names = [name] if name else [model.name for model in client.search_registered_models()]
    versions = []
    for model_name in names:
        found = client.search_model_versions(filter_string=f"name = '{model_name}'")
        versions += [_describe(client, model_name, str(item.version)) for item in found]
    return sorted(versions, key=lambda item: (item.name, -int(item.version)))


def resolve(reference: str) -> RegisteredVersion:
    """``NAME@ALIAS`` or ``NAME/VERSION`` (also with a ``models:/`` prefix) -> that version."""
    spec = reference.removeprefix("models:/")
    client = tracked_mlflow().MlflowClient()
    if "@" in spec:
        name, alias = spec.split("@", 1)
        try:
            version = client.get_model_version_by_alias(name, alias)
        except Exception as error:  # MLflow raises its generic MlflowException here
            raise RegistryError(f"no model version {name}@{alias} in {tracking_uri()}") from error
        return _describe(client, name, str(version.version))
    if "/" in spec:
        name, version_text = spec.split("/", 1)
        return _describe(client, name, version_text)
    raise RegistryError(f"{reference!r}: expected NAME@ALIAS or NAME/VERSION")


BUNDLE_FILES = frozenset({"model.onnx", "card.json", "tokenizer.json"})


def download_version(version: RegisteredVersion, destination: Path, *, force: bool = False) -> Path:
    """Copy a version's bundle folder into ``destination``.

    ``destination`` must not exist or be empty; with ``force`` an existing bundle folder (only
    bundle files in it) is replaced once the new one is downloaded.
    """
    from mlflow.artifacts import download_artifacts

    tracked_mlflow()
    existing = sorted(item.name for item in destination.iterdir()) if destination.is_dir() else []
    if existing and not force:
        raise RegistryError(f"{destination} is not empty: pull into a new folder, or pass --force")
    if existing and not set(existing) <= BUNDLE_FILES:
        raise RegistryError(
            f"{destination} holds files other than a bundle's ({', '.join(existing)}): "
            "not replacing it"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".pull-") as staging:
        target = Path(staging) / "download"
        local = Path(download_artifacts(artifact_uri=version.source, dst_path=str(target)))
        shutil.rmtree(destination, ignore_errors=True)
        # download_artifacts keeps the artifact folder's own name; that folder becomes destination.
        local.rename(destination)
    return destination


def _describe(client: Any, name: str, version: str) -> RegisteredVersion:
    try:
        found = client.get_model_version(name, version)
        aliases = client.get_registered_model(name).aliases
    except Exception as error:  # MLflow raises its generic MlflowException here
        raise RegistryError(
            f"no version {version} of model {name!r} in {tracking_uri()}"
        ) from error
    return RegisteredVersion(
        name=name,
        version=str(found.version),
        run_id=found.run_id,
        source=str(found.source),
        aliases=tuple(sorted(alias for alias, v in aliases.items() if str(v) == str(version))),
        created_at_ms=int(found.creation_timestamp or 0),
    )


def alias_version(name: str, alias: str) -> RegisteredVersion | None:
    """The version ``alias`` points at, or None where the model has no such alias (yet)."""
    client = tracked_mlflow().MlflowClient()
    aliases = _registered(client, name).aliases
    return _describe(client, name, str(aliases[alias])) if alias in aliases else None


def model_tag(name: str, key: str) -> str | None:
    """A registered model's tag, None where unset."""
    value = _registered(tracked_mlflow().MlflowClient(), name).tags.get(key)
    return None if value is None else str(value)


def set_model_tag(name: str, key: str, value: str) -> None:
    tracked_mlflow().MlflowClient().set_registered_model_tag(name, key, value)


def set_version_tag(version: RegisteredVersion, key: str, value: str) -> None:
    tracked_mlflow().MlflowClient().set_model_version_tag(version.name, version.version, key, value)


def version_tags(version: RegisteredVersion) -> dict[str, str]:
    found = tracked_mlflow().MlflowClient().get_model_version(version.name, version.version)
    return {str(key): str(value) for key, value in (found.tags or {}).items()}


def _registered(client: Any, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except Exception as error:  # MLflow raises its generic MlflowException here
        raise RegistryError(f"no registered model {name!r} in {tracking_uri()}") from error
