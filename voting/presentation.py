"""Results in words and pictures: the engine's JSON result turned into sentences, tables and a chart.

Shared by the results page and the live fragments pushed over websockets, so both say the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from django.utils.safestring import mark_safe

from voting import charts
from voting.forms import rule_title
from voting.models import Question

STATUS_WORDS = {
    "winner": "{winners} wins.",
    "winner_by_tiebreak": "{winners} wins by the tie-break: {tie_break}.",
    "tie": "Tie between {winners}.",
    "threshold_not_met": "No option reached the threshold needed to win.",
    "no_quorum": "The quorum was not reached, so there is no result.",
    "no_valid_votes": "There are no valid votes yet.",
    "no_ballots": "There are no ballots yet.",
    "no_reports": "No numbers have been reported yet.",
    "no_samples": "There are no samples yet.",
    "empty_candidate_set": "There are no options.",
}


TIE_BREAK_WORDS = {
    "lowest_index": "of the tied options, the one listed first wins",
    "order": "ties are broken by the published elimination order",
}


def _join_labels(keys: list[str], labels: Mapping[str, str]) -> str:
    names = [f"“{labels.get(key, key)}”" for key in keys]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def status_sentence(payload: Mapping[str, Any], labels: Mapping[str, str], kind: str) -> str:
    """The result in plain words: who won, or why there is no winner."""
    status = payload.get("status", "")
    if kind == Question.Kind.NUMBER and payload.get("outcome_exact", payload.get("outcome")) is not None:
        value = payload.get("outcome_exact", payload.get("outcome"))
        return f"The outcome is {charts.format_number(value)}."
    if kind == Question.Kind.BUDGET and (payload.get("allocation_exact") or payload.get("allocation")):
        allocation = payload.get("allocation_exact") or payload.get("allocation")
        parts = [f"{labels.get(key, key)} {charts.format_number(value)}" for key, value in allocation.items()]
        return "The budget is split: " + "; ".join(parts) + "."
    if kind == Question.Kind.BUDGET and status == "no_reports":
        return "No budget split has been proposed yet."
    template = STATUS_WORDS.get(status, status.replace("_", " ").capitalize() + ".")
    tie_break = TIE_BREAK_WORDS.get(payload.get("tie_break") or "", (payload.get("tie_break") or "").replace("_", " "))
    return template.format(winners=_join_labels(list(payload.get("winners") or []), labels), tie_break=tie_break)


def _ballots(count: int) -> str:
    return "1 ballot was" if count == 1 else f"{count} ballots were"


def certificate_sentence(certificate: Any) -> str:
    """The robustness certificate as a sentence."""
    if certificate is None:
        return "No robustness certificate is defined for this rule."
    if certificate == "unbounded":
        return "No change of ballots can alter this result."
    if isinstance(certificate, Mapping):
        count = int(certificate.get("changed_ballots", 0))
        if count < 0:
            return "No robustness certificate could be established for this result (see the warnings)."
        if count == 0:
            sentence = "This result is not guaranteed against any changed ballot: changing one ballot could alter it."
        else:
            sentence = f"This result stands even if any {_ballots(count)} changed."
        plurality = certificate.get("plurality")
        if plurality == "unbounded":
            sentence += " A plain plurality count could not be altered by any change either."
        elif plurality is not None and int(plurality) > 0:
            sentence += f" A plain plurality count would stand if any {_ballots(int(plurality))} changed."
        elif plurality is not None:
            sentence += " A plain plurality count could be altered by changing a single ballot."
        return sentence
    return str(certificate)


CANDIDATE_MENTION = re.compile(r"\b[Cc]andidates? (\d+(?:(?:, | and )\d+)*)\b")


def name_candidates(text: str, labels: Mapping[str, str]) -> str:
    """Replace the engine's "candidate 2" / "candidates 0 and 3" by the options' labels."""
    names = list(labels.values())

    def label_list(match: re.Match[str]) -> str:
        numbers = [int(number) for number in re.findall(r"\d+", match.group(1))]
        if any(number >= len(names) for number in numbers):
            return match.group(0)
        quoted = [f"“{names[number]}”" for number in numbers]
        return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]

    return CANDIDATE_MENTION.sub(label_list, text)


def _tallies(tallies: Mapping[str, Any] | None, labels: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {
            "key": key,
            "label": label,
            "value": charts.format_number(tallies[key]),
            "exact": charts.exact_text(tallies[key]),
        }
        for key, label in labels.items()
        if tallies and key in tallies
    ]


def _outcome_words(payload: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A short summary of a result for the comparison table."""
    if payload.get("outcome_exact", payload.get("outcome")) is not None:
        return charts.format_number(payload.get("outcome_exact", payload.get("outcome")))
    allocation = payload.get("allocation_exact") or payload.get("allocation")
    if allocation:
        return ", ".join(f"{labels.get(k, k)} {charts.format_number(v)}" for k, v in allocation.items())
    winners = payload.get("winners") or []
    if not winners:
        return STATUS_WORDS.get(payload.get("status", ""), payload.get("status", "")).split(",")[0]
    prefix = "Tie: " if payload.get("status") == "tie" else ""
    return prefix + ", ".join(labels.get(key, key) for key in winners)


