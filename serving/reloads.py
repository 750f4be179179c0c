"""The service's model and policy: loaded at startup, re-read on SIGHUP without a restart.

On SIGHUP the service re-reads the configured bundle directory and policy file in a worker
thread (opening a graph takes a second; the event loop keeps answering). A bundle whose card
is the served one's, field for field, is not reopened (its graph hash is on the card). Any other
goes through every check serving applies at startup (card, binding fingerprint, graph hash,
inputs and outputs) and must score the labels of the served one in the same taxonomy (stored
decisions, QA verdicts and the console are shaped by them: changing them takes a restart); the
policy is checked against it. Then model and policy are swapped in one step on the event loop,
so a request is decided wholly under the old pair or the new one; requests already scoring
finish on the model they started with. A configured shadow challenger
(``LISTINGGUARD_SHADOW_BUNDLE``) is re-read the same way and swapped with them. Whatever fails
is refused with one logged line naming what, and the pair in force stays. Promotion is
``listingguard models pull NAME@champion DIR --force`` into the served directory, then
``kill -HUP``; serving never imports MLflow.
"""

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from models.bundle import ModelCard, read_card
from models.errors import BundleError, PolicyError
from models.policy import Policy, default_policy
from models.policy_file import load_policy
from models.scorer import BundleScorer
from serving.collector import refreeze
from serving.deps import ServiceState

LOGGER = logging.getLogger("listingguard.reload")


def service_policy(policy_spec: str | None, card: ModelCard) -> Policy:
    """The configured policy file checked against the card's taxonomy, else its default policy."""
    if policy_spec is None:
        return default_policy(card.taxonomy)
    return load_policy(policy_spec, card.taxonomy)


def same_labels(card: ModelCard, served: ModelCard, folder: Path, *, what: str) -> None:
    """Refuse a bundle whose labels or taxonomy differ from the served model's."""
    if card.labels != served.labels or card.taxonomy != served.taxonomy:
        raise BundleError(
            f"{folder}: model {card.model_id} scores {card.labels} (taxonomy "
            f"{card.taxonomy.name!r}); the service serves {served.labels} (taxonomy "
            f"{served.taxonomy.name!r}): {what}"
        )


def shadow_scorer(
    folder: Path | None, champion: ModelCard, current: BundleScorer | None, threads: int | None
) -> BundleScorer | None:
    """The challenger to score in shadow: ``current`` when ``folder`` still holds it, else the
    bundle opened and checked (the champion's labels and taxonomy); None without a folder."""
    if folder is None:
        return None
    if current is not None and read_card(folder) == current.card:
        return current
    shadow = BundleScorer(folder, threads=threads)
    same_labels(shadow.card, champion, folder, what="a shadow must score the champion's labels")
    return shadow


@dataclass(frozen=True)
class Loaded:
    scorer: BundleScorer
    policy: Policy
    shadow: BundleScorer | None
    new_model: bool


def load_configured(state: ServiceState) -> Loaded:
    """The configured bundle (reopened only when it holds another model), shadow and policy,
    checked; raises :class:`BundleError` or :class:`PolicyError` naming what is wrong."""
    settings, served = state.settings, state.scorer
    assert settings.bundle is not None  # the service started with one
    card = read_card(settings.bundle)
    new_model = card != served.card
    scorer = served
    if new_model:
        same_labels(card, served.card, settings.bundle, what="other labels need a restart")
        scorer = BundleScorer(settings.bundle, threads=settings.inference_threads)
    shadow = shadow_scorer(
        settings.shadow_bundle, scorer.card, state.shadow, settings.inference_threads
    )
    return Loaded(scorer, service_policy(settings.policy, scorer.card), shadow, new_model)


async def reload_service(state: ServiceState, lock: asyncio.Lock) -> Loaded:
    """Load and check in a thread, then swap model and policy together; on error raise and keep
    the pair in force (one reload at a time)."""
    async with lock:
        try:
            loaded = await asyncio.to_thread(load_configured, state)
        except BundleError:
            state.metrics.reloads.labels("model", "refused").inc()
            raise
        except PolicyError:
            state.metrics.reloads.labels("policy", "refused").inc()
            raise
        previous = (state.scorer.card.model_id, state.policy.version)
        state.scorer, state.policy, state.shadow = loaded.scorer, loaded.policy, loaded.shadow
        refreeze()
        state.metrics.serving(loaded.scorer.card, loaded.policy)
        if loaded.new_model:
            state.metrics.reloads.labels("model", "ok").inc()
        state.metrics.reloads.labels("policy", "ok").inc()
        LOGGER.info(
            "reloaded: model %s, policy %s (was %s, %s)",
            loaded.scorer.card.model_id,
            loaded.policy.version,
            *previous,
        )
        return loaded


def reload_on_sighup(state: ServiceState) -> bool:
    """Reload on SIGHUP; False where signals cannot be handled (not the main thread)."""
    lock = asyncio.Lock()
    tasks: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            await reload_service(state, lock)
        except (BundleError, PolicyError) as error:
            LOGGER.error(
                "reload refused, model %s and policy %s stay: %s",
                state.scorer.card.model_id,
                state.policy.version,
                error,
            )
        except Exception:  # a folder half-copied, unreadable bytes: refused all the same
            state.metrics.reloads.labels("model", "refused").inc()
            LOGGER.exception(
                "reload refused, model %s and policy %s stay",
                state.scorer.card.model_id,
                state.policy.version,
            )

    def handle() -> None:
        task = asyncio.get_running_loop().create_task(reload())
        tasks.add(task)  # keep a reference until done
        task.add_done_callback(tasks.discard)

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, handle)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True
