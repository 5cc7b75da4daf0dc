"""Celery tasks of the voting app: thin wrappers that load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from voting import services


@shared_task(name="voting.tally_question", ignore_result=True)
def tally_question(question_id: int) -> int | None:
    """Fold the question's new ballots into its result (idempotent: nothing new, no new version)."""
    result = services.recompute_result(question_id)
    return None if result is None else result.version


@shared_task(name="voting.sweep_pending_tallies", ignore_result=True)
def sweep_pending_tallies() -> list[int]:
    """Periodic (celery beat): recompute questions whose tally task was lost, e.g. with a crashed worker."""
    return services.sweep_pending_tallies()
