"""The service's policy: loaded at startup, re-read on SIGHUP without a restart.

A file that fails to load or names labels the served model's taxonomy lacks is refused with one
logged line naming file, line and clause, and the policy in force stays. The swap is a single
assignment, so a request decides under the old policy or the new one, never a mix.
"""

import asyncio
import logging
import signal

from models.bundle import ModelCard
from models.errors import PolicyError
from models.policy import Policy, default_policy
from models.policy_file import load_policy
from serving.deps import ServiceState

LOGGER = logging.getLogger("listingguard.policy")


def service_policy(policy_spec: str | None, card: ModelCard) -> Policy:
    """The configured policy file checked against the card's taxonomy, else its default policy."""
    if policy_spec is None:
        return default_policy(card.taxonomy)
    return load_policy(policy_spec, card.taxonomy)


def reload_policy(state: ServiceState) -> Policy:
    """Re-read the configured policy and swap it in; on error raise and keep the old one."""
    try:
        policy = service_policy(state.settings.policy, state.scorer.card)
    except PolicyError:
        state.metrics.reloads.labels("policy", "refused").inc()
        raise
    previous, state.policy = state.policy, policy
    state.metrics.serving(state.scorer.card, policy)
    state.metrics.reloads.labels("policy", "ok").inc()
    LOGGER.info("policy reloaded: %s (was %s)", policy.version, previous.version)
    return policy


def reload_on_sighup(state: ServiceState) -> bool:
    """Reload the policy on SIGHUP; False where signals cannot be handled (not the main thread)."""

    def handle() -> None:
        try:
            reload_policy(state)
        except PolicyError as error:
            LOGGER.error("policy reload refused, %s stays: %s", state.policy.version, error)

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, handle)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True
