"""Plain-number metrics write the samples prometheus-client's own metrics write for the same
observations (the registry's text, read back with prometheus-client's parser)."""

from __future__ import annotations

import random

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rolloutctl.observe.server_metrics import CALL_BUCKETS, registry_of
from rolloutctl.observe.tallies import Counter, Gauge, Histogram, Tallies


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")  # when each series began: differs by a few µs
    }


def test_the_samples_are_those_of_prometheus_clients_own_metrics():
    rng = random.Random(7)
    theirs = CollectorRegistry()
    tallies = Tallies()
    labels = ("agent", "tool")
    theirs_counter = prometheus_client.Counter("calls", "doc", labels, registry=theirs)
    theirs_histogram = prometheus_client.Histogram(
        "seconds", "doc", labels, registry=theirs, buckets=CALL_BUCKETS
    )
    ours_counter = Counter("calls", "doc", labels)
    ours_histogram = Histogram("seconds", "doc", labels, CALL_BUCKETS)
    tallies.families += [ours_counter, ours_histogram]
    edges = [*CALL_BUCKETS, 0.0, 1e9]  # a value on a bound falls in that bound's bucket
    for n in range(2000):
        tool = f"t{n % 3}"
        amount = rng.choice(edges) if n % 5 == 0 else rng.expovariate(20)
        theirs_counter.labels("a", tool).inc(n % 4)
        ours_counter.labels("a", tool).inc(n % 4)
        theirs_histogram.labels("a", tool).observe(amount)
        ours_histogram.labels("a", tool).observe(amount)
    assert _samples(registry_of(tallies)) == _samples(theirs)


def test_a_gauge_reads_its_function_at_each_scrape_and_created_series_are_kept():
    tallies = Tallies()
    gauge = Gauge("waiting", "doc", ("agent",))
    counter = Counter("done", "doc", ("agent",))
    tallies.families += [gauge, counter]
    registry = registry_of(tallies)
    box = [3]
    gauge.labels("a").set_function(lambda: box[0])
    counter.labels("a").inc()
    box[0] = 5
    text = generate_latest(registry).decode()
    assert 'waiting{agent="a"} 5.0' in text
    assert 'done_total{agent="a"} 1.0' in text
    assert 'done_created{agent="a"}' in text


def test_labels_must_match_the_names():
    with pytest.raises(ValueError, match="takes labels"):
        Counter("done", "doc", ("agent",)).labels("a", "b")
