"""``manage.py mint_tokens SESSION_ID N``: create N participants with API tokens and print the tokens."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliberation.models import Participant, Session
from deliberation.services import mint_participants


class Command(BaseCommand):
    """Mint participants for agents, scripts and load tests; one token per line (or JSON with --json)."""

    help = "Create N participants with API tokens in a session and print their tokens, one per line."

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the command's options."""
        parser.add_argument("session_id", type=int, help="id of the session")
        parser.add_argument("count", type=int, help="how many participants to create")
        parser.add_argument("--kind", choices=Participant.Kind.values, default=Participant.Kind.AGENT)
        parser.add_argument("--weight", default="1", help="exact weight of each, e.g. 1 or 1/2")
        parser.add_argument("--prefix", default="", help="display names become '<prefix> 1', '<prefix> 2', ...")
        parser.add_argument("--json", action="store_true", help="print a JSON list of {id, display_name, api_token}")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the command; bad input ends with exit status 2 and one line."""
        session = Session.objects.filter(pk=options["session_id"]).first()
        if session is None:
            raise CommandError(f"no session with id {options['session_id']}", returncode=2)
        try:
            minted = mint_participants(
                session, options["count"], prefix=options["prefix"], kind=options["kind"], weight=options["weight"]
            )
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise CommandError(f"{field}: {messages[0]}", returncode=2) from None
        if options["json"]:
            rows = [{"id": p.pk, "display_name": p.display_name, "api_token": p.api_token} for p in minted]
            self.stdout.write(json.dumps(rows))
        else:
            for participant in minted:
                self.stdout.write(participant.api_token)
