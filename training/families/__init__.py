"""Model families behind one lifecycle (:mod:`training.families.lifecycle`).

``hashed-linear`` needs the ``train`` extra only; ``transformer`` and ``ensemble`` also need the
``transformer`` extra (torch, transformers, the bundled encoder weights), imported only when
one of them is asked for.
"""

from training.errors import TrainingError
from training.families.lifecycle import ModelFamily


def family_for(name: str) -> type[ModelFamily]:
    """The family class of a config's ``family`` name."""
    if name == "hashed-linear":
        from training.families.hashed import HashedLinearFamily

        return HashedLinearFamily
    if name in ("transformer", "ensemble"):
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as error:
            raise TrainingError(
                f"the {name} family needs the transformer extra: "
                f".venv/bin/pip install -e '.[transformer]' ({error})"
            ) from error
        if name == "transformer":
            from training.families.transformer import TransformerFamily

            return TransformerFamily
        from training.families.ensemble import EnsembleFamily

        return EnsembleFamily
    raise TrainingError(f"unknown model family {name!r} (hashed-linear, transformer, ensemble)")
