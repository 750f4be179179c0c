"""The case library as moderator training material: JSON lines and one printable HTML page."""

import dataclasses
import json
from datetime import datetime
from typing import IO, Any

from serving.case_library import Case
from serving.console.templating import render, report_style


def case_document(case: Case) -> dict[str, Any]:
    document = dataclasses.asdict(case)
    document["decided_at"] = case.decided_at.isoformat()
    return document


def write_cases_jsonl(cases: list[Case], handle: IO[str]) -> int:
    for case in cases:
        handle.write(json.dumps(case_document(case), ensure_ascii=False, sort_keys=True) + "\n")
    return len(cases)


def cases_html(
    cases: list[Case],
    *,
    generated_at: datetime,
    policy_version: str,
    filters: dict[str, str | None],
    standalone: bool,
) -> str:
    """A printable page of the cases; ``standalone`` embeds its stylesheet (a saved file),
    otherwise it links the served one (the console's CSP admits no inline style)."""
    return render(
        "cases_print.html",
        cases=cases,
        generated_at=generated_at,
        policy_version=policy_version,
        filters={name: value for name, value in filters.items() if value},
        changed=sum(case.outcome_now == "differs" for case in cases),
        style=report_style() if standalone else None,
    )
