"""tags.selectors accessors other apps call instead of reading tags' tables or Redis keys."""

import pytest

from scada.redis import get_redis
from tags.selectors import tag_config_version, tag_config_version_pipelined, tag_datatypes
from tags.values import tag_config_changed

pytestmark = pytest.mark.django_db


def test_it_gives_the_datatype_of_each_existing_tag_and_leaves_out_unknown_ids(make_tag):
    real, text = make_tag("Reactor_Temp"), make_tag("Batch_Id", datatype="STRING")
    assert tag_datatypes({real.pk, text.pk, real.pk + text.pk + 1000}) == {real.pk: "REAL", text.pk: "STRING"}


def test_it_answers_an_empty_id_list_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert tag_datatypes([]) == {}


def test_it_looks_up_a_thousand_ids_in_one_query(make_tag, django_assert_num_queries):
    tag = make_tag("Pump_Speed", datatype="INT")
    with django_assert_num_queries(1):
        assert tag_datatypes([tag.pk, *range(tag.pk + 1, tag.pk + 1000)]) == {tag.pk: "INT"}


def test_it_reads_the_config_version_in_a_callers_pipeline_and_sees_it_move():
    before = tag_config_version()
    pipe = get_redis().pipeline(transaction=False)
    tag_config_version_pipelined(pipe)
    assert pipe.execute() == [before]
    tag_config_changed()
    assert tag_config_version() != before
