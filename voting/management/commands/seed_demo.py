"""``manage.py seed_demo``: a ready-to-explore demo session with one open question of every ballot kind.

Creates (or resets) the organizer account and the session titled "Plenum demo", simulates a
few hundred participants with seeded random but coherent preferences, casts their ballots
through the same service as the web form and the API (so every ballot is validated),
computes the results and prints how to log in and the invite link. Re-running replaces the
demo session instead of adding a second one.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from deliberation.models import Participant, Session
from deliberation.services import create_session, mint_participant
from voting.models import Ballot, Option, Question
from voting.services import cast_ballot, create_question, open_question, recompute_result

DEMO_TITLE = "Plenum demo"
ORGANIZER_USERNAME = "organizer"
DEFAULT_PASSWORD = "plenum-demo"
DEMO_PROMPT = (
    "Our town has set aside money for next year's neighbourhood projects. Discuss what matters to you, "
    "then vote: the questions below use different ballot kinds and aggregation rules, and every result "
    "page shows how the same ballots would fare under the other rules."
)

# (kind, rule, params, text, option labels with a position on a left-right / green-grey plane)
QUESTIONS: list[tuple[str, str, dict[str, Any], str, list[tuple[str, float, float]]]] = [
    (
        "single",
        "plurality",
        {},
        "Which project should the neighbourhood fund first?",
        [
            ("Community garden", -0.6, 0.8),
            ("Bike lanes", -0.2, 0.5),
            ("Library extension", 0.1, -0.2),
            ("New parking garage", 0.7, -0.7),
        ],
    ),
    (
        "single",
        "majority",
        {"threshold": "absolute_majority", "quorum": {"type": "count", "value": 50}},
        "Should the main square be car-free on Sundays?",
        [("Yes", -0.4, 0.6), ("No", 0.5, -0.5)],
    ),
    (
        "ranking",
        "schulze",
        {},
        "Rank the proposals for the riverside.",
        [
            ("Wetland park", -0.7, 0.9),
            ("Open-air swimming", -0.1, 0.3),
            ("Café and market hall", 0.3, -0.1),
            ("Sports fields", 0.4, 0.1),
            ("Housing", 0.6, -0.6),
        ],
    ),
    (
        "scores",
        "runoff",
        {},
        "How good is each transit option? Score each from 0 (bad) to 10 (great).",
        [("Tram line", -0.5, 0.4), ("Express buses", 0.0, 0.0), ("Car sharing", 0.4, -0.2), ("Wider roads", 0.8, -0.8)],
    ),
    (
        "number",
        "uniform_phantom",
        {"lo": 0, "hi": 100},
        "What share of the budget (in %) should go to climate measures?",
        [],
    ),
    (
        "budget",
        "independent_markets",
        {"total": 100},
        "Split 100 thousand euros among these areas.",
        [("Parks", -0.5, 0.7), ("Schools", -0.1, 0.1), ("Transit", -0.3, 0.3), ("Roads", 0.7, -0.6)],
    ),
]
# Opinion clusters: (share of people, centre on the plane, spread).
CLUSTERS = [(0.45, (-0.4, 0.5), 0.35), (0.35, (0.4, -0.3), 0.35), (0.20, (0.0, 0.0), 0.5)]
TURNOUT = 0.85
AGENTS = 3


@dataclass
class Voter:
    """A simulated participant: an ideal point on the opinion plane and a taste for noise."""

    participant: Participant
    x: float
    y: float
    noise: float


class Command(BaseCommand):
    """Create the demo session with simulated, validated ballots and computed results."""

    help = "Create (or reset) the 'Plenum demo' session with one open question of every kind and simulated ballots."

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the command's options."""
        parser.add_argument("--participants", type=int, default=240, help="simulated participants (default 240)")
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the server runs, for the links")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the command; bad input ends with exit status 2 and one line."""
        count = options["participants"]
        if not 1 <= count <= 5000:
            raise CommandError("--participants must be between 1 and 5000", returncode=2)
        base_url = options["base_url"].rstrip("/")
        password = os.environ.get("PLENUM_DEMO_PASSWORD") or DEFAULT_PASSWORD
        rng = random.Random(options["seed"])
        with transaction.atomic():
            organizer = self._organizer(password)
            Session.objects.filter(title=DEMO_TITLE, organizer=organizer).delete()
            session = create_session(organizer, title=DEMO_TITLE, prompt=DEMO_PROMPT)
            questions = [(self._question(session, spec), spec[4]) for spec in QUESTIONS]
            voters = self._voters(session, count, rng)
            cast = sum(self._vote(question, places, voters, rng) for question, places in questions)
        for question, _places in questions:
            recompute_result(question.pk)
        self._report(session, [question for question, _places in questions], len(voters), cast, base_url, password)

    def _organizer(self, password: str) -> Any:
        user_model = get_user_model()
        organizer, _created = user_model.objects.get_or_create(username=ORGANIZER_USERNAME)
        organizer.is_staff = True
        organizer.is_superuser = True
        organizer.set_password(password)
        organizer.save()
        return organizer

    def _question(self, session: Session, spec: tuple) -> Question:
        kind, rule, params, text, options = spec
        question = create_question(
            session, text=text, kind=kind, rule=rule, params=params, option_labels=[label for label, _x, _y in options]
        )
        return open_question(question)

    def _voters(self, session: Session, count: int, rng: random.Random) -> list[Voter]:
        voters = []
        for number in range(1, count + 1):
            kind = Participant.Kind.AGENT if number > count - min(AGENTS, count // 10) else Participant.Kind.HUMAN
            name = f"Demo {'agent' if kind == Participant.Kind.AGENT else 'citizen'} {number}"
            _share, (cx, cy), spread = _pick_cluster(rng)
            participant = mint_participant(session, display_name=name, kind=kind)
            voters.append(Voter(participant, rng.gauss(cx, spread), rng.gauss(cy, spread), rng.uniform(0.05, 0.3)))
        return voters

    def _vote(
        self, question: Question, option_places: list[tuple[str, float, float]], voters: list[Voter], rng: random.Random
    ) -> int:
        places = {label: (x, y) for label, x, y in option_places}
        options = list(Option.objects.filter(question=question).order_by("position"))
        cast = 0
        for voter in voters:
            if rng.random() > TURNOUT:
                continue
            utility = {
                option.key: -math.dist((voter.x, voter.y), places[option.label]) + rng.gauss(0, voter.noise)
                for option in options
            }
            content = _ballot(question, utility, voter, rng)
            source = Ballot.Source.AGENT if voter.participant.kind == Participant.Kind.AGENT else Ballot.Source.WEB
            cast_ballot(question, voter.participant, content, source=source, tally=False)
            cast += 1
        return cast

    def _report(
        self, session: Session, questions: list[Question], voters: int, cast: int, base_url: str, password: str
    ) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f'Plenum demo ready: session "{session.title}" (id {session.pk})'))
        write(f"  {len(questions)} open questions, {voters} simulated participants, {cast} ballots cast and tallied.")
        write(f"  Organizer login: {base_url}/accounts/login/  username: {ORGANIZER_USERNAME}  password: {password}")
        try:
            write(f"  Organizer page:  {base_url}{reverse('session_manage', kwargs={'pk': session.pk})}")
        except NoReverseMatch:
            pass
        write(f"  Invite link:     {base_url}/join/{session.invite_token}/")
        write(f"  JSON API:        {base_url}/api/v1/openapi.json")


