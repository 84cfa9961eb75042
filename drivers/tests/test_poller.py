"""The poll loop against real pymodbus servers: batches, merged reads, faults as BAD quality, back-off, overruns."""

import threading
import time

import pytest

from drivers.poller import ConnectionPoller
from tags.choices import Quality

from .conftest import make_groups, make_spec


def run_for(poller, seconds):
    return poller.run(until=time.monotonic() + seconds)


class Background:
    """Runs a poller in a thread until stop()."""

    def __init__(self, poller):
        self.poller = poller
        self._stop = threading.Event()
        self.thread = threading.Thread(target=lambda: poller.run(should_stop=self._stop.is_set), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(5)


def last_good(collector):
    """last_values for BAD samples: what the collector last saw GOOD (as the live table would hold)."""
    def lookup(tag_ids):
        out = {}
        for _, batch in collector.batches:
            for s in batch:
                if s.quality == Quality.GOOD and s.tag_id in tag_ids:
                    out[s.tag_id] = (s.value, s.ts)
        return out
    return lookup


def wait_until(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_it_records_one_batch_per_cycle_from_merged_reads(plc, collector):
    plc.call(plc.plc.set, "holding", 0, list(range(1000, 1250)))
    groups = make_groups({100: [(i, "holding", i, "uint16") for i in range(250)]})
    poller = ConnectionPoller(make_spec(plc.plc.port), groups, sink=collector, last_values=None)
    before = plc.plc.requests
    run_for(poller, 0.55)
    cycles = len(collector.batches)
    assert 5 <= cycles <= 7
    assert all(len(batch) == 250 for _, batch in collector.batches)  # one call per cycle, every tag in it
    assert plc.plc.requests - before == 2 * cycles  # 250 registers → 2 reads (125 + 125), never one per tag
    latest = collector.latest()
    assert latest[0].value == 1000 and latest[249].value == 1249 and latest[7].quality == Quality.GOOD
    assert poller.stats()["poll_ms_p99"] is not None and poller.overruns == 0


def test_it_turns_tags_bad_within_one_period_plus_timeout_when_the_plc_stops_answering(plc, collector):
    period, timeout = 0.2, 0.3
    plc.call(plc.plc.set, "input", 0, [42])
    groups = make_groups({200: [(1, "input", 0, "uint16"), (2, "input", 1, "uint16")]})
    poller = ConnectionPoller(make_spec(plc.plc.port, timeout=timeout), groups, sink=collector,
                              last_values=last_good(collector))
    with Background(poller):
        assert wait_until(lambda: len(collector.batches) >= 2)
        good = collector.latest()[1]
        frozen_at = time.monotonic()
        plc.plc.freeze()
        assert wait_until(lambda: collector.first_time(lambda s: s.quality == Quality.BAD) is not None)
    took = collector.first_time(lambda s: s.quality == Quality.BAD) - frozen_at
    assert took <= period + timeout + 0.15, f"BAD after {took:.3f} s"
    bad = collector.latest()[1]
    assert (bad.quality, bad.substatus) == (Quality.BAD, "comm_failure")
    assert (bad.value, bad.ts) == (good.value, good.ts)  # last value and its timestamp kept
    assert collector.latest()[2].substatus == "comm_failure"  # every tag of the connection


def test_it_turns_tags_bad_at_once_when_the_plc_closes_the_connection(plc, collector):
    groups = make_groups({100: [(1, "holding", 0, "uint16")]})
    poller = ConnectionPoller(make_spec(plc.plc.port, timeout=2.0), groups, sink=collector, last_values=None)
    with Background(poller):
        assert wait_until(lambda: len(collector.batches) >= 2)
        gone_at = time.monotonic()
        plc.stop()
        assert wait_until(lambda: collector.first_time(lambda s: s.quality == Quality.BAD) is not None)
    took = collector.first_time(lambda s: s.quality == Quality.BAD) - gone_at
    assert took <= 0.1 + 0.15, f"BAD after {took:.3f} s (a reset needs no timeout)"


def test_it_backs_off_exponentially_up_to_the_cap(collector):
    from tests.servers import free_port

    groups = make_groups({100: [(1, "holding", 0, "uint16")]})
    poller = ConnectionPoller(make_spec(free_port(), backoff_cap=1.0), groups, sink=collector, last_values=None)
    attempts = []
    real_connect = poller.transport.connect

    def counting_connect():
        attempts.append(time.monotonic())
        return real_connect()

    poller.transport.connect = counting_connect
    run_for(poller, 4.2)
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert len(gaps) >= 4
    # 0.5 s, then doubled and already at the 1 s cap, never beyond it (each rounded up to the 100 ms grid,
    # plus a margin for a busy machine).
    assert 0.45 <= gaps[0] <= 0.75
    assert 0.95 <= gaps[1] <= 1.3
    assert all(0.95 <= g <= 1.3 for g in gaps[2:])
    assert collector.latest()[1].substatus == "comm_failure"
    assert len(collector.batches) == 1  # BAD recorded once, not once per attempt


def test_it_reconnects_after_the_plc_answers_again(plc, collector):
    groups = make_groups({100: [(1, "holding", 0, "uint16")]})
    poller = ConnectionPoller(make_spec(plc.plc.port, timeout=0.2), groups, sink=collector, last_values=None)
    with Background(poller):
        assert wait_until(lambda: len(collector.batches) >= 1)
        plc.plc.freeze()
        assert wait_until(lambda: collector.latest()[1].quality == Quality.BAD)
        plc.plc.thaw()
        assert wait_until(lambda: collector.latest()[1].quality == Quality.GOOD, timeout=3)
    assert poller.reconnects == 1
    assert plc.plc.connections == 1  # the old socket was closed, not leaked


def test_it_marks_only_the_refused_tags_bad_config_error(plc_factory, collector):
    plc = plc_factory(holes=[("holding", 5, 1)])
    groups = make_groups({100: [(i, "holding", i, "uint16") for i in range(10)]}, max_gap=0)
    assert len(groups[0].blocks) == 1  # 0..9 in one read, which the PLC refuses because of address 5
    poller = ConnectionPoller(make_spec(plc.plc.port), groups, sink=collector, last_values=None)
    poller.cycle(groups[0])
    first = {s.tag_id: s for s in collector.batches[-1][1]}
    assert {s.substatus for s in first.values()} == {"config_error"}
    assert len(groups[0].blocks) == 10  # split into one read per tag
    poller.cycle(groups[0])
    second = {s.tag_id: s for s in collector.batches[-1][1]}
    assert 5 not in second  # still refused for the same reason: nothing new to record
    assert (collector.latest()[5].quality, collector.latest()[5].substatus) == (Quality.BAD, "config_error")
    assert all(second[i].quality == Quality.GOOD for i in range(10) if i != 5)
    assert poller.transport.connected  # an exception is an answer: the socket stays


def test_it_keeps_one_socket_per_plc_across_scan_classes(plc, collector):
    groups = make_groups({100: [(1, "holding", 0, "uint16")], 250: [(2, "input", 0, "uint16")],
                          1000: [(3, "coil", 0, "bool")]})
    poller = ConnectionPoller(make_spec(plc.plc.port), groups, sink=collector, last_values=None)
    with Background(poller):
        assert wait_until(lambda: 3 in collector.latest())
        assert plc.plc.connections == 1


def test_it_skips_and_counts_late_cycles_instead_of_queueing_them(plc, collector):
    plc.plc.delay = 0.15  # every read takes 150 ms: longer than the 100 ms period
    groups = make_groups({100: [(1, "holding", 0, "uint16")]})
    poller = ConnectionPoller(make_spec(plc.plc.port, timeout=1.0), groups, sink=collector, last_values=None)
    run_for(poller, 1.0)
    # Each cycle overlaps the next slot, which is skipped: a cycle every 200 ms, never two back to back.
    assert 4 <= poller.cycles <= 6
    assert poller.overruns >= poller.cycles - 1
    starts = [t for t, _ in collector.batches]
    assert all(b - a >= 0.18 for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("table,data_type,value", [("coil", "bool", True), ("discrete", "bool", True),
                                                   ("input", "int16", -5), ("holding", "uint16", 7)])
def test_it_reads_every_table(plc, collector, table, data_type, value):
    raw = [value] if data_type == "bool" else [value & 0xFFFF]
    plc.call(plc.plc.set, table, 3, raw)
    groups = make_groups({100: [(1, table, 3, data_type)]})
    poller = ConnectionPoller(make_spec(plc.plc.port), groups, sink=collector, last_values=None)
    poller.cycle(groups[0])
    assert collector.latest()[1].value == value
