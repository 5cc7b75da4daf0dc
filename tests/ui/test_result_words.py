"""The words of a results page: status sentences, certificates and option names in engine notes."""

from __future__ import annotations

from voting.presentation import certificate_sentence, name_candidates, status_sentence

LABELS = {"a": "Park", "b": "Bikes", "c": "Library"}


def test_certificate_sentences():
    assert certificate_sentence({"changed_ballots": 12}) == "This result stands even if any 12 ballots were changed."
    assert certificate_sentence({"changed_ballots": 1}) == "This result stands even if any 1 ballot was changed."
    assert certificate_sentence("unbounded") == "No change of ballots can alter this result."
    assert certificate_sentence(None) == "No robustness certificate is defined for this rule."
    assert certificate_sentence({"changed_ballots": 0}).startswith("This result is not guaranteed")
    assert certificate_sentence({"changed_ballots": 3, "plurality": 1}) == (
        "This result stands even if any 3 ballots were changed. "
        "A plain plurality count would stand if any 1 ballot was changed."
    )


def test_status_sentences():
    assert status_sentence({"status": "winner", "winners": ["b"]}, LABELS, "single") == "“Bikes” wins."
    assert status_sentence({"status": "tie", "winners": ["a", "b", "c"]}, LABELS, "ranking") == (
        "Tie between “Park”, “Bikes” and “Library”."
    )
    assert (
        status_sentence(
            {"status": "winner_by_tiebreak", "winners": ["a"], "tie_break": "lowest_index"}, LABELS, "single"
        )
        == "“Park” wins by the tie-break: of the tied options, the one listed first wins."
    )
    assert status_sentence({"status": "no_quorum", "winners": []}, LABELS, "single").startswith("The quorum")
    assert status_sentence({"status": "winner", "outcome_exact": "85/2"}, {}, "number") == "The outcome is 42.5."


def test_engine_notes_name_the_options():
    assert name_candidates("Candidate 2 has a majority.", LABELS) == "“Library” has a majority."
    assert name_candidates("candidates 0, 1 and 2 tie", LABELS) == "“Park”, “Bikes” and “Library” tie"
    assert name_candidates("2 candidates are tied", LABELS) == "2 candidates are tied"
    assert name_candidates("candidate 7 is unknown", LABELS) == "candidate 7 is unknown"


def test_an_empty_budget_question_speaks_of_budget_splits_not_numbers():
    assert status_sentence({"status": "no_reports"}, {}, "budget") == "No budget split has been proposed yet."
    assert status_sentence({"status": "no_reports"}, {}, "number") == "No numbers have been reported yet."
