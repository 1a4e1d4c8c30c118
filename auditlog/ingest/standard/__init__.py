"""Standard log formats mapped onto auditlog's kinds (CloudTrail, Kubernetes, OCSF).

An adapter recognizes its format from the keys of a JSON file's records and stages the
records into one table per kind it maps onto. Registered adapters are tried in order;
files that none recognizes are read by their native columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import duckdb

if TYPE_CHECKING:
    from auditlog.ingest.readers import Staged


class Adapter(Protocol):
    name: str

    def matches(self, keys: set[str]) -> bool:
        """Whether records with these top-level keys are in this format."""
        ...

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        """`_docs(_row, _loc, _raw, _bad)` → staging tables, one per kind."""
        ...


ADAPTERS: list[Adapter] = []


def adapters() -> list[Adapter]:
    """The registered adapters, most specific first. Registered on first use because the
    adapters import readers, which imports this package."""
    if not ADAPTERS:
        from auditlog.ingest.standard.cloudtrail import CloudTrail, CloudTrailDigest
        from auditlog.ingest.standard.k8s import KubernetesAudit
        from auditlog.ingest.standard.ocsf import Ocsf

        ADAPTERS.extend([CloudTrail(), CloudTrailDigest(), KubernetesAudit(), Ocsf()])
    return ADAPTERS


def stage_standard(con: duckdb.DuckDBPyConnection, keys: set[str]) -> list[Staged] | None:
    for adapter in adapters():
        if adapter.matches(keys):
            return adapter.stage(con)
    return None
