"""The Sigma logsources auditlog reads: for each, the kinds its records become, how a
record of that source is told from others in the same tables (`source_format`: the
adapter that read it, kept with the record), the event id's field, and the Sigma fields that have a
typed column (read without parsing the record: the same value, much faster).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogSource:
    product: str
    service: str
    pack: str
    # The adapter that reads the source (ingest/standard/<adapter>.py NAME).
    adapter: str
    kinds: tuple[str, ...] = ("actions", "privileges")
    # Sigma field -> {kind: SQL over that kind's row giving exactly the record's value}.
    typed: dict[str, dict[str, str]] = field(default_factory=dict)
    # The record's own event id (what a case names in its evidence).
    id_field: str = ""
    # The event's time fields (a correlation's case spaces its events by them).
    time_fields: tuple[str, ...] = ()
    # Fields its adapter needs in every record: a case's event never goes without them.
    required: tuple[str, ...] = ()


CLOUDTRAIL = LogSource(
    product="aws", service="cloudtrail", pack="sigma_aws_cloudtrail",
    adapter="cloudtrail",
    # ingest/standard/cloudtrail.py: an action's action is eventName and its system
    # eventSource; a privilege keeps both in extra (tests/test_sigma.py checks it).
    typed={"eventName": {"actions": "action", "privileges": "extra ->> '$.event_name'"},
           "eventSource": {"actions": "system",
                           "privileges": "extra ->> '$.event_source'"}},
    id_field="eventID", time_fields=("eventTime",),
    required=("eventVersion", "eventSource", "eventName", "eventTime", "userIdentity"),
)
KUBERNETES = LogSource(
    product="kubernetes", service="audit", pack="sigma_kubernetes_audit",
    adapter="k8s",
    # ingest/standard/kube.py keeps these in extra, read from the request's most complete
    # stage: a request logged as RequestReceived then ResponseComplete is one row whose
    # record is the first (the later stage is a duplicate), so its response code is
    # there only. Where extra lacks one (a code that is not an integer), the record's.
    typed={field: dict.fromkeys(("actions", "privileges"),
                                f"coalesce(extra ->> '$.{key}', record ->> '$.{field}')")
           for field, key in (("verb", "verb"), ("requestURI", "request_uri"),
                              ("responseStatus.code", "response_code"))},
    id_field="auditID", time_fields=("requestReceivedTimestamp", "stageTimestamp"),
    required=("kind", "apiVersion", "verb", "user", "requestReceivedTimestamp",
              "stageTimestamp"),
)
LOGSOURCES = (CLOUDTRAIL, KUBERNETES)


def logsource_for(product: str | None, service: str | None) -> LogSource | None:
    """The logsource a Sigma rule names, or None when auditlog reads no such source."""
    for source in LOGSOURCES:
        if (product or "").lower() == source.product and (service or "").lower() == source.service:
            return source
    return None


def supported() -> str:
    return ", ".join(f"{s.product}/{s.service}" for s in LOGSOURCES)
