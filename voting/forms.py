"""Forms of the voting pages: a question with its rule parameters, and a ballot of each kind.

The forms only turn what people typed into the engine's vocabulary (parameter dicts,
JSON ballots with option keys); whether a rule accepts the parameters, or a question
the ballot, is decided by the services, which ask the engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from aggregation import InvalidInput, get_rule
from voting.models import Option, Question
from voting.selectors import rules_for_kind

NUMBER_HELP = "An integer, a decimal such as 12.5, or a fraction such as 2/3."

# Parameter -> the form fields that edit it (the first is where its errors are shown).
PARAM_FIELDS: dict[str, tuple[str, ...]] = {
    "threshold": ("threshold", "supermajority_q"),
    "strict_supermajority": ("strict_supermajority",),
    "base": ("base",),
    "eligible_weight": ("eligible_weight",),
    "quorum": ("quorum_type", "quorum_value"),
    "quorum_counts_abstentions": ("quorum_counts_abstentions",),
    "tie_break": ("tie_break",),
    "tie_rule": ("tie_rule",),
    "score_tie": ("score_tie",),
    "lo": ("lo",),
    "hi": ("hi",),
    "out_of_range": ("out_of_range",),
    "total": ("total",),
}


def parse_number(text: str) -> int | str:
    """Read an integer, decimal or "p/q" number into the engine's exact JSON form (int or "p/q")."""
    text = text.strip()
    try:
        value = Fraction(Decimal(text)) if "/" not in text else Fraction(text)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        raise ValidationError(f"{text!r} is not a number. {NUMBER_HELP}") from None
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def rule_title(rule: str) -> str:
    """The engine's title of a rule, or its name while the rule is not registered."""
    try:
        return get_rule(rule).title
    except InvalidInput:
        return rule


def rule_params(rule: str) -> dict[str, Any]:
    """The rule's parameters with their specs (empty for an unknown rule)."""
    try:
        return dict(get_rule(rule).params)
    except InvalidInput:
        return {}


