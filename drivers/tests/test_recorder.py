"""The recorder thread (drivers.recorder): the poll schedule does not wait on recording; order and batches kept."""

import threading
import time

from drivers.poller import ConnectionPoller
from drivers.recorder import BackgroundRecorder

from .conftest import Collector, make_groups, make_spec


class SlowSink(Collector):
    """A recording that takes `delay` seconds a batch (a slow Redis, an alarm flood, a busy machine)."""

    def __init__(self, delay):
        super().__init__()
        self.delay = delay
        self.threads = set()

    def __call__(self, samples):
        time.sleep(self.delay)
        self.threads.add(threading.current_thread().name)
        super().__call__(samples)


def test_it_records_every_batch_in_order_on_its_own_thread():
    sink = SlowSink(0.02)
    recorder = BackgroundRecorder(sink)
    t0 = time.monotonic()
    for i in range(10):
        recorder([i])
    assert time.monotonic() - t0 < 0.05  # handing over does not wait for recording
    assert recorder.drain(5)
    assert [batch for _, batch in sink.batches] == [[i] for i in range(10)]
    assert sink.threads == {"kiln-recorder"}


def test_a_full_queue_makes_the_caller_record_itself_instead_of_dropping():
    sink = SlowSink(0.01)
    recorder = BackgroundRecorder(sink, max_pending=2)
    for i in range(8):
        recorder([i])
    recorder.drain(5)
    assert [batch for _, batch in sink.batches] == [[i] for i in range(8)]
    assert recorder.stats()["record_inline"] > 0


def test_a_read_back_is_recorded_after_the_batches_already_handed_over():
    sink = SlowSink(0.02)
    recorder = BackgroundRecorder(sink)
    recorder(["cycle-1"])
    recorder(["cycle-2"])
    recorder.record_now(["read-back"])
    assert [batch for _, batch in sink.batches] == [["cycle-1"], ["cycle-2"], ["read-back"]]


def test_the_poll_schedule_keeps_its_slots_while_recording_is_slower_than_the_period(plc):
    # Recording takes 150 ms a batch against a 100 ms period: recorded in the loop, half the slots are skipped;
    # handed to the recorder, none is (the batches wait in order and are all recorded).
    groups = lambda: make_groups({100: [(i, "holding", i, "uint16") for i in range(20)]})  # noqa: E731
    inline = ConnectionPoller(make_spec(plc.plc.port), groups(), sink=SlowSink(0.15), last_values=None)
    inline.run(until=time.monotonic() + 1.0)
    sink = SlowSink(0.15)
    recorder = BackgroundRecorder(sink, max_pending=50)
    handed = ConnectionPoller(make_spec(plc.plc.port), groups(), sink=recorder, last_values=None)
    handed.run(until=time.monotonic() + 1.0)
    assert inline.overruns >= 3
    assert handed.overruns <= 1 and handed.cycles >= 9  # one slot of slack for a machine loaded above its cores
    assert recorder.drain(10) and len(sink.batches) == handed.cycles
