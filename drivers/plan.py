"""A connection's poll plan: its tags grouped by scan class, and adjacent addresses merged into few reads.

Plain data (no Django models), so the poller, the tests and the benchmark build plans the same way. The plan
is built once when a poll loop starts and again when the drivers configuration changes, never per cycle.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from drivers.choices import BIT_TABLES, MAX_READ_BITS, MAX_READ_REGISTERS
from drivers.codec import Codec

__all__ = ["ConnectionSpec", "Point", "Block", "ScanGroup", "merge_blocks", "build_groups", "split_block"]


@dataclass(slots=True, frozen=True)
class ConnectionSpec:
    """What the poller needs to know about a connection (a snapshot of the Connection row)."""

    id: int
    name: str
    host: str
    port: int
    unit_id: int = 1
    timeout: float = 1.0
    retries: int = 0
    backoff_cap: float = 30.0
    merge_gap: int = 8


@dataclass(slots=True)
class Point:
    """One tag's place in the PLC and how to decode it."""

    tag_id: int
    name: str
    table: str
    address: int
    codec: Codec

    @property
    def count(self) -> int:
        return self.codec.count

    @property
    def end(self) -> int:
        return self.address + self.codec.count - 1


@dataclass(slots=True)
class Block:
    """One read request: `count` registers (or bits) of `table` from `start`, feeding `points`."""

    table: str
    start: int
    count: int
    points: list[Point]
    _layout: list | None = None

    @property
    def is_bits(self) -> bool:
        return self.table in BIT_TABLES

    def decode(self, data: list) -> list[tuple[int, object]]:
        """(tag id, value) for every point, from this block's registers or bits. The per-cycle hot path."""
        layout = self._layout
        if layout is None:
            # Precomputed once: offset, width and decoder per point; a plain uint16 or bit needs no decoder.
            layout = self._layout = [
                (p.tag_id, p.address - self.start, p.codec.count,
                 None if p.codec.is_plain_word else p.codec.decode) for p in self.points]
        out = []
        append = out.append
        for tag_id, off, n, decode in layout:
            append((tag_id, data[off] if decode is None else decode(data[off:off + n])))
        return out


@dataclass(slots=True)
class ScanGroup:
    """The tags of one connection and one scan period, polled together in one cycle."""

    period_ms: int
    blocks: list[Block]
    tag_ids: list[int] = field(default_factory=list)
    next_due: float = 0.0  # monotonic seconds of the next scheduled cycle start

    @property
    def period(self) -> float:
        return self.period_ms / 1000.0


def merge_blocks(points: list[Point], *, max_gap: int = 0, max_registers: int = MAX_READ_REGISTERS,
                 max_bits: int = MAX_READ_BITS) -> list[Block]:
    """Merge points into as few reads as the protocol allows.

    Per table, points sorted by address join the current block while the block stays within the request limit
    (125 registers / 2000 bits) and the hole before the point is at most `max_gap` addresses.
    """
    by_table: dict[str, list[Point]] = defaultdict(list)
    for p in points:
        by_table[p.table].append(p)
    blocks: list[Block] = []
    for table in sorted(by_table):
        limit = max_bits if table in BIT_TABLES else max_registers
        current: Block | None = None
        for p in sorted(by_table[table], key=lambda q: (q.address, q.end)):
            if current is not None:
                block_end = current.start + current.count - 1
                new_end = max(block_end, p.end)
                if p.address - block_end - 1 <= max_gap and new_end - current.start + 1 <= limit:
                    current.count = new_end - current.start + 1
                    current.points.append(p)
                    continue
                blocks.append(current)
            current = Block(table=table, start=p.address, count=p.count, points=[p])
        if current is not None:
            blocks.append(current)
    return blocks


def split_block(block: Block) -> list[Block]:
    """One read per point: used when the PLC refuses a merged read, to find the tags it really refuses."""
    return [Block(table=block.table, start=p.address, count=p.count, points=[p]) for p in block.points]


def build_groups(points_by_period: dict[int, list[Point]], *, max_gap: int = 0) -> list[ScanGroup]:
    """Scan groups, fastest first (when two fall due together, the fast one goes first)."""
    groups = []
    for period_ms in sorted(points_by_period):
        points = points_by_period[period_ms]
        groups.append(ScanGroup(period_ms=period_ms, blocks=merge_blocks(points, max_gap=max_gap),
                                tag_ids=[p.tag_id for p in points]))
    return groups
