"""Writes for questions, ballots and results.

Every ballot — browser form, JSON API or LLM agent — goes through :func:`cast_ballot`, which
judges it with the engine's own parser and rule checks and writes it in one transaction.
Each ballot also leaves a TallyChange; the debounced tally task folds those into the question's
live tallies (:func:`recompute_result`), stores a numbered Result version and publishes it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

import aggregation
from aggregation.core import InvalidInput
from aggregation.jsonio import parse_ballot
from deliberation.models import Participant, Session
from voting.models import Ballot, BallotRevision, Option, Question, Result, TallyChange, TallyState
from voting.params import engine_params, jsonable, sentence
from voting.selectors import KIND_FORMS, KIND_RULES, NUMBER_CANDIDATE, engine_candidates, rules_for_kind
from voting.tallies import LiveTallies, tally_basis

logger = logging.getLogger(__name__)

MIN_OPTIONS = 2
MAX_OPTIONS = 50
PENDING_FLAG_GRACE = 30  # seconds a "recompute scheduled" flag outlives its delay
SWEEP_AGE_SECONDS = 10  # a change still unfolded after this long lost its task
FOLD_BATCH = 20_000  # changes folded per transaction; a longer backlog continues in the next run
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
        if "visibility" in fields:
            # Participants watching see the result, or no longer see it, without reloading.
            transaction.on_commit(lambda: publish_visibility(question.pk), robust=True)
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
        raise BallotRejected(sentence(exc.message), field=form) from None
    return ballot


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
        revision = BallotRevision.objects.create(
            question=question,
            participant=participant,
            revision=ballot.revision,
            content=stored,
            weight=ballot.weight,
            source=source,
        )
        replaced = None
        if ballot.revision > 1:
            replaced = BallotRevision.objects.get(
                question=question, participant=participant, revision=ballot.revision - 1
            )
        TallyChange.objects.create(question=question, revision=revision, replaces=replaced)
        if tally:
            question_id = question.pk
            transaction.on_commit(lambda: schedule_tally(question_id), robust=True)
    return ballot


def _replace(ballot: Ballot, content: Any, weight: str, source: str) -> Ballot:
    ballot.content = content
    ballot.weight = weight
    ballot.source = source
    ballot.revision += 1
    ballot.save(update_fields=["content", "weight", "source", "revision", "cast_at"])
    return ballot


def enqueue_tally(question_id: int, countdown: float = 0) -> None:
    """Ask a worker (or, in the embedded mode, this process) to recompute the question's result."""
    from voting.tasks import tally_question

    tally_question.apply_async((question_id,), countdown=countdown or None)


def _pending_key(question_id: int) -> str:
    return f"plenum:tally-pending:{question_id}"


@functools.cache
def _flag_store() -> redis.Redis | None:
    """One Redis client per process for the debounce flags (None in the embedded mode: the local cache).

    Django's cache is per async context, so under ASGI it would open a Redis connection per ballot.
    """
    return redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None


def _claim_pending(question_id: int, seconds: float) -> bool:
    """Set the question's "recompute scheduled" flag for ``seconds`` unless it is set; True if this call set it."""
    store = _flag_store()
    if store is None:
        return cache.add(_pending_key(question_id), True, timeout=seconds)
    return bool(store.set(_pending_key(question_id), 1, nx=True, px=int(seconds * 1000)))


def _release_pending(question_id: int) -> None:
    store = _flag_store()
    if store is None:
        cache.delete(_pending_key(question_id))
    else:
        store.delete(_pending_key(question_id))


def schedule_tally(question_id: int) -> None:
    """After a ballot: one recompute, RESULT_DEBOUNCE_SECONDS later, unless one is already waiting.

    Ballots that arrive meanwhile fold into that run, so a burst gives one new version. The
    flag expires on its own, so a lost task delays a result but never stops later ones.
    """
    delay = settings.RESULT_DEBOUNCE_SECONDS
    if _claim_pending(question_id, delay + PENDING_FLAG_GRACE):
        enqueue_tally(question_id, countdown=delay)


