"""Sparkplug metric bindings and MQTT JSON topic bindings travel in config bundles (sections metrics, topics)."""

import pytest

from deploy.bundle import bundle_export
from deploy.services import config_import
from drivers.models import Connection, MetricBinding, TopicBinding
from scada.errors import Unprocessable

pytestmark = pytest.mark.django_db


@pytest.fixture
def mqtt_plant(make_tag):
    sp = Connection.objects.create(name="sp-plant", protocol="sparkplug", host="broker", port=1883,
                                   group_id="plant", host_id="kiln", password_env="MQTT_PASSWORD", username="kiln")
    mq = Connection.objects.create(name="mq-plant", protocol="mqtt_json", host="broker", port=1883)
    MetricBinding.objects.create(tag=make_tag("SP_Level"), connection=sp, edge_node="line-1", device="tank 2",
                                 metric="Level/PV", datatype=10)
    TopicBinding.objects.create(tag=make_tag("MQ_Temp"), connection=mq, topic="plant/+/temp", json_path="v")
    return sp, mq


def test_metric_and_topic_bindings_round_trip_through_a_bundle(mqtt_plant, engineer):
    bundle = bundle_export()
    conns = {c["name"]: c for c in bundle["sections"]["connections"]}
    assert (conns["sp-plant"]["group_id"], conns["sp-plant"]["password_env"]) == ("plant", "MQTT_PASSWORD")
    assert "password" not in conns["sp-plant"]  # the secret itself is never in the database, so never exported
    assert bundle["sections"]["metrics"] == [{"tag": "SP_Level", "connection": "sp-plant", "edge_node": "line-1",
                                              "device": "tank 2", "metric": "Level/PV", "datatype": 10}]
    MetricBinding.objects.all().delete()
    TopicBinding.objects.all().delete()
    config_import(bundle=bundle, user=engineer)
    assert MetricBinding.objects.get(tag__name="SP_Level").metric == "Level/PV"
    assert TopicBinding.objects.get(tag__name="MQ_Temp").topic == "plant/+/temp"


def test_a_metric_type_the_tag_cannot_carry_is_refused_and_nothing_changes(mqtt_plant, engineer):
    bundle = bundle_export()
    bundle["sections"]["metrics"][0]["datatype"] = 11  # Boolean, for a REAL tag
    with pytest.raises(Unprocessable) as exc:
        config_import(bundle=bundle, user=engineer)
    assert "cannot carry" in str(exc.value.extra or exc.value.detail)
    assert MetricBinding.objects.get().datatype == 10


def test_a_tag_fed_by_a_topic_cannot_also_be_bound_elsewhere(mqtt_plant, make_connection):
    from django.core.exceptions import ValidationError

    from drivers.models import TagBinding

    tag = TopicBinding.objects.get().tag
    b = TagBinding(tag=tag, connection=make_connection(), table="holding", address=0, data_type="float32")
    with pytest.raises(ValidationError) as exc:
        b.full_clean()
    assert "an MQTT topic" in str(exc.value)
