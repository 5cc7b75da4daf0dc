"""Writes for questions, ballots and results.

Every ballot — browser form, JSON API or LLM agent — goes through :func:`cast_ballot`, which
judges it with the engine's own parser and rule checks and writes it in one transaction.
Results are recomputed from the stored ballots by :func:`recompute_result` (called by the
tally task) and stored as numbered versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max
from django.utils.text import slugify

import aggregation
from aggregation.core import InvalidInput, to_fraction
from aggregation.jsonio import exact, parse_ballot, result_to_json
from deliberation.models import Participant, Session
from voting.models import Ballot, BallotRevision, Option, Question, Result
from voting.selectors import KIND_FORMS, KIND_RULES, NUMBER_CANDIDATE, engine_candidates, rules_for_kind

logger = logging.getLogger(__name__)

MIN_OPTIONS = 2
MAX_OPTIONS = 50
RESULT_RETRIES = 5
ALWAYS_EDITABLE = ("text", "description", "visibility")
DRAFT_ONLY = ("kind", "rule", "params", "option_labels")
# Parameters a question of the kind must state explicitly (the engine's defaults would be a guess).
REQUIRED_PARAMS = {Question.Kind.NUMBER: ("lo", "hi"), Question.Kind.BUDGET: ("total",)}
FORM_EXAMPLES = {
    "choice": '{"choice": "<option key>"} (or {"choice": null} to abstain)',
    "ranking": '{"ranking": ["<best option key>", "<next>", ...]}',
    "scores": '{"scores": {"<option key>": <number>, ...}} with a score for every option',
    "value": '{"value": <number>}',
    "allocation": '{"allocation": {"<option key>": <amount>, ...}}',
}


class BallotRejected(Exception):
    """A ballot Plenum does not accept; ``message`` says why, ``field`` names the part at fault.

    ``code`` tells callers how to answer: ``invalid`` (the content), ``closed`` and
    ``not_open`` (the question's state), ``not_participant`` (the wrong session).
    """

    def __init__(self, message: str, field: str | None = None, code: str = "invalid") -> None:
        self.message = message
        self.field = field
        self.code = code
        super().__init__(message)


# --- JSON helpers ---------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Make engine values storable as JSON: Fractions as ints or "p/q" strings, Decimals as floats
    when that is exact (else "p/q"), tuples as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Fraction):
        return exact(value)
    if isinstance(value, Decimal):
        number = to_fraction(value)
        as_float = float(value)
        return as_float if math.isfinite(as_float) and to_fraction(as_float) == number else exact(number)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return str(value)


def engine_params(params: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """A question's stored params in engine terms: ``tb_order`` names option keys, the engine wants indices."""
    converted = dict(params)
    order = converted.get("tb_order")
    if order is not None:
        if not isinstance(order, list):
            raise InvalidInput("tb_order must be a list of option keys")
        lookup = {key: index for index, key in enumerate(candidates)}
        indices = []
        for key in order:
            if key not in lookup:
                raise InvalidInput(f"tb_order names {key!r}, which is not an option")
            indices.append(lookup[key])
        converted["tb_order"] = indices
    return converted


def _stored_params(normalized: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """Normalized engine params as JSON for the record, with ``tb_order`` back as option keys."""
    stored = jsonable(normalized)
    if isinstance(normalized.get("tb_order"), (list, tuple)):
        stored["tb_order"] = [candidates[index] for index in normalized["tb_order"]]
    return stored


# --- questions ------------------------------------------------------------------------------------


def _option_keys(labels: Sequence[str]) -> list[str]:
    """Unique slug keys for option labels ("Park", "Park!" -> "park", "park-2"; no letters -> "option-N")."""
    limit = Option._meta.get_field("key").max_length - 4
    keys: list[str] = []
    for position, label in enumerate(labels, start=1):
        base = slugify(label)[:limit].strip("-") or f"option-{position}"
        key, suffix = base, 2
        while key in keys:
            key, suffix = f"{base}-{suffix}", suffix + 1
        keys.append(key)
    return keys


def _clean_labels(kind: str, option_labels: Sequence[str] | None, errors: dict[str, str]) -> list[str]:
    labels = [" ".join(str(label).split()) for label in (option_labels or [])]
    labels = [label for label in labels if label]
    if kind == Question.Kind.NUMBER:
        if labels:
            errors["options"] = "A number question has no options; voters give a number in the range."
        return []
    if len(labels) < MIN_OPTIONS:
        errors["options"] = f"A question of this kind needs at least {MIN_OPTIONS} options."
    elif len(labels) > MAX_OPTIONS:
        errors["options"] = f"A question can have at most {MAX_OPTIONS} options."
    elif any(len(label) > Option._meta.get_field("label").max_length for label in labels):
        errors["options"] = "An option label is too long (at most 200 characters)."
    else:
        seen: set[str] = set()
        for label in labels:
            if label.casefold() in seen:
                errors["options"] = f"The option {label!r} is listed twice."
                break
            seen.add(label.casefold())
    return labels


def _clean_question(
    *, text: str, kind: str, rule: str, params: Any, option_labels: Sequence[str] | None, visibility: str
) -> tuple[str, dict[str, Any], list[str]]:
    """Check a question's fields with the engine; return (text, params, labels) or raise ValidationError."""
    errors: dict[str, str] = {}
    text = " ".join(str(text or "").split())
    if not text:
        errors["text"] = "A question needs a text."
    elif len(text) > Question._meta.get_field("text").max_length:
        errors["text"] = "The question text is too long (at most 500 characters)."
    if visibility not in Question.Visibility.values:
        errors["visibility"] = (
            f"Unknown visibility {visibility!r}; use one of: {', '.join(Question.Visibility.values)}."
        )
    if kind not in KIND_RULES:
        errors["kind"] = f"Unknown ballot kind {kind!r}; use one of: {', '.join(KIND_RULES)}."
        raise ValidationError(errors)
    labels = _clean_labels(kind, option_labels, errors)
    allowed = rules_for_kind(kind)
    if rule not in allowed:
        errors["rule"] = f"The rule {rule!r} does not fit {kind} questions; choose one of: {', '.join(allowed)}."
    elif rule not in aggregation.RULES:
        errors["rule"] = f"The rule {rule!r} is not available in this installation."
    if params is None:
        params = {}
    if not isinstance(params, dict):
        errors["params"] = "Parameters must be a JSON object."
    if errors:
        raise ValidationError(errors)
    params = jsonable(params)
    missing = [name for name in REQUIRED_PARAMS.get(kind, ()) if params.get(name) is None]
    if missing:
        raise ValidationError({"params": f"A {kind} question needs the parameter(s): {', '.join(missing)}."})
    candidates = [NUMBER_CANDIDATE] if kind == Question.Kind.NUMBER else _option_keys(labels)
    try:
        aggregation.normalize(rule, len(candidates), engine_params(params, candidates))
    except InvalidInput as exc:
        raise ValidationError({"params": exc.message}) from None
    return text, params, labels


def _write_options(question: Question, labels: Sequence[str]) -> None:
    Option.objects.filter(question=question).delete()
    Option.objects.bulk_create(
        Option(question=question, key=key, label=label, position=position)
        for position, (key, label) in enumerate(zip(_option_keys(labels), labels, strict=True))
    )


def create_question(
    session: Session,
    *,
    text: str,
    kind: str,
    rule: str,
    params: dict[str, Any] | None = None,
    option_labels: Sequence[str] | None = None,
    visibility: str = Question.Visibility.LIVE,
    description: str = "",
) -> Question:
    """Create a draft question with its options after the engine accepted rule and params.

    Raises ValidationError with a field dict (text, kind, rule, params, options, visibility).
    """
    text, params, labels = _clean_question(
        text=text, kind=kind, rule=rule, params=params, option_labels=option_labels, visibility=visibility
    )
    with transaction.atomic():
        position = (Question.objects.filter(session=session).aggregate(top=Max("position"))["top"] or 0) + 1
        question = Question.objects.create(
            session=session,
            text=text,
            description=str(description or "").strip(),
            kind=kind,
            rule=rule,
            params=params,
            visibility=visibility,
            position=position,
        )
        _write_options(question, labels)
    return question


def update_question(question: Question, **fields: Any) -> Question:
    """Edit a question. Text, description and visibility change any time; kind, rule, params and
    options only while it is a draft (ballots already cast must keep their meaning)."""
    unknown = sorted(set(fields) - set(ALWAYS_EDITABLE) - set(DRAFT_ONLY))
    if unknown:
        raise ValidationError({unknown[0]: f"{unknown[0]} cannot be changed here."})
    structural = [name for name in DRAFT_ONLY if name in fields]
    if structural and question.status != Question.Status.DRAFT:
        raise ValidationError(
            {structural[0]: "The kind, rule, parameters and options can only be changed while the question is a draft."}
        )
    labels_now = [option.label for option in question.options.all()]
    text, params, labels = _clean_question(
        text=fields.get("text", question.text),
        kind=fields.get("kind", question.kind),
        rule=fields.get("rule", question.rule),
        params=fields.get("params", question.params),
        option_labels=fields.get("option_labels", labels_now),
        visibility=fields.get("visibility", question.visibility),
    )
    with transaction.atomic():
        question.text = text
        question.description = str(fields.get("description", question.description) or "").strip()
        question.kind = fields.get("kind", question.kind)
        question.rule = fields.get("rule", question.rule)
        question.params = params
        question.visibility = fields.get("visibility", question.visibility)
        question.save()
        if "option_labels" in fields or "kind" in fields:
            _write_options(question, labels)
    return question


def open_question(question: Question) -> Question:
    """Open a draft question for voting and publish its (empty) first result."""
    with transaction.atomic():
        locked = Question.objects.select_for_update().get(pk=question.pk)
        if locked.status == Question.Status.CLOSED:
            raise ValidationError({"status": "A closed question cannot be reopened."})
        if locked.status == Question.Status.DRAFT:
            locked.status = Question.Status.OPEN
            locked.save(update_fields=["status"])
            transaction.on_commit(lambda: enqueue_tally(locked.pk), robust=True)
    question.status = locked.status
    return question


def close_question(question: Question) -> Question:
    """Close an open question: no more ballots; the final tally (``is_final``) is enqueued on commit.

    The row lock waits for ballots being written right now, so none slips in after closing.
    """
    with transaction.atomic():
        locked = Question.objects.select_for_update().get(pk=question.pk)
        if locked.status == Question.Status.DRAFT:
            raise ValidationError({"status": "A draft question cannot be closed; open it first."})
        if locked.status == Question.Status.OPEN:
            locked.status = Question.Status.CLOSED
            locked.save(update_fields=["status"])
            transaction.on_commit(lambda: enqueue_tally(locked.pk), robust=True)
    question.status = locked.status
    return question


# --- ballots --------------------------------------------------------------------------------------


def parse_question_ballot(question: Question, content: Any, *, weight: str = "1") -> aggregation.Ballot:
    """Judge a JSON ballot for this question with the engine's parser and the rule's own checks.

    Returns the engine ballot carrying ``weight``; raises BallotRejected naming the field.
    """
    form = KIND_FORMS[question.kind]
    if not isinstance(content, dict):
        raise BallotRejected(f"A ballot must be a JSON object, e.g. {FORM_EXAMPLES[form]}.", field=None)
    if "weight" in content:
        raise BallotRejected("A ballot must not carry its own weight; your participant weight applies.", field="weight")
    if set(content) != {form}:
        raise BallotRejected(f"This question takes a {form} ballot: {FORM_EXAMPLES[form]}.", field=form)
    candidates = engine_candidates(question)
    try:
        ballot = parse_ballot(content, candidates, 0)
        ballot = dataclasses.replace(ballot, weight=Fraction(weight))
        params = aggregation.normalize(question.rule, len(candidates), engine_params(question.params, candidates))
        aggregation.check_ballots(question.rule, len(candidates), [ballot], params)
    except InvalidInput as exc:
        raise BallotRejected(_sentence(exc.message), field=form) from None
    return ballot


def _sentence(message: str) -> str:
    """An engine message as a sentence for people: capital first letter, full stop."""
    message = message.strip()
    if not message:
        return "The ballot is not valid."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _locked_status(question_id: int) -> str | None:
    """Read the question's status under a lock that lets ballots proceed together but waits for a close."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Question._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT status FROM {table} WHERE id = %s FOR KEY SHARE", [question_id])
            row = cursor.fetchone()
        return row[0] if row else None
    # SQLite runs write transactions one at a time (IMMEDIATE), so a plain read is already exclusive.
    return Question.objects.filter(pk=question_id).values_list("status", flat=True).first()


def _refuse_unless_open(status: str | None) -> None:
    if status == Question.Status.OPEN:
        return
    if status == Question.Status.CLOSED:
        raise BallotRejected("This question is closed; ballots are no longer accepted.", code="closed")
    raise BallotRejected("This question is not open for voting yet.", code="not_open")


def cast_ballot(
    question: Question,
    participant: Participant,
    content: dict[str, Any],
    *,
    source: str = Ballot.Source.WEB,
    tally: bool = True,
) -> Ballot:
    """Validate and store a participant's ballot, replacing their previous one; the one way in for every ballot.

    Writes the current Ballot row (revision + 1) and a BallotRevision in one transaction and,
    on commit, enqueues the tally (``tally=False`` lets bulk loaders tally once at the end).
    Raises BallotRejected and writes nothing when the ballot or the question's state is wrong.
    """
    if participant.session_id != question.session_id:
        raise BallotRejected("You are not a participant of this question's session.", code="not_participant")
    if source not in Ballot.Source.values:
        raise ValueError(f"unknown ballot source {source!r}")
    with transaction.atomic():
        _refuse_unless_open(_locked_status(question.pk))
        parse_question_ballot(question, content, weight=participant.weight)
        stored = jsonable(content)
        ballot = Ballot.objects.select_for_update().filter(question=question, participant=participant).first()
        if ballot is None:
            try:
                with transaction.atomic():
                    ballot = Ballot.objects.create(
                        question=question,
                        participant=participant,
                        content=stored,
                        weight=participant.weight,
                        revision=1,
                        source=source,
                    )
            except IntegrityError:
                # A concurrent first ballot of the same participant won the insert; replace it instead.
                current = Ballot.objects.select_for_update().get(question=question, participant=participant)
                ballot = _replace(current, stored, participant.weight, source)
        else:
            ballot = _replace(ballot, stored, participant.weight, source)
        BallotRevision.objects.create(
            question=question,
            participant=participant,
            revision=ballot.revision,
            content=stored,
            weight=ballot.weight,
            source=source,
        )
        if tally:
            question_id = question.pk
            transaction.on_commit(lambda: enqueue_tally(question_id), robust=True)
    return ballot


def _replace(ballot: Ballot, content: Any, weight: str, source: str) -> Ballot:
    ballot.content = content
    ballot.weight = weight
    ballot.source = source
    ballot.revision += 1
    ballot.save(update_fields=["content", "weight", "source", "revision", "cast_at"])
    return ballot


def enqueue_tally(question_id: int) -> None:
    """Ask a worker (or, in the embedded mode, this process) to recompute the question's result."""
    from voting.tasks import tally_question

    tally_question.delay(question_id)


# --- results --------------------------------------------------------------------------------------


def _fingerprint(question: Question) -> str:
    """What a result depends on: the ballot history (append-only, so its size grows with every cast),
    the rule and params, and whether the question is closed."""
    history = BallotRevision.objects.filter(question=question).aggregate(count=Count("id"), last=Max("id"))
    material = [history["count"], history["last"], question.rule, question.params, question.status]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _engine_ballots(rows: Sequence[Ballot], candidates: Sequence[str]) -> list[aggregation.Ballot]:
    ballots = []
    for index, row in enumerate(rows):
        ballot = parse_ballot(row.content, candidates, index)
        ballots.append(dataclasses.replace(ballot, weight=Fraction(row.weight)))
    return ballots


def _comparison_params(rule: str, params: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """The question's params that the other rule also has (tie-breaks, quorum...), if it accepts them."""
    shared = {name: value for name, value in params.items() if name in aggregation.get_rule(rule).params}
    try:
        aggregation.normalize(rule, len(candidates), engine_params(shared, candidates))
    except InvalidInput:
        return {}
    return shared


def _number_summaries(
    ballots: Sequence[aggregation.Ballot], normalized: dict[str, Any], status: str
) -> dict[str, dict[str, Any]]:
    """Weighted median and mean of the reports (clamped to [lo, hi] like the mechanism sees them)."""
    lo = to_fraction(normalized["lo"]) if normalized.get("lo") is not None else None
    hi = to_fraction(normalized["hi"]) if normalized.get("hi") is not None else None
    reports = []
    for ballot in ballots:
        value = ballot.value
        if lo is not None:
            value = max(value, lo)
        if hi is not None:
            value = min(value, hi)
        if ballot.weight > 0:
            reports.append((value, ballot.weight))
    total = sum((weight for _, weight in reports), Fraction(0))

    def summary(name: str, note: str, value: Fraction | None) -> dict[str, Any]:
        return {
            "rule": name,
            "status": status if value is not None else "no_reports",
            "note": note,
            "outcome": None if value is None else float(value),
            "outcome_exact": None if value is None else exact(value),
        }

    if total == 0:
        return {
            "median": summary("median", "Weighted median of the reports.", None),
            "mean": summary("mean", "Weighted mean of the reports.", None),
        }
    reports.sort()
    mean = sum((value * weight for value, weight in reports), Fraction(0)) / total
    cumulative = Fraction(0)
    median = reports[-1][0]
    for position, (value, weight) in enumerate(reports):
        cumulative += weight
        if cumulative * 2 == total and position + 1 < len(reports):
            median = (value + reports[position + 1][0]) / 2
            break
        if cumulative * 2 > total:
            median = value
            break
    return {
        "median": summary("median", "Weighted median of the reports (clamped to the range).", median),
        "mean": summary("mean", "Weighted mean of the reports (clamped to the range).", mean),
    }


def compute_result(question: Question, rows: Sequence[Ballot]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Run the question's rule and every other rule of its kind on the ballot rows.

    Returns (payload, comparison, normalized params as JSON). A comparison rule that cannot
    take these ballots (say, run-off with partial rankings) records its reason instead.
    """
    candidates = engine_candidates(question)
    m = len(candidates)
    ballots = _engine_ballots(rows, candidates)
    params = engine_params(question.params, candidates)
    normalized = aggregation.normalize(question.rule, m, params)
    payload = result_to_json(aggregation.tally(question.rule, m, ballots, params), candidates)
    comparison: dict[str, Any] = {}
    for other in rules_for_kind(question.kind):
        if other == question.rule or other not in aggregation.RULES:
            continue
        try:
            other_params = _comparison_params(other, question.params, candidates)
            result = aggregation.tally(other, m, ballots, engine_params(other_params, candidates))
            comparison[other] = result_to_json(result, candidates)
        except InvalidInput as exc:
            comparison[other] = {"rule": other, "error": _sentence(exc.message)}
    if question.kind == Question.Kind.NUMBER:
        comparison.update(_number_summaries(ballots, normalized, payload["status"]))
    return payload, comparison, _stored_params(normalized, candidates)


def recompute_result(question_id: int) -> Result | None:
    """Tally the question's current ballots and store a new Result version if anything changed.

    Idempotent: with the same ballot history, rule, params and status the latest result is
    returned unchanged. Concurrent runs cannot share a version (unique constraint; the loser
    retries and usually finds the winner's result). None for a missing or draft question.
    """
    for _attempt in range(RESULT_RETRIES):
        question = Question.objects.filter(pk=question_id).first()
        if question is None or question.status == Question.Status.DRAFT:
            return None
        fingerprint = _fingerprint(question)  # before reading ballots: a later cast changes it
        latest = Result.objects.filter(question=question).order_by("-version").first()
        if latest is not None and latest.input_fingerprint == fingerprint:
            return latest
        rows = list(Ballot.objects.filter(question=question).order_by("id"))
        payload, comparison, params = compute_result(question, rows)
        try:
            with transaction.atomic():
                return Result.objects.create(
                    question=question,
                    version=(latest.version if latest else 0) + 1,
                    rule=question.rule,
                    params=params,
                    ballot_count=len(rows),
                    payload=payload,
                    comparison=comparison,
                    is_final=question.status == Question.Status.CLOSED,
                    input_fingerprint=fingerprint,
                )
        except IntegrityError:
            logger.info("result version race on question %s; retrying", question_id)
    raise RuntimeError(f"could not store a result for question {question_id} after {RESULT_RETRIES} attempts")
