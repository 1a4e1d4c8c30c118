"""An unknown name (a rule, a pack, a finding id) answered with the nearest valid ones.

A typo such as `stacked_subscriptoin` must not read as "nothing found": the caller gets
a usage error naming what was asked for and the closest names that exist (difflib's
similarity), or all of them when there are few, so the next command can be copied."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from auditlog.errors import UsageError

# Up to this many valid names are listed whole when none is close to the typo.
LIST_ALL_UP_TO = 12
# difflib's ratio below which a name is not offered as a suggestion.
CUTOFF = 0.6
# Names whose similarity is this much below the best one's are not offered beside it.
MARGIN = 0.1


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to `name`, best first (case ignored); none if none is
    close. A name that contains the typed text, or is contained in it, counts as close:
    `unrefunded` finds `unrefunded_anomalous_charge`."""
    known = sorted(set(choices))
    wanted = name.lower()
    scored = sorted(((difflib.SequenceMatcher(None, wanted, c.lower()).ratio(), c)
                     for c in known), key=lambda sc: (-sc[0], sc[1]))
    best = scored[0][0] if scored else 0.0
    # Only names about as close as the best: one clear match is offered alone.
    found = [c for ratio, c in scored if ratio >= CUTOFF and ratio >= best - MARGIN]
    if len(wanted) >= 4:
        found += [c for c in known if (wanted in c.lower() or c.lower() in wanted)
                  and c not in found]
    return found[:n]


def unknown_name(what: str, name: str, choices: Iterable[str], *, see: str = "") -> UsageError:
    """The error for an unknown `what` ('rule', 'pack') called `name`: the nearest valid
    names, else every valid one while they are few, else where to find them (`see`)."""
    known = sorted(set(choices))
    close = nearest(name, known)
    if close:
        hint = "did you mean " + " or ".join(close) + "?"
    elif not known:
        hint = f"there is no {what} at all"
    elif len(known) <= LIST_ALL_UP_TO:
        hint = "use one of: " + ", ".join(known)
    else:
        hint = f"none is close among the {len(known)} known"
    tail = f" (see '{see}')" if see and known else ""
    return UsageError(f"unknown {what} '{name}'; {hint}{tail}")
