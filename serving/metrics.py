"""Prometheus metrics of the service process (prometheus-client), served at ``GET /metrics``.

Each service has its own registry (two apps in one process, as in the tests, never share
counts). Requests are counted by route template, never by raw path, so ids in paths cannot grow
the series without bound. Decisions are counted as they are answered (replays apart); the score
histograms take fresh decisions only, so a retried request is not counted twice. Queue depth and
age are read from the database at scrape time, under the request deadline. The model and policy
in force are info-style gauges (value 1), replaced on reload.

A single process counts in its own registry. Under ``listingguard-serve --workers N``
(:mod:`serving.workers`) prometheus-client's multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR``
set before the workers start): every worker writes its values to that directory and a scrape,
whichever worker answers it, sums counters and histograms over all of them. The scrape-time
queue gauges take the most recent reading; the model and policy info gauges the largest value
over live workers, so a model shows 1 while any worker serves it (a reload sets the replaced
series to 0, where a single process drops it).
"""

import collections
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, func, select

from models.bundle import ModelCard
from models.policy import Policy
from serving.tables import ACTIVE_STATUSES, WORK_ITEM_KINDS, WorkItem, utc_now

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS: Final = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS: Final = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
UNMATCHED_ROUTE: Final = "unmatched"
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self._in_force: list[tuple[Gauge, tuple[str, ...]]] = []
        registry = self.registry
        self.requests = Counter(
            "listingguard_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "listingguard_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.decisions = Counter(
            "listingguard_decisions",
            "Scoring decisions answered, by action and whether replayed from the store",
            ["action", "replayed"],
            registry=registry,
        )
        self.bands = Counter(
            "listingguard_label_bands",
            "Fresh scoring decisions per label and the band its score fell in",
            ["label", "band"],
            registry=registry,
        )
        self.scores = Histogram(
            "listingguard_score",
            "Calibrated probability per label of fresh scoring decisions",
            ["label"],
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.queue_items = Gauge(
            "listingguard_work_items_active",
            "Work items not yet closed, by kind and status (read at scrape time)",
            ["kind", "status"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.queue_oldest = Gauge(
            "listingguard_work_items_oldest_open_age_seconds",
            "Age of the oldest open (unclaimed) work item, by kind; 0 when none is open",
            ["kind"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.queue_read_ok = Gauge(
            "listingguard_work_items_read_ok",
            "1 when this scrape read the work-item figures from the database, else 0",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.model = Gauge(
            "listingguard_model_info",
            "The model being served (value 1)",
            ["model_id", "model_family", "threshold_set_id"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.policy = Gauge(
            "listingguard_policy_info",
            "The policy in force (value 1)",
            ["version"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.shadow = Counter(
            "listingguard_shadow_decisions",
            "Fresh decisions a shadow challenger also scored, by whether its action agreed",
            ["agreed"],
            registry=registry,
        )
        self.reloads = Counter(
            "listingguard_reloads",
            "Reloads of the policy or the model, by what and outcome",
            ["what", "outcome"],
            registry=registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_decisions(self, decisions: Iterable[Mapping[str, Any]]) -> None:
        """Count answers (:func:`serving.scoring.decision_fields`) by action, band and score
        (each series' count added once per call: a batch's listings counted together)."""
        actions: collections.Counter[tuple[str, str]] = collections.Counter()
        bands: collections.Counter[tuple[str, str]] = collections.Counter()
        histograms: dict[str, Any] = {}
        for decision in decisions:
            actions[decision["action"], "true" if decision["replayed"] else "false"] += 1
            if decision["replayed"]:
                continue
            for label, score in decision["labels"].items():
                bands[label, score["band"]] += 1
                histogram = histograms.get(label)
                if histogram is None:
                    histogram = histograms[label] = self.scores.labels(label)
                histogram.observe(score["probability"])
        for (action, replayed), count in actions.items():
            self.decisions.labels(action, replayed).inc(count)
        for (label, band), count in bands.items():
            self.bands.labels(label, band).inc(count)

    def serving(self, card: ModelCard, policy: Policy) -> None:
        """Record the model and policy in force (the previous ones' series are dropped; set to
        0 first, for the value a multiprocess scrape reads from this worker's file)."""
        for gauge, labels in self._in_force:
            gauge.labels(*labels).set(0)
            if self.multiprocess_dir is None:  # multiprocess mode cannot clear (it warns)
                gauge.clear()
        self._in_force = [
            (self.model, (card.model_id, card.model_family, card.threshold_set_id)),
            (self.policy, (policy.version,)),
        ]
        for gauge, labels in self._in_force:
            gauge.labels(*labels).set(1)

    def exposition(self, queue: "QueueFigures | None") -> bytes:
        """The text exposition; ``queue`` None (the database did not answer): the queue gauges
        keep their last values and the read-ok gauge says so."""
        self.queue_read_ok.set(0 if queue is None else 1)
        if queue is not None:
            for kind in WORK_ITEM_KINDS:
                for status in ACTIVE_STATUSES:
                    self.queue_items.labels(kind, status).set(queue.active.get((kind, status), 0))
                self.queue_oldest.labels(kind).set(queue.oldest_open_seconds.get(kind, 0.0))
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(every_worker)


class QueueFigures:
    """Active work items per (kind, status) and the oldest open item's age per kind."""

    def __init__(
        self, active: dict[tuple[str, str], int], oldest_open_seconds: dict[str, float]
    ) -> None:
        self.active, self.oldest_open_seconds = active, oldest_open_seconds


def read_queue(engine: Engine) -> QueueFigures:
    """One grouped query over the active items."""
    now = utc_now()
    with engine.connect() as connection:
        rows = connection.execute(
            select(WorkItem.kind, WorkItem.status, func.count(), func.min(WorkItem.created_at))
            .where(WorkItem.status.in_(ACTIVE_STATUSES))
            .group_by(WorkItem.kind, WorkItem.status)
        ).all()
    active: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    for kind, status, count, first in rows:
        active[(kind, status)] = int(count)
        if status == "open" and isinstance(first, datetime):
            oldest[kind] = max(0.0, (now - _aware(first, now)).total_seconds())
    return QueueFigures(active, oldest)


def _aware(moment: datetime, like: datetime) -> datetime:
    """SQLite returns naive UTC datetimes; PostgreSQL aware ones."""
    return moment.replace(tzinfo=like.tzinfo) if moment.tzinfo is None else moment
