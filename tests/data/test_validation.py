from data.loaders import DUPLICATE_ID_REASON, LoadResult
from data.mapping import ColumnMapping
from data.validation import count_duplicate_titles, normalize_title, validate_dataset
from tests.data.factories import make_row

MAPPING = ColumnMapping.model_validate(
    {"name": "hand-made", "listing": {"title": "title"}, "labels": {"fraud": "fraud"}}
)


def _result() -> LoadResult:
    rows = [
        make_row("1", seller_id="s1", title="Red  Kettle", fraud=1, counterfeit=None),
        make_row(
            "2", seller_id="s1", title="red kettle", regulated=1, regulated_category="alcohol"
        ),
        make_row("3", seller_id="s2", title="Blue mug", regulated=None),
        make_row("4", title="Gin", regulated=1, regulated_category="alcohol", slices={"src": "a"}),
        make_row("5", title="Vitamins", regulated=1, regulated_category="supplements"),
    ]
    return LoadResult(
        file="listings.csv",
        mapping=MAPPING,
        rows=rows,
        dropped_by_reason={DUPLICATE_ID_REASON: 2, "title: Field required": 1},
        source_rows=8,
    )


def test_report_counts() -> None:
    report = validate_dataset(_result())
    assert (report.rows_read, report.rows_kept, report.rows_dropped) == (8, 5, 3)
    assert report.duplicate_listing_ids == 2
    assert report.duplicate_titles == 1
    balance = {b.label: (b.positives, b.negatives, b.unknown) for b in report.label_balance}
    assert balance == {"fraud": (1, 4, 0), "counterfeit": (0, 4, 1), "regulated": (3, 1, 1)}
    assert report.categories == {"alcohol": 2, "supplements": 1}
    assert report.category_label == "regulated"
    assert (report.sellers, report.rows_without_seller) == (2, 2)
    assert report.slice_values == {"src": 1}


def test_report_renders_readable_lines() -> None:
    text = "\n".join(validate_dataset(_result()).lines())
    assert "rows: 8 read, 5 kept, 3 dropped" in text
    assert "dropped, duplicate listing_id: 2" in text
    assert "fraud: 1 / 4 / 0 (20.00% positive among known)" in text
    assert "alcohol: 2" in text
    assert "sellers: 2 distinct seller ids (2 rows without one)" in text


def test_report_without_sellers_or_labels() -> None:
    rows = [make_row("1", fraud=None, counterfeit=None, regulated=None)]
    report = validate_dataset(LoadResult(file="f", mapping=MAPPING, rows=rows, source_rows=1))
    lines = report.lines()
    assert "sellers: no seller ids" in lines
    assert "  fraud: unknown for all 1 rows" in lines
    assert "regulated categories: none" in lines


def test_title_normalization() -> None:
    assert normalize_title("  Red\tKETTLE \n 2L ") == "red kettle 2l"
    assert normalize_title(normalize_title("Straße  X")) == normalize_title("Straße  X")
    assert count_duplicate_titles(["A b", "a  B", "A B", "c"]) == 2
