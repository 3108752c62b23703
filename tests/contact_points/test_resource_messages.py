"""The EDXL-RM messages after a request: who sends which, in which state, within which quantities."""

from __future__ import annotations

import pytest

from contact_points.requests import RECIPIENT, REQUESTER, Refusal, RequestInvalid, RequestState
from contact_points.resource_messages import MessageItem, Sent, check_message, parse_message

REQUESTED = [10, 25]


def sent(*messages: tuple[str, dict[int, int], int | None]) -> list[Sent]:
    return [
        Sent(n, kind, tuple(MessageItem(e, q) for e, q in items.items()), preceding)
        for n, (kind, items, preceding) in enumerate(messages, start=1)
    ]


def test_a_commitment_moves_an_open_request_in_progress_and_follows_the_request() -> None:
    message = parse_message({"type": "CommitResource", "items": [{"element_id": 1, "quantity": 10}]})
    outcome = check_message(
        message, state=RequestState.OPEN, parties={RECIPIENT}, requested=REQUESTED, sent=[]
    )
    assert (outcome.preceding, outcome.state) == (0, RequestState.IN_PROGRESS)
    fulfilled = check_message(
        message, state=RequestState.IN_PROGRESS, parties={RECIPIENT}, requested=REQUESTED, sent=[]
    )
    assert fulfilled.state == RequestState.IN_PROGRESS


def test_commitments_add_up_to_at_most_what_was_asked() -> None:
    history = sent(("CommitResource", {1: 6}, 0), ("CommitResource", {1: 3, 2: 25}, 0))
    ok = parse_message({"type": "CommitResource", "items": [{"element_id": 1, "quantity": 1}]})
    check_message(ok, state=RequestState.IN_PROGRESS, parties={RECIPIENT}, requested=REQUESTED, sent=history)
    over = parse_message({"type": "CommitResource", "items": [{"element_id": 1, "quantity": 2}]})
    with pytest.raises(Refusal) as refused:
        check_message(
            over, state=RequestState.IN_PROGRESS, parties={RECIPIENT}, requested=REQUESTED, sent=history
        )
    assert (refused.value.rule, refused.value.forbidden) == ("request.message.over-commit", False)
    assert "1 left" in refused.value.message


def test_releases_and_returns_are_bounded_by_what_was_committed_and_name_their_predecessor() -> None:
    history = sent(("CommitResource", {1: 6}, 0), ("ReleaseResource", {1: 4}, 1))
    release = parse_message({"type": "ReleaseResource", "items": [{"element_id": 1, "quantity": 3}]})
    with pytest.raises(Refusal, match="over-release"):
        check_message(
            release, state=RequestState.IN_PROGRESS, parties={REQUESTER}, requested=REQUESTED, sent=history
        )
    back = parse_message({"type": "RequestReturn", "items": [{"element_id": 1, "quantity": 6}]})
    outcome = check_message(
        back, state=RequestState.CLOSED, parties={RECIPIENT}, requested=REQUESTED, sent=history
    )
    assert outcome.preceding == 2  # the release it follows
    nothing_committed = parse_message({"type": "RequestReturn", "items": [{"element_id": 2, "quantity": 1}]})
    with pytest.raises(Refusal, match="over-return"):
        check_message(
            nothing_committed,
            state=RequestState.CLOSED,
            parties={RECIPIENT},
            requested=REQUESTED,
            sent=history,
        )


def test_each_message_has_its_sender_and_states() -> None:
    commit = parse_message({"type": "CommitResource", "items": [{"element_id": 1, "quantity": 1}]})
    with pytest.raises(Refusal) as refused:
        check_message(commit, state=RequestState.OPEN, parties={REQUESTER}, requested=REQUESTED, sent=[])
    assert refused.value.forbidden
    with pytest.raises(Refusal) as late:
        check_message(commit, state=RequestState.FULFILLED, parties={RECIPIENT}, requested=REQUESTED, sent=[])
    assert late.value.rule == "request.message.state" and not late.value.forbidden
    release = parse_message({"type": "ReleaseResource", "items": [{"element_id": 1, "quantity": 1}]})
    with pytest.raises(Refusal, match="forbidden"):
        check_message(
            release, state=RequestState.IN_PROGRESS, parties={RECIPIENT}, requested=REQUESTED, sent=[]
        )


def test_a_return_is_answered_once_and_only_a_return_is_answered() -> None:
    history = sent(("CommitResource", {1: 6}, 0), ("RequestReturn", {1: 6}, 1))
    answer = parse_message({"type": "ResponseToRequestReturn", "preceding": 2, "response": "Accept"})
    outcome = check_message(
        answer, state=RequestState.CLOSED, parties={REQUESTER}, requested=REQUESTED, sent=history
    )
    assert outcome.preceding == 2
    answered = [*history, Sent(3, "ResponseToRequestReturn", (), 2)]
    with pytest.raises(Refusal, match="answered"):
        check_message(
            answer, state=RequestState.CLOSED, parties={REQUESTER}, requested=REQUESTED, sent=answered
        )
    not_a_return = parse_message({"type": "ResponseToRequestReturn", "preceding": 1, "response": "Decline"})
    with pytest.raises(RequestInvalid):
        check_message(
            not_a_return, state=RequestState.CLOSED, parties={REQUESTER}, requested=REQUESTED, sent=history
        )


def test_a_request_without_items_is_committed_to_as_a_whole() -> None:
    whole = parse_message({"type": "CommitResource", "note": "Two engineers from the Bangkok office"})
    outcome = check_message(
        whole, state=RequestState.ACKNOWLEDGED, parties={RECIPIENT}, requested=[], sent=[]
    )
    assert outcome.state == RequestState.IN_PROGRESS
    with pytest.raises(RequestInvalid) as invalid:
        check_message(whole, state=RequestState.OPEN, parties={RECIPIENT}, requested=REQUESTED, sent=[])
    assert [f.rule for f in invalid.value.findings] == ["request.message.items"]
