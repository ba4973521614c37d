"""launch-template-instance-tags: the instance tags of a launch template made by CloudFormation reach
the instances an Auto Scaling group launches from it.

AWS: a launch template's `TagSpecifications` (ResourceType `instance`) tag the instances launched
from it, those of an Auto Scaling group included; where the group propagates a tag with the same key,
the group's value wins ("If the launch template specifies an instance tag with a key that is also
specified for the Auto Scaling group, Amazon EC2 Auto Scaling overrides the value of that instance
tag with the value specified by the Auto Scaling group": CreateAutoScalingGroup, Tags, in the EC2
Auto Scaling API reference; "Tag Auto Scaling groups and instances" in its user guide).

moto 5.1.1 reads a version's instance tags only from the EC2 query API's `TagSpecification`; a
template made by CloudFormation has `TagSpecifications` (with `Tags`), so its instances got none of
them. And its groups let the launch template's value win over their own. The fix reads both forms and
gives the group's propagated tags precedence, as AWS does. pandacluster relies on it for a
controller's `pandacluster:etcd-version` tag (upgrade --etcd-version replaces the controllers whose
tag is not the stack's EtcdVersion).
"""

from __future__ import annotations

from typing import Any, Dict


def apply() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.ec2.models.launch_templates import LaunchTemplateVersion
    from moto.ec2.utils import convert_tag_spec

    original_init = LaunchTemplateVersion.__init__

    def __init__(self: Any, template: Any, number: int, data: Dict[str, Any], description: str) -> None:
        original_init(self, template, number, data, description)
        specs = data.get("TagSpecifications") if isinstance(data, dict) else None
        if not self.instance_tags and isinstance(specs, list):
            self.instance_tags = convert_tag_spec(specs, tag_key="Tags").get("instance", {})

    LaunchTemplateVersion.__init__ = __init__

    if not isinstance(FakeAutoScalingGroup.__dict__.get("instance_tags"), property):
        raise RuntimeError("FakeAutoScalingGroup.instance_tags moved")
    template_tags = FakeAutoScalingGroup.__dict__["instance_tags"].fget

    def instance_tags(self: Any) -> Dict[str, str]:
        # moto merges these over the group's propagated tags: leave out the keys the group sets.
        own = self.get_propagated_tags()
        return {k: v for k, v in (template_tags(self) or {}).items() if k not in own}

    FakeAutoScalingGroup.instance_tags = property(instance_tags)