def _headline(payload: Mapping[str, Any]) -> Any:
    """What two results are compared on: the outcome, the allocation or the set of winners."""
    if payload.get("outcome_exact", payload.get("outcome")) is not None:
        return ("outcome", charts.exact(payload.get("outcome_exact", payload.get("outcome"))))
    allocation = payload.get("allocation_exact") or payload.get("allocation")
    if allocation:
        return ("allocation", tuple(sorted((k, charts.exact(v)) for k, v in allocation.items())))
    return ("winners", tuple(sorted(payload.get("winners") or [])), payload.get("status"))


SUMMARY_TITLES = {"median": "Median of the reports", "mean": "Mean of the reports"}


def _summary_value(summary: Mapping[str, Any] | None) -> str | None:
    """The number of a median/mean comparison entry, formatted, or None."""
    if not summary:
        return None
    value = summary.get("outcome_exact", summary.get("outcome"))
    return None if value is None else charts.format_number(value)


def result_context(
    question: Question, result: Any, options: list[Any], reports: list[tuple[Fraction, Fraction]]
) -> dict[str, Any]:
    """Everything the results template shows about one stored result."""
    labels = {option.key: option.label for option in options}
    payload = result.payload
    main = _headline(payload)
    comparison = [
        {
            "rule": rule,
            "title": rule_title(rule) if rule not in SUMMARY_TITLES else SUMMARY_TITLES[rule],
            "summary": name_candidates(other["error"], labels) if "error" in other else _outcome_words(other, labels),
            "certificate": "" if "error" in other else certificate_sentence(other.get("certificate")),
            "disagrees": "error" not in other and _headline(other) != main,
            "error": "error" in other,
        }
        for rule, other in sorted((result.comparison or {}).items())
        if rule != result.rule
    ]
    rounds = [
        {
            "name": name_candidates(round_.get("name", ""), labels),
            "note": name_candidates(round_.get("note", ""), labels),
            "tallies": _tallies(round_.get("tallies"), labels),
            "eliminated": _join_labels(list(round_.get("eliminated") or []), labels),
            "advanced": _join_labels(list(round_.get("advanced") or []), labels),
            "winners": _join_labels(list(round_.get("winners") or []), labels),
        }
        for round_ in payload.get("rounds") or []
    ]
    comparison_data = result.comparison or {}
    return {
        "result": result,
        "payload": payload,
        "sentence": status_sentence(payload, labels, question.kind),
        "certificate": certificate_sentence(payload.get("certificate")),
        "rounds": rounds,
        "tallies": _tallies(payload.get("tallies"), labels),
        "chart": mark_safe(  # noqa: S308 - charts.py escapes every label and number it writes
            charts.result_chart(
                payload,
                labels,
                kind=question.kind,
                params=result.params,
                reports=reports,
                comparison=result.comparison,
            )
        ),
        "comparison": comparison,
        "any_disagreement": any(row["disagrees"] for row in comparison),
        "warnings": [name_candidates(warning, labels) for warning in payload.get("warnings") or []],
        "median": _summary_value(comparison_data.get("median")),
        "mean": _summary_value(comparison_data.get("mean")),
        "rule_title": rule_title(result.rule),
    }
