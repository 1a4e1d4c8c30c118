"""The sample world: a seeded, deterministic carrier in which the incident of
CONTRACT.md section 1 happens, written as native-column log files plus the ground truth
the generator knows from what it did (docs/attribution.md defines that truth).

    from auditlog.world import generate_world
    summary = generate_world(Path("sample_logs"), customers=3000, seed=7)

Modules: clock (time and encodings), cast and catalog (who and what), plan (the
incident's script), calendar and privileges (changes and grants), activity and orders
(routine life), incident (the anomalous flows), draws, billing, timeline (streaming,
ids, the order book), sinks (file formats), truth (ground truth), generate (the entry
point).
"""

from auditlog.world.generate import FileInfo, IncidentFacts, WorldSummary, generate_world

__all__ = ["FileInfo", "IncidentFacts", "WorldSummary", "generate_world"]
