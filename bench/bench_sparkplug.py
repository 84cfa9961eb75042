"""Sparkplug B benchmark: metrics/s from the local broker into the values service, Kiln's host vs a naive client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/bench_sparkplug.py                  # 20 nodes × 500 metrics, 20 s per phase
    ... bench/bench_sparkplug.py --nodes 10 --metrics 500 --seconds 10 --rate 60000

It creates its own throw-away database next to DATABASE_URL's (bench_sparkplug_<name>, dropped at the end), uses
the Redis db of REDIS_URL (flushed: use a spare one) and the MQTT broker at --broker (Mosquitto, 127.0.0.1:1883).

What runs:
- the edge nodes: real Sparkplug B edge nodes (drivers.sparkplug.payload, paho-mqtt) in a subprocess: --nodes
  nodes, each with --metrics Double metrics bound to tags; NBIRTH, then NDATA by alias, every metric changed in
  every message, each stamped with its publish time; paced to --rate metrics/s in total;
- Kiln (this process): the production drivers.sparkplug.loop.SparkplugLoop and client (one MQTT session, the
  host logic in paho's thread, a 20 ms drain), stepped as the worker steps it, with the real values service as
  its sink: tags.values.tag_values_record with every consumer in KILN_VALUE_CONSUMERS (live table, WebSocket
  publisher, historian buffer, alarms). Latency = time tag_values_record returned − the metric's publish time;
  completeness = every published (tag, round) recorded as a change;
- the naive client, in the same run, alternating with Kiln phase by phase: a paho subscriber that decodes each
  message with the same codec and calls tag_values_record once per metric (one values-service call per tag
  write), as a one-message-one-write integration does;
- the rebirth storm: 100 edge nodes × --storm-metrics metrics publishing data; Kiln's host starts a new session
  (as after a broker outage) and asks all 100 for a rebirth at once while they keep publishing. Checked: every
  tag GOOD at the end with its node's last published value, and every data message published after the node's
  rebirth recorded (no round missing).

Targets (issue 17): ≥ 50,000 metrics/s, p99 publish → recorded ≤ 100 ms, the storm loses nothing. Exit status 1
when one is missed. Figures are from a shared 2-core machine: compare the two clients of one run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "0")
    import django

    django.setup()


# --- the edge nodes (subprocess) --------------------------------------------------------------------------------------

def edges(broker, group: str, nodes: int, metrics: int, rate: float, go, stop, published, prefix: str = "n") -> None:
    """Births, then NDATA rounds: every metric of every node once per round, rounds paced to `rate` metrics/s."""
    import paho.mqtt.client as mqtt

    from drivers.sparkplug.payload import DataType, Metric, Payload, encode_payload

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-edges-{prefix}-{os.getpid()}")
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect(*broker)
    client.loop_start()
    seq = {n: 0 for n in range(nodes)}
    import threading

    lock = threading.Lock()  # a birth (paho's thread, on NCMD) and a node's data keep their seq order

    def birth(n: int, value: float) -> None:
        with lock:
            _birth(n, value)

    def _birth(n: int, value: float) -> None:
        seq[n] = 0
        ms = [Metric(name="bdSeq", datatype=DataType.INT64, value=0)] + [
            Metric(name=f"m{i}", alias=i + 1, datatype=DataType.DOUBLE, value=value) for i in range(metrics)]
        client.publish(f"spBv1.0/{group}/NBIRTH/{prefix}{n}", encode_payload(
            Payload(timestamp=int(time.time() * 1000), seq=0, metrics=ms)), qos=0)

    def on_message(c, u, msg):  # NCMD rebirth: births again with the node's current round
        n = int(msg.topic.rsplit("/", 1)[1][len(prefix):])
        birth(n, float(published[n]))

    client.on_message = on_message
    client.subscribe(f"spBv1.0/{group}/NCMD/#", qos=1)
    go.wait()
    for n in range(nodes):
        birth(n, 0.0)
    time.sleep(0.5)
    per_round = nodes * metrics
    period = per_round / rate
    rnd = 0
    next_at = time.monotonic()
    while not stop.is_set():
        rnd += 1
        # Protobuf messages concatenate as a merge: the metrics (same aliases, value and time on every node) are
        # encoded once per round and each node's message is its own timestamp and seq in front of them, so the
        # publisher is not the bottleneck of the benchmark.
        # No per-metric time: each metric takes its message's timestamp, the moment that node's message is sent.
        body = encode_payload(Payload(metrics=[Metric(alias=i + 1, datatype=DataType.DOUBLE, value=float(rnd))
                                               for i in range(metrics)]))
        for n in range(nodes):
            with lock:
                seq[n] = (seq[n] + 1) % 256
                published[n] = rnd
                client.publish(f"spBv1.0/{group}/NDATA/{prefix}{n}",
                               encode_payload(Payload(timestamp=int(time.time() * 1000), seq=seq[n])) + body, qos=0)
            # The nodes' messages are spread over the round, as independent edge nodes publish, not in one burst.
            next_at += period / nodes
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                next_at = time.monotonic()  # far behind: publish as fast as we can, never in a burst to catch up
    client.loop_stop()
    client.disconnect()


# --- the two clients --------------------------------------------------------------------------------------------------

class Recorder:
    """The values service as the sink, with latency and completeness measured around it."""

    def __init__(self, track: bool = False):
        from tags.values import tag_values_record

        self.track = track  # keep every value recorded per tag (the storm's completeness check)
        self.record = tag_values_record
        self.latencies: list[float] = []
        self.samples = 0
        self.changes = 0
        self.seen: dict[int, set] = {}

    def __call__(self, samples) -> None:
        changes = self.record(samples=samples)
        now = time.time()
        self.samples += len(samples)
        self.changes += len(changes)
        lat = self.latencies
        for s in samples:
            lat.append(now - s.ts)
        if self.track:
            seen = self.seen
            for s in samples:
                if s.quality == "GOOD":
                    seen.setdefault(s.tag_id, set()).add(s.value)

    def reset(self):
        self.latencies, self.samples, self.changes = [], 0, 0


def run_kiln(spec, points, seconds: float, recorder: Recorder) -> dict:
    from drivers.sparkplug.loop import SparkplugLoop

    loop = SparkplugLoop(spec, points, sink=recorder, discover=None)
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end and (loop.client is None or not loop.client.connected.is_set()):
        loop.step()
        time.sleep(0.02)
    time.sleep(1.5)  # births in, first rounds under way
    loop.step()
    recorder.reset()
    c0, t0 = time.process_time(), time.monotonic()
    until = t0 + seconds
    while time.monotonic() < until:
        loop.step()
        time.sleep(0.02)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    loop.client.close()
    return {"per_s": recorder.samples / wall, "changes": recorder.changes, "samples": recorder.samples,
            "cpu": cpu / wall, **_pcts(recorder.latencies), "errors": loop.errors, "last_error": loop.last_error}


def run_naive(broker, group: str, by_key: dict, seconds: float) -> dict:
    """One values-service call per metric of each message (the host rules skipped: that is only cheaper)."""
    import paho.mqtt.client as mqtt

    from drivers.sparkplug.payload import decode_payload
    from tags.values import Sample, tag_values_record

    lat, count = [], [0]
    aliases: dict[tuple[str, int], str] = {}

    def on_message(c, u, msg):
        parts = msg.topic.split("/")
        node = parts[3]
        p = decode_payload(msg.payload)
        for m in p.metrics:
            if parts[2] == "NBIRTH" and m.alias is not None:
                aliases[(node, m.alias)] = m.name
            name = m.name or aliases.get((node, m.alias))
            tid = by_key.get((node, name))
            if tid is None:
                continue
            tag_values_record(samples=[Sample(tid, m.value, "GOOD", None, (m.timestamp or p.timestamp) / 1000)])
            lat.append(time.time() - (m.timestamp or p.timestamp) / 1000)
            count[0] += 1

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-naive-{os.getpid()}")
    client.on_message = on_message
    client.connect(*broker)
    client.subscribe(f"spBv1.0/{group}/#", qos=0)
    client.loop_start()
    # It needs the births for the aliases, as any host does: one rebirth request per node (Kiln's own encoder).
    from drivers.sparkplug.payload import DataType, Metric, Payload, encode_payload

    ask = encode_payload(Payload(metrics=[Metric(name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=True)]))
    for node in sorted({n for n, _ in by_key}):
        client.publish(f"spBv1.0/{group}/NCMD/{node}", ask, qos=1)
    time.sleep(2.0)
    lat.clear()
    count[0] = 0
    c0, t0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    n = count[0]
    client.loop_stop()
    client.disconnect()
    return {"per_s": n / wall, "samples": n, "cpu": cpu / wall, **_pcts(lat[:n])}


def _pcts(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p99_ms": None}
    v = sorted(values)
    return {"p50_ms": round(v[len(v) // 2] * 1000, 1), "p99_ms": round(v[min(len(v) - 1, int(len(v) * 0.99))] * 1000,
                                                                   1)}


# --- set-up ----------------------------------------------------------------------------------------------------------

def make_plant(group: str, nodes: int, metrics: int, prefix: str):
    from drivers.models import Connection, MetricBinding
    from drivers.sparkplug.loop import MetricPoint, SparkplugSpec
    from tags.models import Machine, Site, Tag

    site, _ = Site.objects.get_or_create(site_id="bench", defaults={"name": "Bench"})
    machine, _ = Machine.objects.get_or_create(machine_id=f"sp-{prefix}", defaults={"site": site})
    conn = Connection.objects.create(name=f"sp-{prefix}", protocol="sparkplug", host="127.0.0.1", port=1883,
                                     group_id=group, host_id=f"bench-{prefix}", timeout=1.0)
    tags = Tag.objects.bulk_create([Tag(machine=machine, name=f"{prefix}{n}.m{i}", datatype="REAL")
                                    for n in range(nodes) for i in range(metrics)], batch_size=5000)
    MetricBinding.objects.bulk_create([MetricBinding(tag=t, connection=conn, edge_node=t.name.split(".")[0],
                                                     metric=t.name.split(".")[1], datatype=10) for t in tags],
                                      batch_size=5000)
    spec = SparkplugSpec(id=conn.pk, name=conn.name, host="127.0.0.1", port=1883, tls=False, username="",
                         password=None, group_id=group, host_id=f"bench-{prefix}-{secrets.token_hex(3)}",
                         timeout=1.0, backoff_cap=5.0)
    points = [MetricPoint(tag_id=t.pk, name=t.name, node=t.name.split(".")[0], device="",
                          metric=t.name.split(".")[1], datatype=10) for t in tags]
    return spec, points, {(t.name.split(".")[0], t.name.split(".")[1]): t.pk for t in tags}


def start_edges(broker, group, nodes, metrics, rate, prefix):
    ctx = mp.get_context("spawn")
    go, stop = ctx.Event(), ctx.Event()
    published = ctx.Array("l", nodes, lock=False)
    proc = ctx.Process(target=edges, args=(broker, group, nodes, metrics, rate, go, stop, published, prefix),
                       daemon=True)
    proc.start()
    return proc, go, stop, published


def storm(broker, nodes: int, metrics: int, rate: float) -> dict:
    """100 nodes publishing; Kiln's host restarts its session and all 100 rebirth at once; nothing may be lost."""
    from drivers.sparkplug.loop import SparkplugLoop
    from tags.live import live_get_many

    group = f"bench-storm-{secrets.token_hex(3)}"
    spec, points, _ = make_plant(group, nodes, metrics, "s")
    proc, go, stop, published = start_edges(broker, group, nodes, metrics, rate, "s")
    time.sleep(1.0)
    rec = Recorder()
    loop = SparkplugLoop(spec, points, sink=rec, discover=None)
    go.set()
    t_end = time.monotonic() + 4.0
    while time.monotonic() < t_end:
        loop.step()
        time.sleep(0.02)
    print(f"  (storm set-up: {sum(1 for n in loop.client.host_app.nodes.values() if n.online)} nodes online, "
          f"{loop.messages} messages, errors {loop.errors} {loop.last_error})")
    # The storm: a new host session (as after a broker outage) → every node known is asked for a rebirth at once.
    loop.client.close(say_offline=False)
    rec2 = Recorder(track=True)
    loop2 = SparkplugLoop(spec, points, sink=rec2, discover=None)
    t0 = time.monotonic()
    asked_at = None
    while time.monotonic() < t0 + 6.0:
        loop2.step()
        if asked_at is None and loop2.client is not None and loop2.client.connected.is_set():
            asked_at = time.monotonic()
            for n in range(nodes):
                loop2.client.request_rebirth(group, f"s{n}", limit=False)
        time.sleep(0.02)
    stop.set()
    proc.join(10)
    last = [published[n] for n in range(nodes)]
    node_of = {p.tag_id: int(p.node[1:]) for p in points}

    def wrong() -> list[int]:
        live = live_get_many([p.tag_id for p in points])
        return [tid for tid, lv in live.items() if lv is None or lv.quality != "GOOD" or lv.value != float(
            last[node_of[tid]])]

    t_drain = time.monotonic() + 15.0  # what is still queued is recorded (a loaded machine takes a while)
    while time.monotonic() < t_drain and wrong():
        for _ in range(25):
            loop2.step()
            time.sleep(0.02)
    not_final = wrong()
    # No data lost after the rebirth: each tag's values recorded by the new session (the round numbers, from the
    # birth's current value on) run without a gap up to its node's last published round.
    gaps = 0
    for p in points:
        rounds = sorted(int(v) for v in rec2.seen.get(p.tag_id, ()))
        if rounds:
            gaps += (last[node_of[p.tag_id]] - rounds[0] + 1) - len(rounds)
    born = sum(1 for n in loop2.client.host_app.nodes.values() if n.online)
    loop2.client.close()
    return {"nodes": nodes, "metrics": nodes * metrics, "rebirths_requested": loop2.client.rebirths_requested,
            "births_seen": born,
            "tags_not_final_or_bad": len(not_final), "rounds_missing": gaps, "errors": loop2.errors,
            "last_error": loop2.last_error}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--metrics", type=int, default=500, help="metrics per node")
    ap.add_argument("--rate", type=float, default=60000, help="metrics/s the edge nodes publish in total")
    ap.add_argument("--latency-rate", type=float, default=10000, help="metrics/s of the latency phase")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--storm-nodes", type=int, default=100)
    ap.add_argument("--storm-metrics", type=int, default=50)
    ap.add_argument("--broker", default="127.0.0.1:1883")
    args = ap.parse_args()
    host, port = args.broker.rsplit(":", 1)
    broker = (host, int(port))
    setup_django()
    from django.conf import settings
    from django.db import connection

    from scada.redis import get_redis

    original = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_sparkplug_{original}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    get_redis().flushdb()
    try:
        group = f"bench-{secrets.token_hex(3)}"
        spec, points, by_key = make_plant(group, args.nodes, args.metrics, "n")
        results = {"kiln": [], "naive": [], "paced": []}
        # Throughput: the edge nodes publish --rate; both clients take what they can, alternating phase by phase so
        # load from elsewhere on the machine falls on both alike.
        proc, go, stop, _ = start_edges(broker, group, args.nodes, args.metrics, args.rate, "n")
        time.sleep(1.0)
        go.set()
        print(f"{args.nodes} nodes × {args.metrics} metrics, edge nodes publishing {args.rate:,.0f} metrics/s; "
              f"load {os.getloadavg()[0]:.1f}")
        for _ in range(2):
            results["kiln"].append(run_kiln(spec, points, args.seconds, Recorder()))
            results["naive"].append(run_naive(broker, group, by_key, args.seconds))
        stop.set()
        proc.join(10)
        # Latency: the edge nodes publish --latency-rate, below what Kiln takes on this machine, so the figure is
        # publish → recorded and not the time spent queued behind a backlog.
        proc, go, stop, _ = start_edges(broker, group, args.nodes, args.metrics, args.latency_rate, "n")
        time.sleep(1.0)
        go.set()
        results["paced"].append(run_kiln(spec, points, args.seconds, Recorder()))
        stop.set()
        proc.join(10)
        for name, runs in results.items():
            for r in runs:
                us = r["cpu"] * 1e6 / max(r["per_s"], 1)
                print(f"  {name:5}: {r['per_s']:>9,.0f} metrics/s recorded, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} "
                      f"ms, CPU {r['cpu'] * 100:.0f} % of a core = {us:.1f} µs CPU per metric (≈ "
                      f"{1e6 / max(us, 0.01):,.0f}/s per core)" + (
                          f", changes {r['changes']:,}/{r['samples']:,}, errors {r['errors']}" if name != "naive"
                          else ""))
        best = max(results["kiln"], key=lambda r: r["per_s"])
        naive = max(results["naive"], key=lambda r: r["per_s"])
        paced = results["paced"][0]
        print(f"  Kiln / naive: {best['per_s'] / max(naive['per_s'], 1):.1f}× the metrics/s; load average now "
              f"{os.getloadavg()[0]:.1f}")
        # The storm's nodes publish two rounds a second: the point is the 100 births at once, not the data rate.
        s = storm(broker, args.storm_nodes, args.storm_metrics, args.storm_nodes * args.storm_metrics * 2.0)
        print(f"  rebirth storm: {s['nodes']} nodes / {s['metrics']:,} metrics, {s['rebirths_requested']} rebirths "
              f"asked, {s['births_seen']} nodes born again, tags not GOOD with their last value: "
              f"{s['tags_not_final_or_bad']}, data rounds missing after the rebirth: {s['rounds_missing']}, errors "
              f"{s['errors']} ({s['last_error'] or '-'})")
        ok = best["per_s"] >= 50000 and (paced["p99_ms"] or 1e9) <= 100 and s["tags_not_final_or_bad"] == 0 \
            and s["rounds_missing"] == 0
        print("targets (≥ 50,000 metrics/s, p99 ≤ 100 ms, storm loses nothing):", "met" if ok else "MISSED")
        return 0 if ok else 1
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
