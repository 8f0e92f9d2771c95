"""Reading ``/metrics`` back the way Prometheus would, for the assertions of the tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ucwa_flow.observe.metrics import Metrics


class Scraped:
    """One scrape, parsed: ``value(name, **labels)`` sums the samples that match."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples.append((sample.name, dict(sample.labels), sample.value))

    @classmethod
    def of(cls, metrics: Metrics) -> Scraped:
        body, content_type = metrics.exposition()
        assert content_type.startswith("text/plain; version=0.0.4")
        return cls(body.decode())

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``."""
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        )

    def labels(self, name: str) -> list[dict[str, str]]:
        return [have for sample, have, _ in self.samples if sample == name]
