"""A finding's severities, lowest first: apart from the rule model, so that the command
line can offer them as choices without defining the model's records (start time, issue
14)."""

SEVERITIES = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)
