"""SMART `state`: single use, time-limited and bound to the browser that started the launch (SMART 1.10)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import sqlalchemy as sa

from storage import LaunchState, Storage
from storage.schema import launch_state


def _state(now: datetime, state: str = "state-1", browser_key: str = "browser-a") -> LaunchState:
    return LaunchState(
        state=state,
        browser_key=browser_key,
        iss="https://ehr.example.org/fhir",
        launch="launch-xyz",
        code_verifier="verifier-0123456789abcdef0123456789abcdef0123",
        redirect_uri="https://app.example.org/smart/callback",
        scope="launch openid fhirUser patient/Observation.rs",
        standalone=False,
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )


def test_state_is_returned_once(storage: Storage, now: datetime) -> None:
    storage.put_launch_state(_state(now))

    assert storage.take_launch_state("state-1", "browser-a", now) == _state(now)


def test_state_cannot_be_taken_twice(storage: Storage, now: datetime) -> None:
    storage.put_launch_state(_state(now))
    storage.take_launch_state("state-1", "browser-a", now)

    assert storage.take_launch_state("state-1", "browser-a", now) is None


def test_expired_state_is_rejected(storage: Storage, now: datetime) -> None:
    storage.put_launch_state(_state(now))

    assert storage.take_launch_state("state-1", "browser-a", now + timedelta(minutes=10)) is None


def test_state_bound_to_another_browser_is_rejected(storage: Storage, now: datetime) -> None:
    storage.put_launch_state(_state(now, browser_key="browser-a"))

    assert storage.take_launch_state("state-1", "browser-b", now) is None


def test_another_browser_trying_the_state_does_not_spend_it(storage: Storage, now: datetime) -> None:
    storage.put_launch_state(_state(now, browser_key="browser-a"))
    storage.take_launch_state("state-1", "browser-b", now)

    assert storage.take_launch_state("state-1", "browser-a", now) is not None


def test_unknown_state_is_rejected(storage: Storage, now: datetime) -> None:
    assert storage.take_launch_state("never-issued", "browser-a", now) is None


def test_threads_racing_for_one_state_have_exactly_one_winner(storage: Storage, now: datetime) -> None:
    storage.put_launch_state(_state(now))
    racers = 8
    start = threading.Barrier(racers)
    results: list[LaunchState | None] = []

    def take() -> None:
        start.wait()
        results.append(storage.take_launch_state("state-1", "browser-a", now))

    threads = [threading.Thread(target=take) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == racers
    assert sum(result is not None for result in results) == 1


def test_code_verifier_is_not_stored_in_plain_text(
    storage: Storage, raw_database: sa.Engine, now: datetime
) -> None:
    storage.put_launch_state(_state(now))

    with raw_database.connect() as connection:
        row = connection.execute(sa.select(launch_state)).one()

    assert not any(_state(now).code_verifier in str(value) for value in row)


def test_expired_states_are_deleted(storage: Storage, raw_database: sa.Engine, now: datetime) -> None:
    storage.put_launch_state(_state(now, state="old"))
    storage.put_launch_state(_state(now + timedelta(minutes=5), state="recent"))

    storage.delete_expired(now + timedelta(minutes=12))

    with raw_database.connect() as connection:
        assert connection.execute(sa.select(launch_state.c.state)).scalars().all() == ["recent"]
