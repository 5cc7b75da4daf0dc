"""A question's live tallies: one engine tally per rule its results page shows, folded from ballot changes.

The tally task keeps these current instead of recounting every ballot (design §3): a change
takes the replaced ballot out and puts the new one in, so a recompute costs what changed
since the last one plus the rules' result(), not the number of ballots already cast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import aggregation
from aggregation.core import InvalidInput
from aggregation.jsonio import parse_ballot, result_to_json
from aggregation.registry import Tally
from voting.models import Question
from voting.params import engine_params, jsonable, sentence, stored_params
from voting.selectors import engine_candidates, rules_for_kind


@dataclass
class RuleTally:
    """One rule's tally, and the current ballots that rule cannot count (with the first reason)."""

    rule: str
    params: dict[str, Any]
    tally: Tally
    refused: int = 0
    reason: str = ""


def comparison_params(rule: str, params: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """The question's params that another rule also has (tie-breaks, quorum...), if it accepts them."""
    shared = {name: value for name, value in params.items() if name in aggregation.get_rule(rule).params}
    try:
        aggregation.normalize(rule, len(candidates), engine_params(shared, candidates))
    except InvalidInput:
        return {}
    return shared


def tally_basis(question: Question, candidates: Sequence[str]) -> str:
    """What the tallies depend on besides the ballots: kind, rule, params and option keys."""
    material = [question.kind, question.rule, question.params, list(candidates)]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class LiveTallies:
    """The tallies of the question's own rule (first) and of every other rule of its ballot kind."""

    def __init__(self, question: Question, ballots: int = 0, snapshot: dict[str, Any] | None = None) -> None:
        """Empty tallies, or tallies restored from a :meth:`snapshot` (InvalidInput if it does not fit)."""
        self.question = question
        self.candidates = engine_candidates(question)
        self.basis = tally_basis(question, self.candidates)
        self.ballots = ballots
        self.rules: dict[str, RuleTally] = {}
        m = len(self.candidates)
        for rule in self._rules():
            spec = aggregation.get_rule(rule)
            raw = (
                question.params if rule == question.rule else comparison_params(rule, question.params, self.candidates)
            )
            params = aggregation.normalize(rule, m, engine_params(raw, self.candidates))
            if snapshot is None:
                self.rules[rule] = RuleTally(rule, params, spec.new_tally(m))
            else:
                saved = snapshot.get(rule)
                if not isinstance(saved, dict) or "state" not in saved:
                    raise InvalidInput(f"the stored tallies have no {rule} tally")
                tally = spec.tally_from_state(saved["state"])
                self.rules[rule] = RuleTally(rule, params, tally, int(saved["refused"]), str(saved["reason"]))

    def _rules(self) -> list[str]:
        others = [rule for rule in rules_for_kind(self.question.kind) if rule != self.question.rule]
        return [self.question.rule, *(rule for rule in others if rule in aggregation.RULES)]

    def _ballot(self, content: Any, weight: str) -> aggregation.Ballot:
        ballot = parse_ballot(content, self.candidates, 0)
        return dataclasses.replace(ballot, weight=Fraction(weight))

    def add(self, content: Any, weight: str) -> None:
        """Count a stored ballot (its JSON content and exact weight) under every rule that can take it."""
        self._apply(self._ballot(content, weight), 1)
        self.ballots += 1

    def remove(self, content: Any, weight: str) -> None:
        """Take a ballot counted earlier back out of every tally."""
        self._apply(self._ballot(content, weight), -1)
        self.ballots -= 1

    def _apply(self, ballot: aggregation.Ballot, sign: int) -> None:
        m = len(self.candidates)
        for entry in self.rules.values():
            try:
                aggregation.check_ballots(entry.rule, m, [ballot], entry.params)
            except InvalidInput as refused:
                entry.refused += sign
                entry.reason = entry.reason or sentence(refused.message)
                continue
            if sign > 0:
                entry.tally.add(ballot)
            else:
                entry.tally.remove(ballot)

    def snapshot(self) -> dict[str, Any]:
        """JSON for TallyState.tallies: each rule's engine state and its refusals."""
        return {
            rule: {"state": entry.tally.to_state(), "refused": entry.refused, "reason": entry.reason}
            for rule, entry in self.rules.items()
        }

    def results(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(payload, comparison, stored params): the own rule's JSON result and every other rule's beside it.

        A rule that cannot count some current ballot (run-off and a partial ranking) shows why instead.
        """
        main, *others = self.rules.values()
        if main.refused:
            raise InvalidInput(f"{main.refused} stored ballot(s) do not fit the question's rule: {main.reason}")
        payload = result_to_json(main.tally.result(main.params), self.candidates)
        comparison: dict[str, Any] = {}
        for entry in others:
            if entry.refused:
                comparison[entry.rule] = {"rule": entry.rule, "error": entry.reason}
            else:
                comparison[entry.rule] = result_to_json(entry.tally.result(entry.params), self.candidates)
        if self.question.kind == Question.Kind.NUMBER:
            comparison.update(number_summaries(payload))
        return payload, comparison, stored_params(main.params, self.candidates)


def number_summaries(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plain median and mean of the reports (clamped to [lo, hi]), which Uniform Phantom computes beside its outcome."""
    details = payload.get("details") or {}
    notes = {
        "median": "Weighted median of the reports (clamped to the range).",
        "mean": "Weighted mean of the reports (clamped to the range).",
    }
    summaries = {}
    for name, note in notes.items():
        value = details.get(name)
        summaries[name] = {
            "rule": name,
            "status": payload["status"] if value is not None else "no_reports",
            "note": note,
            "outcome": None if value is None else float(Fraction(value)),
            "outcome_exact": jsonable(value),
        }
    return summaries