def _pick_cluster(rng: random.Random) -> tuple[float, tuple[float, float], float]:
    draw = rng.random()
    for cluster in CLUSTERS:
        draw -= cluster[0]
        if draw <= 0:
            return cluster
    return CLUSTERS[-1]


def _ballot(question: Question, utility: dict[str, float], voter: Voter, rng: random.Random) -> dict[str, Any]:
    """A plausible ballot of the question's kind from the voter's utilities."""
    order = sorted(utility, key=lambda key: -utility[key])
    if question.kind == Question.Kind.SINGLE:
        return {"choice": None if rng.random() < 0.03 else order[0]}
    if question.kind == Question.Kind.RANKING:
        return {"ranking": order}
    if question.kind == Question.Kind.SCORES:
        return {"scores": {key: max(0, min(10, round(10 + 7 * value))) for key, value in utility.items()}}
    if question.kind == Question.Kind.NUMBER:
        ideal = 35 - 40 * voter.x + 15 * voter.y + rng.gauss(0, 10)
        return {"value": max(0, min(100, round(ideal)))}
    return {"allocation": _allocation(utility, rng, total=int(question.params["total"]))}


def _allocation(utility: dict[str, float], rng: random.Random, *, total: int) -> dict[str, int]:
    """Whole amounts summing exactly to ``total``, more for the options the voter likes (largest remainder)."""
    raw = {key: rng.gammavariate(1 + 3 * math.exp(2 * value), 1) for key, value in utility.items()}
    scale = total / sum(raw.values())
    shares = {key: amount * scale for key, amount in raw.items()}
    whole = {key: math.floor(share) for key, share in shares.items()}
    for key in sorted(shares, key=lambda key: whole[key] - shares[key])[: total - sum(whole.values())]:
        whole[key] += 1
    return whole