def sweep_pending_tallies(older_than_seconds: float = SWEEP_AGE_SECONDS) -> list[int]:
    """Enqueue a recompute for every question whose ballot changes wait longer than they should (a lost task)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = sorted(set(TallyChange.objects.filter(created_at__lt=cutoff).values_list("question_id", flat=True)))
    for question_id in stale:
        enqueue_tally(question_id)
    return stale


# --- results --------------------------------------------------------------------------------------


def recompute_result(question_id: int) -> Result | None:
    """Fold the question's pending ballot changes into its live tallies and store a new Result version.

    Holds the question's TallyState row lock, so recomputes of one question run one at a time
    and each change is folded exactly once (it is deleted in the same transaction). Idempotent:
    with no pending change and no change of status the latest result is returned as it is.
    Publishes a new version to the question's watchers on commit. None for a missing or draft question.
    """
    _release_pending(question_id)  # ballots from now on schedule the next run
    question = Question.objects.filter(pk=question_id).first()
    if question is None or question.status == Question.Status.DRAFT:
        return None
    with transaction.atomic():
        TallyState.objects.get_or_create(question=question)
        state = TallyState.objects.select_for_update().get(question=question)
        question.refresh_from_db()
        tallies, rebuilt = _load_tallies(question, state)
        changes = [] if rebuilt else _fold_pending_changes(question, tallies)
        latest = Result.objects.filter(question=question).order_by("-version").first()
        is_final = question.status == Question.Status.CLOSED
        if latest is not None and not rebuilt and not changes and latest.is_final == is_final:
            return latest
        state.basis, state.ballots, state.tallies = tallies.basis, tallies.ballots, tallies.snapshot()
        state.save()
        payload, comparison, params = tallies.results()
        result = Result.objects.create(
            question=question,
            version=(latest.version if latest else 0) + 1,
            rule=question.rule,
            params=params,
            ballot_count=tallies.ballots,
            payload=payload,
            comparison=comparison,
            is_final=is_final,
        )
        transaction.on_commit(lambda: publish_result(result.pk), robust=True)
    return result


def _load_tallies(question: Question, state: TallyState) -> tuple[LiveTallies, bool]:
    """The stored tallies, or (when missing or made for other rules or options) tallies rebuilt from the ballots.

    A rebuild locks the question the way closing does, so no ballot is being written while it
    reads the current ballots and drops the pending changes they already contain.
    """
    if state.basis == tally_basis(question, engine_candidates(question)):
        try:
            return LiveTallies(question, state.ballots, state.tallies), False
        except InvalidInput:
            logger.warning("stored tallies of question %s do not load; rebuilding them", question.pk)
    Question.objects.select_for_update().get(pk=question.pk)
    tallies = LiveTallies(question)
    for content, weight in Ballot.objects.filter(question=question).order_by("id").values_list("content", "weight"):
        tallies.add(content, weight)
    TallyChange.objects.filter(question=question).delete()
    return tallies, True


def _fold_pending_changes(question: Question, tallies: LiveTallies) -> list[int]:
    """Apply the committed ballot changes in the order they were written; delete them; return their ids."""
    changes = list(
        TallyChange.objects.filter(question=question).select_related("revision", "replaces").order_by("id")[:FOLD_BATCH]
    )
    for change in changes:
        if change.replaces is not None:
            tallies.remove(change.replaces.content, change.replaces.weight)
        tallies.add(change.revision.content, change.revision.weight)
    ids = [change.pk for change in changes]
    TallyChange.objects.filter(pk__in=ids).delete()
    if len(changes) == FOLD_BATCH:
        transaction.on_commit(lambda: enqueue_tally(question.pk), robust=True)
    return ids


def publish_visibility(question_id: int) -> None:
    """Tell participants watching a question (and its session) what they may see after a visibility change."""
    from voting import live

    live.publish_visibility(question_id)


def publish_result(result_id: int) -> None:
    """Send a stored result to everyone watching its question (and its session's summary) over websockets."""
    from voting import live

    live.publish_result(result_id)