class QuestionForm(forms.Form):
    """A question: text, ballot kind, rule, the rule's parameters, visibility and options."""

    text = forms.CharField(max_length=500, label="Question")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    kind = forms.ChoiceField(choices=Question.Kind.choices, label="Ballot", initial=Question.Kind.SINGLE)
    rule = forms.ChoiceField(choices=(), label="Rule")
    visibility = forms.ChoiceField(
        choices=Question.Visibility.choices, initial=Question.Visibility.LIVE, widget=forms.RadioSelect
    )
    options = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Options",
        help_text="One per line, in tie-break order (the first line wins an unresolved tie where the rule says so).",
    )
    # Rule parameters; only those the chosen rule has are shown and sent.
    threshold = forms.ChoiceField(
        choices=[
            ("absolute_majority", "More than half"),
            ("supermajority", "A supermajority of at least q"),
            ("plurality", "Most votes, no threshold"),
        ],
        required=False,
        label="Threshold to win",
    )
    supermajority_q = forms.CharField(required=False, label="Supermajority q", help_text="Between 1/2 and 1, e.g. 2/3.")
    strict_supermajority = forms.BooleanField(required=False, label="Strictly more than q (not at least q)")
    base = forms.ChoiceField(
        choices=[
            ("valid", "Valid votes (blank ballots do not count)"),
            ("cast", "Ballots cast (blank ballots count against)"),
            ("eligible", "All eligible voters (needs the eligible weight)"),
        ],
        required=False,
        label="Share of",
    )
    eligible_weight = forms.CharField(required=False, label="Eligible weight", help_text="Number of eligible voters.")
    quorum_type = forms.ChoiceField(
        choices=[
            ("none", "No quorum"),
            ("count", "At least this many ballots"),
            ("fraction_of_eligible", "A share of eligible voters"),
        ],
        required=False,
        label="Quorum",
    )
    quorum_value = forms.CharField(required=False, label="Quorum value", help_text=NUMBER_HELP)
    quorum_counts_abstentions = forms.BooleanField(required=False, label="Blank ballots count towards the quorum")
    tie_break = forms.ChoiceField(
        choices=[("none", "Report the tie"), ("lowest_index", "First option in the list wins")],
        required=False,
        label="On a tie",
    )
    tie_rule = forms.ChoiceField(
        choices=[
            ("simultaneous", "Eliminate all tied-last options together"),
            ("order", "Eliminate the tied option listed first"),
            ("put", "Winners under any order of elimination (parallel universes)"),
        ],
        required=False,
        label="Elimination ties",
    )
    score_tie = forms.ChoiceField(
        choices=[("abstain", "Equal scores abstain"), ("roe_code", "Equal scores count against (as the ROE code)")],
        required=False,
        label="Equal scores in the run-off",
    )
    lo = forms.CharField(required=False, label="Lowest value", help_text=NUMBER_HELP)
    hi = forms.CharField(required=False, label="Highest value", help_text=NUMBER_HELP)
    out_of_range = forms.ChoiceField(
        choices=[("clamp", "Move to the nearest end of the range"), ("reject", "Refuse the ballot")],
        required=False,
        label="A number outside the range",
    )
    total = forms.CharField(required=False, label="Budget total", help_text=NUMBER_HELP)

    EDITABLE_FIELDS = ("text", "description", "visibility")
    STRUCTURE_FIELDS = (
        "kind",
        "rule",
        "options",
        "threshold",
        "supermajority_q",
        "strict_supermajority",
        "base",
        "eligible_weight",
        "quorum_type",
        "quorum_value",
        "quorum_counts_abstentions",
        "tie_break",
        "tie_rule",
        "score_tie",
        "lo",
        "hi",
        "out_of_range",
        "total",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self._value_of("kind") or Question.Kind.SINGLE
        if kind not in Question.Kind.values:
            kind = Question.Kind.SINGLE
        self.chosen_kind = kind
        rules = list(rules_for_kind(kind))
        self.fields["rule"].choices = [(name, rule_title(name)) for name in rules]
        rule = self._value_of("rule")
        if rule not in rules:
            rule = rules[0] if rules else ""
            if self.is_bound:
                data = self.data.copy()
                data["rule"] = rule
                self.data = data
        self.fields["rule"].initial = rule
        self.chosen_rule = rule
        self.param_specs = rule_params(rule)
        self._set_param_initials()

    def _value_of(self, name: str) -> str | None:
        if self.is_bound:
            return self.data.get(self.add_prefix(name))
        value = self.initial.get(name, self.fields[name].initial)
        return str(value) if value is not None else None

    def _set_param_initials(self) -> None:
        defaults = {name: spec.default for name, spec in self.param_specs.items()}
        for field, value in param_form_values(defaults).items():
            self.fields[field].initial = value

    @classmethod
    def for_question(cls, question: Question) -> QuestionForm:
        """An unbound form showing a stored question, its options and its parameters."""
        initial = {
            "text": question.text,
            "description": question.description,
            "kind": question.kind,
            "rule": question.rule,
            "visibility": question.visibility,
            "options": "\n".join(option.label for option in question.options.all()),
            **param_form_values(question.params or {}),
        }
        return cls(initial=initial)

    @property
    def takes_options(self) -> bool:
        """Whether the chosen ballot kind has options (a number question has none)."""
        return self.chosen_kind != Question.Kind.NUMBER

    @property
    def param_field_names(self) -> list[str]:
        """Form fields of the chosen rule's parameters, in the form's order."""
        wanted = {field for param in self.param_specs for field in PARAM_FIELDS.get(param, ())}
        return [name for name in self.fields if name in wanted]

    def param_fields(self) -> list[forms.BoundField]:
        """Bound fields of the chosen rule's parameters (for the template)."""
        return [self[name] for name in self.param_field_names]

    def param_help(self) -> list[tuple[str, str]]:
        """The engine's explanation of each parameter of the chosen rule."""
        return [(name, spec.help) for name, spec in self.param_specs.items() if name in PARAM_FIELDS]

    def clean_options(self) -> list[str]:
        """One option per non-empty line."""
        return [line.strip() for line in self.cleaned_data.get("options", "").splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        """Build the rule's parameter dict from the parameter fields (numbers read exactly)."""
        cleaned = super().clean()
        params: dict[str, Any] = {}
        for name in self.param_specs:
            try:
                value = self._param_value(name, cleaned)
            except ValidationError as error:
                self.add_error(PARAM_FIELDS[name][-1] if name == "quorum" else PARAM_FIELDS[name][0], error)
                continue
            if value is not _OMIT:
                params[name] = value
        cleaned["params"] = params
        return cleaned

    def _param_value(self, name: str, cleaned: dict[str, Any]) -> Any:
        if name not in PARAM_FIELDS:
            return _OMIT
        if name == "threshold":
            threshold = cleaned.get("threshold") or _OMIT
            if threshold == "supermajority":
                q = (cleaned.get("supermajority_q") or "").strip()
                if not q:
                    self.add_error("supermajority_q", "Give the supermajority q, e.g. 2/3.")
                    return _OMIT
                try:
                    return {"supermajority": parse_number(q)}
                except ValidationError as error:
                    self.add_error("supermajority_q", error)
                    return _OMIT
            return threshold
        if name == "quorum":
            kind = cleaned.get("quorum_type") or "none"
            if kind == "none":
                return None
            value = (cleaned.get("quorum_value") or "").strip()
            if not value:
                raise ValidationError("Give the quorum value.")
            return {"type": kind, "value": parse_number(value)}
        field = PARAM_FIELDS[name][0]
        value = cleaned.get(field)
        if isinstance(self.fields[field], forms.BooleanField):
            return bool(value)
        if isinstance(self.fields[field], forms.ChoiceField):
            return value or _OMIT
        text = (value or "").strip()
        return parse_number(text) if text else _OMIT

    def add_service_errors(self, error: ValidationError) -> None:
        """Show the service's (the engine's) objections on the fields they concern."""
        messages = error.message_dict if hasattr(error, "error_dict") else {"rule": error.messages}
        for key, texts in messages.items():
            for text in texts:
                self.add_error(self._field_for(key, text), text[:1].upper() + text[1:])

    def _param_mentioned(self, text: str) -> str | None:
        """The chosen rule's parameter an engine message names first (by name or alias), if any."""
        found: list[tuple[int, str]] = []
        for param in self.param_specs:
            if param not in PARAM_FIELDS:
                continue
            for word in (param, *PARAM_ALIASES.get(param, ())):
                match = re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE)
                if match:
                    found.append((match.start(), param))
        return min(found)[1] if found else None

    def _field_for(self, key: str, text: str) -> str | None:
        if key in ("option_labels", "options"):
            return "options"
        if key in self.fields:
            return key
        name = key.split(".", 1)[1] if key.startswith("params.") else None
        if name is None:
            name = self._param_mentioned(text)
        if name in PARAM_FIELDS and name in self.param_specs:
            if name == "threshold" and self.cleaned_data.get("threshold") == "supermajority":
                return "supermajority_q"
            if name == "quorum":
                return "quorum_value"
            return PARAM_FIELDS[name][0]
        return "rule"


_OMIT = object()


def param_form_values(params: dict[str, Any]) -> dict[str, Any]:
    """The parameter fields' values that show these engine parameters (the inverse of ``clean``)."""
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name == "threshold":
            if isinstance(value, dict) and "supermajority" in value:
                values["threshold"] = "supermajority"
                values["supermajority_q"] = str(value["supermajority"])
            elif value is not None:
                values["threshold"] = value
        elif name == "quorum":
            values["quorum_type"] = value.get("type", "none") if isinstance(value, dict) else "none"
            if isinstance(value, dict):
                values["quorum_value"] = str(value.get("value", ""))
        elif name in PARAM_FIELDS and value is not None:
            values[PARAM_FIELDS[name][0]] = value if isinstance(value, bool) else str(value)
    return values


# Words that name a parameter in the engine's messages besides the parameter's own name.
PARAM_ALIASES: dict[str, tuple[str, ...]] = {
    "threshold": ("supermajority", "majority"),
    "eligible_weight": ("eligible",),
    "quorum_counts_abstentions": ("abstentions",),
    "lo": ("lower",),
    "hi": ("upper",),
}


class SessionQuestionVisibilityForm(forms.Form):
    """Switch a question between live results and results only after closing."""

    visibility = forms.ChoiceField(choices=Question.Visibility.choices)


class BallotForm(forms.Form):
    """A ballot of the question's kind, one field per control; ``content()`` gives the engine JSON.

    single: a radio ``choice`` (or blank); ranking: a position ``rank-<key>`` per option
    (the no-JavaScript base; a script turns it into a sortable list); scores:
    ``score-<key>``; number: ``value``; budget: ``amount-<key>``.
    """

    ABSTAIN = "__blank__"

    def __init__(
        self, question: Question, options: Sequence[Option], *args: Any, content: dict | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.question = question
        self.options = list(options)
        kind = question.kind
        m = len(self.options)
        if kind == Question.Kind.SINGLE:
            choices = [(option.key, option.label) for option in self.options] + [
                (self.ABSTAIN, "Blank ballot (abstain)")
            ]
            self.fields["choice"] = forms.ChoiceField(
                choices=choices,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose one option (or the blank ballot)."},
            )
        elif kind == Question.Kind.RANKING:
            positions = [("", "not ranked")] + [(str(i), str(i)) for i in range(1, m + 1)]
            for option in self.options:
                self.fields[f"rank-{option.key}"] = forms.ChoiceField(
                    choices=positions, required=False, label=option.label
                )
        elif kind in (Question.Kind.SCORES, Question.Kind.BUDGET):
            prefix = "score" if kind == Question.Kind.SCORES else "amount"
            for option in self.options:
                self.fields[f"{prefix}-{option.key}"] = forms.CharField(required=False, label=option.label)
        elif kind == Question.Kind.NUMBER:
            self.fields["value"] = forms.CharField(
                required=True, label="Your number", error_messages={"required": "Give a number."}
            )
        if content is not None and not self.is_bound:
            self.initial.update(self.initial_from_content(content))

    def initial_from_content(self, content: dict) -> dict[str, str]:
        """The form values that show a stored ballot (to pre-fill the current ballot)."""
        kind = self.question.kind
        if kind == Question.Kind.SINGLE and "choice" in content:
            return {"choice": content["choice"] if content["choice"] is not None else self.ABSTAIN}
        if kind == Question.Kind.SINGLE and "ranking" in content:
            ranking = content["ranking"]
            return {"choice": ranking[0] if ranking else self.ABSTAIN}
        if kind == Question.Kind.RANKING and "ranking" in content:
            return {f"rank-{key}": str(position) for position, key in enumerate(content["ranking"], start=1)}
        if kind == Question.Kind.SCORES and "scores" in content:
            return {f"score-{key}": _plain(value) for key, value in content["scores"].items()}
        if kind == Question.Kind.NUMBER and "value" in content:
            return {"value": _plain(content["value"])}
        if kind == Question.Kind.BUDGET and "allocation" in content:
            return {f"amount-{key}": _plain(value) for key, value in content["allocation"].items()}
        return {}

    def value_of(self, name: str) -> str:
        """The value a control shows: what was posted, or the current ballot's."""
        if self.is_bound:
            return self.data.get(name, "")
        return str(self.initial.get(name, ""))

    def rows(self) -> list[dict[str, Any]]:
        """Per-option rows for the template: key, label, field name, current value."""
        prefix = {"ranking": "rank", "scores": "score", "budget": "amount"}.get(self.question.kind, "")
        rows = []
        for option in self.options:
            name = f"{prefix}-{option.key}"
            rows.append({"key": option.key, "label": option.label, "name": name, "value": self.value_of(name)})
        if self.question.kind == Question.Kind.RANKING:
            # Show ranked options first, in their order, as the sortable list starts from this order.
            unranked = len(rows) + 1
            rows.sort(key=lambda row: int(row["value"]) if row["value"].isdigit() else unranked)
        return rows

    def clean(self) -> dict[str, Any]:
        """Read the controls into the engine's JSON ballot (``cleaned_data['content']``)."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        kind = self.question.kind
        if kind == Question.Kind.SINGLE:
            choice = cleaned["choice"]
            cleaned["content"] = {"choice": None if choice == self.ABSTAIN else choice}
        elif kind == Question.Kind.RANKING:
            cleaned["content"] = {"ranking": self._ranking(cleaned)}
        elif kind == Question.Kind.SCORES:
            cleaned["content"] = {"scores": self._numbers(cleaned, "score", "Give every option a score.")}
        elif kind == Question.Kind.BUDGET:
            cleaned["content"] = {"allocation": self._numbers(cleaned, "amount", None)}
        elif kind == Question.Kind.NUMBER:
            try:
                cleaned["content"] = {"value": _json_number(cleaned["value"])}
            except ValidationError as error:
                self.add_error("value", error)
        return cleaned

    def _ranking(self, cleaned: dict[str, Any]) -> list[str]:
        placed: dict[int, str] = {}
        for option in self.options:
            position = cleaned.get(f"rank-{option.key}")
            if not position:
                continue
            if int(position) in placed:
                other = next(o.label for o in self.options if o.key == placed[int(position)])
                raise ValidationError(f"“{other}” and “{option.label}” are both at position {position}.")
            placed[int(position)] = option.key
        return [placed[position] for position in sorted(placed)]

    def _numbers(self, cleaned: dict[str, Any], prefix: str, missing: str | None) -> dict[str, int | float]:
        numbers: dict[str, int | float] = {}
        for option in self.options:
            text = (cleaned.get(f"{prefix}-{option.key}") or "").strip()
            if not text:
                if missing:
                    raise ValidationError(missing)
                text = "0"
            try:
                numbers[option.key] = _json_number(text)
            except ValidationError as error:
                raise ValidationError(f"{option.label}: {error.messages[0]}") from None
        return numbers


def _json_number(text: str) -> int | float:
    """A typed decimal as a JSON number (ints stay ints; the engine reads floats by their decimal text)."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValidationError(f"“{text}” is not a number.") from None
    if not value.is_finite():
        raise ValidationError(f"“{text}” is not a number.")
    return int(value) if value == value.to_integral_value() else float(value)


def _plain(value: Any) -> str:
    """A stored number as a form shows it."""
    if isinstance(value, str) and "/" in value:
        return str(float(Fraction(value)))
    return str(value)
