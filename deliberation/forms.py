"""Forms of the deliberation pages: a session's settings, joining, minting API participants."""

from __future__ import annotations

from fractions import Fraction

from django import forms

from deliberation.models import Participant, Session


class SessionForm(forms.Form):
    """Title, prompt, open/closed and join policy of a session (written through the services)."""

    title = forms.CharField(max_length=200)
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="What the session is about; every participant reads this first.",
    )
    is_open = forms.BooleanField(
        required=False, initial=True, label="Open for new participants", help_text="Closed sessions accept no one new."
    )
    join_policy = forms.ChoiceField(
        choices=Session.JoinPolicy.choices,
        initial=Session.JoinPolicy.INVITE_LINK,
        widget=forms.RadioSelect,
        label="Who may join",
    )

    @classmethod
    def for_session(cls, session: Session) -> SessionForm:
        """An unbound form showing a session's current settings."""
        return cls(
            initial={
                "title": session.title,
                "prompt": session.prompt,
                "is_open": session.is_open,
                "join_policy": session.join_policy,
            }
        )


class JoinForm(forms.Form):
    """The optional name a participant without an account shows to the organizer."""

    display_name = forms.CharField(
        max_length=80, required=False, label="Your name (optional)", help_text="Leave empty to take part anonymously."
    )


class MintParticipantForm(forms.Form):
    """A participant created by the organizer for a script or an agent, with its API token."""

    display_name = forms.CharField(max_length=80, label="Name")
    kind = forms.ChoiceField(choices=Participant.Kind.choices, initial=Participant.Kind.AGENT)
    weight = forms.CharField(max_length=32, initial="1", help_text="An integer or a fraction such as 1/2.")

    def clean_weight(self) -> str:
        """Accept a non-negative integer or "p/q" fraction, kept as written in lowest terms."""
        text = self.cleaned_data["weight"].strip()
        if any(ch in text for ch in ".eE"):
            raise forms.ValidationError("Write the weight as an integer or a fraction such as 1/2.")
        try:
            weight = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise forms.ValidationError("Write the weight as an integer or a fraction such as 1/2.") from None
        if weight < 0:
            raise forms.ValidationError("The weight must not be negative.")
        return str(weight)
