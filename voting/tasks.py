"""Celery tasks of the voting app: thin wrappers that load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from voting import services


@shared_task(name="voting.tally_question", ignore_result=True)
def tally_question(question_id: int) -> int | None:
    """Recompute and store the question's result (idempotent: unchanged ballots add no version)."""
    result = services.recompute_result(question_id)
    return None if result is None else result.version
