"""Leases in Redis: one holder at a time, renewed and released only by the token that holds them."""

from scada.redis import get_redis, lease_acquire, lease_release, lease_renew, lease_renew_queue

KEY = "kiln:test:lease"


def test_it_gives_a_free_lease_to_the_first_taker_only():
    assert lease_acquire(KEY, "a", 5000)
    assert not lease_acquire(KEY, "b", 5000)


def test_it_lets_the_holder_take_its_lease_again_and_extends_it():
    assert lease_acquire(KEY, "a", 100)
    assert lease_acquire(KEY, "a", 5000)
    assert get_redis().pttl(KEY) > 1000


def test_it_renews_for_the_holder_only():
    lease_acquire(KEY, "a", 5000)
    assert lease_renew(KEY, "a", 5000)
    assert not lease_renew(KEY, "b", 5000)


def test_it_renews_inside_a_pipeline():
    lease_acquire(KEY, "a", 5000)
    pipe = get_redis().pipeline(transaction=False)
    lease_renew_queue(pipe, KEY, "a", 5000)
    lease_renew_queue(pipe, KEY, "b", 5000)
    assert pipe.execute() == [1, 0]


def test_a_release_by_another_token_leaves_the_lease_held():
    lease_acquire(KEY, "a", 5000)
    lease_release(KEY, "b")
    assert get_redis().get(KEY) == b"a"
    lease_release(KEY, "a")
    assert get_redis().get(KEY) is None
