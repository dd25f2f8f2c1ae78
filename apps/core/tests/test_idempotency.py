"""Request idempotency: one answer per (scope, key); a different body under the same key is a conflict."""

from __future__ import annotations

import json
import threading

import pytest
from rest_framework.test import APIRequestFactory

from apps.core.api import idempotency_key
from apps.core.errors import IdempotencyConflict, InsufficientFunds, ValidationFailed
from apps.core.models import IdempotentRequest
from apps.core.services import idempotent_call, request_fingerprint
from apps.core.testing import run_together

pytestmark = pytest.mark.django_db


class Counter:
    def __init__(self, answer=(201, {"id": 1, "amount": "10.00"})):
        self.calls = 0
        self.answer = answer

    def __call__(self):
        self.calls += 1
        return self.answer


def fp(body) -> str:
    return request_fingerprint(method="POST", path="/api/v1/wallet/deposits", body=body)


def test_same_key_same_body_replays_without_running_again():
    action = Counter()
    first = idempotent_call(scope="player:1", key="k-1", fingerprint=fp({"amount": "10.00"}), action=action)
    again = idempotent_call(scope="player:1", key="k-1", fingerprint=fp({"amount": "10.00"}), action=action)
    assert first == again == (201, {"id": 1, "amount": "10.00"})
    assert action.calls == 1
    assert IdempotentRequest.objects.count() == 1


def test_same_key_different_body_is_a_conflict():
    action = Counter()
    idempotent_call(scope="player:1", key="k-1", fingerprint=fp({"amount": "10.00"}), action=action)
    with pytest.raises(IdempotencyConflict):
        idempotent_call(scope="player:1", key="k-1", fingerprint=fp({"amount": "11.00"}), action=action)
    assert action.calls == 1


def test_keys_are_per_scope():
    action = Counter()
    idempotent_call(scope="player:1", key="k-1", fingerprint=fp({}), action=action)
    idempotent_call(scope="player:2", key="k-1", fingerprint=fp({"other": True}), action=action)
    assert action.calls == 2


def test_a_refused_request_stores_nothing_and_can_be_retried():
    def refuse():
        raise InsufficientFunds()

    with pytest.raises(InsufficientFunds):
        idempotent_call(scope="player:1", key="k-2", fingerprint=fp({"amount": "99.00"}), action=refuse)
    assert not IdempotentRequest.objects.exists()
    action = Counter()
    assert idempotent_call(scope="player:1", key="k-2", fingerprint=fp({"amount": "99.00"}), action=action)[0] == 201


def test_stored_answer_is_plain_json():
    from decimal import Decimal

    action = Counter(answer=(200, {"amount": Decimal("1.50")}))
    idempotent_call(scope="s", key="k", fingerprint=fp({}), action=action)
    record = IdempotentRequest.objects.get()
    assert json.loads(record.response_body) == {"amount": "1.50"}
    assert idempotent_call(scope="s", key="k", fingerprint=fp({}), action=action) == (200, {"amount": "1.50"})


def test_fingerprint_ignores_key_order_but_not_values_paths_or_methods():
    assert fp({"a": 1, "b": 2}) == fp({"b": 2, "a": 1})
    assert fp({"a": 1}) != fp({"a": 2})
    assert fp({}) != request_fingerprint(method="POST", path="/api/v1/wallet/withdrawals", body={})
    assert fp({}) != request_fingerprint(method="PUT", path="/api/v1/wallet/deposits", body={})


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_run_the_action_once():
    calls = []
    lock = threading.Lock()


    def action():
        with lock:
            calls.append(1)
        return 201, {"id": 7}

    answers = run_together(5, lambda _: idempotent_call(scope="player:9", key="same", fingerprint=fp({"amount": "5.00"}), action=action))
    assert len(calls) == 1
    assert answers == [(201, {"id": 7})] * 5


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({}, False),
        ({"HTTP_IDEMPOTENCY_KEY": ""}, False),
        ({"HTTP_IDEMPOTENCY_KEY": "k" * 65}, False),
        ({"HTTP_IDEMPOTENCY_KEY": "has space"}, False),
        ({"HTTP_IDEMPOTENCY_KEY": "clé"}, False),
        ({"HTTP_IDEMPOTENCY_KEY": "k"}, True),
        ({"HTTP_IDEMPOTENCY_KEY": "k" * 64}, True),
        ({"HTTP_IDEMPOTENCY_KEY": "0b8f7c1e-2a4d-4f7e-9c1a-abcdef012345"}, True),
    ],
)
def test_idempotency_key_header_is_1_to_64_printable_characters(headers, ok):
    request = APIRequestFactory().post("/api/v1/wallet/deposits", {}, format="json", **headers)
    if ok:
        assert idempotency_key(request) == headers["HTTP_IDEMPOTENCY_KEY"]
    else:
        with pytest.raises(ValidationFailed) as exc:
            idempotency_key(request)
        assert "Idempotency-Key" in exc.value.details
