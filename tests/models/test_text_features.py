import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.schema import Listing
from models.text_features import FeatureHasher, FeatureSpec, normalize_text, pad_batch, tokenize

SPEC = FeatureSpec()


def listing(title: str, **fields: object) -> Listing:
    return Listing(listing_id="l-1", title=title, **fields)  # type: ignore[arg-type]


@settings(deadline=None, max_examples=200)
@given(st.text())
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_normalization_folds_case_width_and_space() -> None:
    full_width_rolex = "\uff32\uff2f\uff2c\uff25\uff38"
    assert normalize_text(f"  {full_width_rolex}\tSubmariner \n") == "rolex submariner"


def test_tokens_keep_inner_decimal_points() -> None:
    assert tokenize("Xanax 2.5mg, 10 pills!") == ["xanax", "2.5mg", "10", "pills"]


def test_same_listing_gives_same_features_in_a_new_hasher() -> None:
    first = FeatureHasher(SPEC).transform_one(listing("Replica watch AAA", price=99.0))
    second = FeatureHasher(FeatureSpec()).transform_one(listing("Replica watch AAA", price=99.0))
    assert first.ids.tolist() == second.ids.tolist()
    assert first.counts.tolist() == second.counts.tolist()


def test_ids_fall_in_their_block_range() -> None:
    features = FeatureHasher(SPEC).transform_one(
        listing("fake passport", description="novelty document", price=None)
    )
    blocks = SPEC.blocks()
    for feature_id, block in zip(features.ids, features.blocks, strict=True):
        spec = blocks[int(block)]
        assert spec.offset <= feature_id < spec.offset + spec.n_buckets
    assert {blocks[int(b)].name for b in features.blocks} == {
        "title_words",
        "title_chars",
        "description",
        "price",
    }


def test_repeated_words_are_counted_once_per_bucket() -> None:
    features = FeatureHasher(SPEC).transform_one(listing("gift gift gift"))
    assert len(set(features.ids.tolist())) == len(features.ids)
    assert features.counts.max() >= 3


def test_seller_and_id_never_change_features() -> None:
    hasher = FeatureHasher(SPEC)
    a = hasher.transform_one(Listing(listing_id="a", title="pills", seller_id="s1"))
    b = hasher.transform_one(Listing(listing_id="b", title="pills", seller_id="s2"))
    assert a.ids.tolist() == b.ids.tolist()


def test_pad_batch_pads_with_zero_id_and_count() -> None:
    hasher = FeatureHasher(SPEC)
    batch = pad_batch(
        [hasher.transform_one(listing("a b c d")), hasher.transform_one(listing("x"))]
    )
    width = batch["feature_ids"].shape[1]
    short = len(hasher.transform_one(listing("x")).ids)
    assert batch["feature_ids"].dtype == np.int64
    assert batch["feature_counts"].dtype == np.float32
    assert (batch["feature_ids"][1, short:] == 0).all()
    assert (batch["feature_counts"][1, short:] == 0).all()
    assert width == len(hasher.transform_one(listing("a b c d")).ids)


def test_padded_chunks_bound_memory_and_keep_order() -> None:
    from models.scorer import padded_chunks

    hasher = FeatureHasher(SPEC)
    long_text = " ".join(f"word{i}" for i in range(300))
    texts = ["a", long_text, "b", "c d"]
    items = [hasher.transform_one(listing("t", description=text)) for text in texts]
    chunks = padded_chunks(items, max_slots=len(items[1].ids) + 10)
    assert [item for chunk in chunks for item in chunk] == items
    for chunk in chunks:
        width = max(len(item.ids) for item in chunk)
        assert len(chunk) == 1 or width * len(chunk) <= len(items[1].ids) + 10


def test_term_group_feature_counts_group_tokens() -> None:
    from models.text_features import TermGroup

    spec = FeatureSpec(
        term_groups={"fakes": TermGroup(labels=("counterfeit",), tokens=("replica", "Fake"))}
    )
    hasher = FeatureHasher(spec)
    column = hasher.term_group_column("fakes")
    features = hasher.transform_one(listing("FAKE watch, replica box"))
    counts = dict(zip(features.ids.tolist(), features.counts.tolist(), strict=True))
    assert counts[column] == 2
    assert column not in hasher.transform_one(listing("genuine watch")).ids.tolist()


def test_term_group_labels_are_checked_against_the_taxonomy() -> None:
    from data.taxonomy import default_taxonomy
    from models.text_features import TermGroup
    from training.config import TrainConfig, check_config_labels
    from training.errors import TrainingError

    spec = FeatureSpec(term_groups={"junk": TermGroup(labels=("spam",), tokens=("x",))})
    with pytest.raises(
        TrainingError, match=r"term_groups.junk.labels: unknown label\(s\) \['spam'\]"
    ):
        check_config_labels(TrainConfig(features=spec), default_taxonomy())
