"""Read planning: adjacent addresses merged, request limits kept, holes bridged only up to the gap."""

from drivers.codec import Codec
from drivers.plan import Point, build_groups, merge_blocks, split_block


def pt(tid, address, table="holding", data_type="uint16", **kw):
    return Point(tag_id=tid, name=f"t{tid}", table=table, address=address, codec=Codec(data_type, **kw))


def test_it_merges_adjacent_registers_into_one_read():
    blocks = merge_blocks([pt(1, 10), pt(2, 11, data_type="float32"), pt(3, 13)])
    assert [(b.table, b.start, b.count) for b in blocks] == [("holding", 10, 4)]
    assert [p.tag_id for p in blocks[0].points] == [1, 2, 3]


def test_it_never_reads_more_than_125_registers_at_once():
    points = [pt(i, i) for i in range(1250)]
    blocks = merge_blocks(points)
    assert len(blocks) == 10
    assert all(b.count == 125 for b in blocks)
    assert sum(len(b.points) for b in blocks) == 1250


def test_it_does_not_split_a_multi_register_value_across_reads():
    points = [pt(i, 2 * i, data_type="float32") for i in range(100)]  # 200 registers
    blocks = merge_blocks(points)
    assert [b.count for b in blocks] == [124, 76]
    for b in blocks:
        assert all(b.start <= p.address and p.end <= b.start + b.count - 1 for p in b.points)


def test_it_reads_at_most_2000_bits_at_once():
    blocks = merge_blocks([pt(i, i, table="coil", data_type="bool") for i in range(4500)])
    assert [b.count for b in blocks] == [2000, 2000, 500]


def test_it_bridges_holes_only_up_to_the_merge_gap():
    points = [pt(1, 0), pt(2, 5), pt(3, 20)]
    assert [(b.start, b.count) for b in merge_blocks(points, max_gap=0)] == [(0, 1), (5, 1), (20, 1)]
    assert [(b.start, b.count) for b in merge_blocks(points, max_gap=4)] == [(0, 6), (20, 1)]
    assert [(b.start, b.count) for b in merge_blocks(points, max_gap=14)] == [(0, 21)]


def test_it_keeps_tables_apart():
    blocks = merge_blocks([pt(1, 0), pt(2, 1, table="input"), pt(3, 0, table="coil", data_type="bool")])
    assert sorted((b.table, b.start) for b in blocks) == [("coil", 0), ("holding", 0), ("input", 1)]


def test_it_splits_a_refused_block_into_one_read_per_tag():
    block = merge_blocks([pt(1, 0), pt(2, 1, data_type="int32"), pt(3, 3)])[0]
    assert [(b.start, b.count) for b in split_block(block)] == [(0, 1), (1, 2), (3, 1)]


def test_it_groups_by_scan_class_fastest_first():
    groups = build_groups({1000: [pt(1, 0)], 100: [pt(2, 10), pt(3, 11)]})
    assert [g.period_ms for g in groups] == [100, 1000]
    assert groups[0].tag_ids == [2, 3] and len(groups[0].blocks) == 1
