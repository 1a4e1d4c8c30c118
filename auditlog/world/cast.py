"""Who is in the world: customers, and the directory of staff and service accounts.

Team, system and service names are fixed defaults; every person, which operator is
hired or leaves, the partners and the customer ids are drawn from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random

from auditlog.world.clock import DAY, HOUR, Period
from auditlog.world.records import Account

ORDER_SYSTEM = "order-system"
BILLING_SYSTEM = "billing-system"
CRM = "crm"
PARTNER_GATEWAY = "partner-gateway"
SELFCARE_APP = "selfcare-app"
SSO = "sso"

ORDER_SERVICE = "svc-order-sync"
CAMPAIGN_SERVICE = "svc-campaign"
BILLING_BATCH = "svc-billing-batch"

_FIRST = (
    "Anna",
    "Bram",
    "Chloe",
    "Daan",
    "Eva",
    "Finn",
    "Gijs",
    "Hanna",
    "Ilse",
    "Jan",
    "Karim",
    "Lotte",
    "Milan",
    "Noor",
    "Olaf",
    "Priya",
    "Quinten",
    "Roos",
    "Sem",
    "Tess",
    "Umar",
    "Vera",
    "Wouter",
    "Xander",
    "Yara",
    "Zoe",
    "Ahmed",
    "Bo",
    "Cas",
    "Demi",
    "Emre",
    "Fleur",
    "Lucas",
    "Sara",
    "Thijs",
    "Julia",
    "Ruben",
    "Sophie",
    "Mehmet",
    "Ines",
)
_LAST = (
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Dijk",
    "Dekker",
    "Brouwer",
    "Kaya",
    "Yilmaz",
    "Janssens",
    "Maes",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "Verhoeven",
    "Kok",
    "Postma",
    "Scholten",
    "van Leeuwen",
    "Hoekstra",
)
_PARTNER_NAMES = ("musicbox", "streamly", "gamehub", "newsstand", "cloudplay", "kidzone")

# (team, system it owns or None, members excluding the manager)
_STAFF_TEAMS = (
    ("Order Platform", ORDER_SYSTEM, 4),
    ("Billing Platform", BILLING_SYSTEM, 3),
    ("CRM Engineering", CRM, 3),
    ("Partner Integrations", PARTNER_GATEWAY, 2),
    ("Digital Channels", SELFCARE_APP, 3),
    ("Identity & Access", SSO, 2),
    ("Billing Operations", None, 2),
    ("Marketing", None, 1),
)
_COUNTER_TEAMS = ("Retail Counter North", "Retail Counter South")

# Staff accounts were created before the world starts, somewhere in these years.
_HIRED_FROM = int(datetime(2018, 1, 1, tzinfo=UTC).timestamp())
_HIRED_UNTIL = int(datetime(2026, 6, 30, tzinfo=UTC).timestamp())


@dataclass
class Cast:
    customers: list[str]
    plan_of: bytearray  # index into Catalog.plans, per customer
    directory: list[Account] = field(default_factory=list)
    engineers: dict[str, list[str]] = field(default_factory=dict)  # system -> engineers
    system_manager: dict[str, str] = field(default_factory=dict)
    team_manager: dict[str, str] = field(default_factory=dict)
    iam_admins: list[str] = field(default_factory=list)
    billing_ops: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    # Counter operators and the days [first, last) on which each works.
    operators: list[str] = field(default_factory=list)
    shifts: dict[str, tuple[int, int]] = field(default_factory=dict)
    joiner: str = ""
    leaver: str = ""
    director: str = ""

    def operators_on(self, day: int) -> list[str]:
        return [op for op in self.operators if self.shifts[op][0] <= day < self.shifts[op][1]]

    def account(self, name: str) -> Account:
        for account in self.directory:
            if account.account == name:
                return account
        raise KeyError(name)


class _Names:
    """Unique people, drawn without replacement from first x last names."""

    def __init__(self, rng: Random) -> None:
        pairs = [(f, l) for f in _FIRST for l in _LAST]
        rng.shuffle(pairs)
        self._pairs = pairs
        self._taken: set[str] = set()

    def person(self, prefix: str = "") -> tuple[str, str]:
        """(account id, display name) of a new person."""
        first, last = self._pairs.pop()
        ascii_last = last.replace(" ", "").lower()
        if prefix:  # counter operators: op-jdevries
            base = f"{prefix}{first[0].lower()}{ascii_last}"
        else:  # office staff: jan.devries
            base = f"{first.lower()}.{ascii_last}"
        account, n = base, 2
        while account in self._taken:
            account, n = f"{base}{n}", n + 1
        self._taken.add(account)
        return account, f"{first} {last}"


def build_cast(rng: Random, customers: int, period: Period, plan_weights: list[int]) -> Cast:
    """Customers and the whole accounts directory."""
    cast = Cast(
        customers=_customer_ids(rng, customers),
        plan_of=bytearray(rng.choices(range(len(plan_weights)), plan_weights, k=customers)),
    )
    names = _Names(rng)
    _add_staff(cast, rng, names)
    _add_operators(cast, rng, names, customers, period)
    _add_services(cast, rng)
    cast.directory.sort(key=lambda a: a.account)
    return cast


def _customer_ids(rng: Random, customers: int) -> list[str]:
    """Sparse, sorted ids like C0001234: customers joined over years, some left."""
    numbers = sorted(rng.sample(range(1, 10_000_000), customers))
    return [f"C{n:07d}" for n in numbers]


def _hired(rng: Random) -> int:
    """An account creation time on some past working day, between 07:00 and 16:00 UTC."""
    day = rng.randrange(_HIRED_FROM, _HIRED_UNTIL) // DAY * DAY
    return day + 7 * HOUR + rng.randrange(9 * HOUR) // 60 * 60


def _add_staff(cast: Cast, rng: Random, names: _Names) -> None:
    director, director_name = names.person()
    cast.director = director
    cast.directory.append(
        Account(director, director_name, "Management", None, "human", None, _hired(rng))
    )
    for team, system, size in _STAFF_TEAMS:
        manager, manager_name = names.person()
        cast.team_manager[team] = manager
        cast.directory.append(
            Account(manager, manager_name, team, director, "human", None, _hired(rng))
        )
        members = []
        for _ in range(size):
            member, display = names.person()
            members.append(member)
            cast.directory.append(
                Account(
                    member,
                    display,
                    team,
                    manager,
                    "human",
                    None,
                    _hired(rng),
                    systems=(system,) if system else (),
                )
            )
        if system:
            cast.engineers[system] = members
            cast.system_manager[system] = manager
        if system == SSO:
            cast.iam_admins = members
        if team == "Billing Operations":
            cast.billing_ops = members


def _add_operators(cast: Cast, rng: Random, names: _Names, customers: int, period: Period) -> None:
    """A dozen counter operators for 3000 customers; one is hired and one leaves."""
    count = max(6, min(400, customers // 250))
    managers = []
    for team in _COUNTER_TEAMS:
        manager, manager_name = names.person()
        cast.team_manager[team] = manager
        managers.append(manager)
        cast.directory.append(
            Account(manager, manager_name, team, cast.director, "human", None, _hired(rng))
        )
    for i in range(count):
        operator, display = names.person(prefix="op-")
        team = _COUNTER_TEAMS[i % len(_COUNTER_TEAMS)]
        cast.directory.append(
            Account(
                operator,
                display,
                team,
                managers[i % len(managers)],
                "human",
                None,
                _hired(rng),
                systems=(CRM, ORDER_SYSTEM),
            )
        )
        cast.operators.append(operator)
        cast.shifts[operator] = (0, period.days)
    # The joiner starts in the first fifth of the period, the leaver goes near the end
    # (after the incident and its refunds, so neither is entangled with it).
    cast.joiner, cast.leaver = rng.sample(cast.operators, 2)
    join_day = max(1, period.days // 5 + rng.randint(-1, 1))
    leave_day = period.days - 3
    cast.shifts[cast.joiner] = (join_day, period.days)
    cast.shifts[cast.leaver] = (0, leave_day)
    joiner = cast.account(cast.joiner)
    # Their account is set up the afternoon before their first day at the counter.
    joiner.created_at = period.at(join_day - 1, 15) + rng.randrange(HOUR)
    leaver = cast.account(cast.leaver)
    leaver.status = "disabled"
    leaver.disabled_at = period.at(leave_day - 1, 18) + rng.randrange(HOUR)


def _add_services(cast: Cast, rng: Random) -> None:
    """Service, batch and partner accounts, each owned by an accountable human."""
    order_owner = cast.team_manager["Order Platform"]
    billing_owner = cast.team_manager["Billing Platform"]
    marketing_owner = cast.team_manager["Marketing"]
    partner_owner = cast.team_manager["Partner Integrations"]
    services = [
        (ORDER_SERVICE, "Order sync service", "Order Platform", order_owner, "service"),
        (CAMPAIGN_SERVICE, "Campaign engine", "Marketing", marketing_owner, "service"),
        (BILLING_BATCH, "Billing batch runner", "Billing Platform", billing_owner, "system"),
    ]
    cast.partners = [f"partner-{p}" for p in sorted(rng.sample(_PARTNER_NAMES, rng.randint(2, 3)))]
    for partner in cast.partners:
        title = partner.removeprefix("partner-").capitalize()
        services.append(
            (partner, f"{title} partner platform", "Partner Integrations", partner_owner, "service")
        )
    for account, display, team, owner, account_type in services:
        cast.directory.append(
            Account(account, display, team, owner, account_type, owner, _hired(rng) - 2 * 365 * DAY)
        )
