"""The risk taxonomy: the one place that names labels and regulated categories."""

from typing import Final

LABELS: Final[tuple[str, ...]] = ("fraud", "counterfeit", "regulated")
"""The three risk labels, in the order every model output and report uses."""

REGULATED_CATEGORIES: Final[tuple[str, ...]] = (
    "illicit_drugs",
    "prescription_drugs",
    "weapons",
    "tobacco",
    "drug_paraphernalia",
    "alcohol",
    "supplements",
    "otc_medicine",
)
"""Regulated product categories, in the order of the category head's outputs."""

CATEGORY_DESCRIPTIONS: Final[dict[str, str]] = {
    "illicit_drugs": "controlled substances without a legal retail channel",
    "prescription_drugs": "medicines sold only on prescription",
    "weapons": "firearms, ammunition, knives and other weapons",
    "tobacco": "tobacco and nicotine products",
    "drug_paraphernalia": "equipment for consuming drugs",
    "alcohol": "alcoholic beverages",
    "supplements": "vitamins, protein and dietary supplements",
    "otc_medicine": "over-the-counter medicines",
}
