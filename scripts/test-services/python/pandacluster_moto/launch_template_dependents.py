"""launch-template-dependents: an UpdateStack that gives a launch template a new version updates the
Auto Scaling groups that name it by `Fn::GetAtt [LT, LatestVersionNumber]`.

AWS: CloudFormation updates a resource when any of its resolved property values changes, including
one that comes from another resource's attribute (the group's LaunchTemplate.Version follows the
template's LatestVersionNumber: "AWS::AutoScaling::AutoScalingGroup LaunchTemplateSpecification",
CloudFormation user guide, and the update behaviour of AWS::EC2::LaunchTemplate, which creates a new
version on every LaunchTemplateData change).

moto 5.1.1 compares only the resources' template text (and the parameters they Ref): a group whose
text is unchanged keeps launching from the old version, so an image change never reaches new
instances. The fix marks such groups modified too (and asg-update-in-place then updates them in
place, as AWS does). Only version attributes of launch templates that the update modifies count:
other attributes keep moto's text comparison.
"""

from __future__ import annotations

from typing import Any, Dict, Set

VERSION_ATTRIBUTES = {"LatestVersionNumber", "DefaultVersionNumber"}


def _version_refs(value: Any, found: Set[str]) -> Set[str]:
    if isinstance(value, dict):
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and len(get_att) == 2 and get_att[1] in VERSION_ATTRIBUTES:
            found.add(str(get_att[0]))
        for item in value.values():
            _version_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _version_refs(item, found)
    return found


def apply() -> None:
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other_template: Dict[str, Any], parameters: Any = None) -> Dict[str, Any]:
        actions = original(self, other_template, parameters)
        new = other_template.get("Resources", {})
        modified = {
            name for name in actions["Modify"]
            if new.get(name, {}).get("Type") == "AWS::EC2::LaunchTemplate"
        }
        if modified:
            for name, resource in new.items():
                if name in actions["Modify"] or name not in self._resource_json_map:
                    continue
                if _version_refs(resource.get("Properties", {}), set()) & modified:
                    actions["Modify"].append(name)
        return actions

    ResourceMap.build_resource_diff = build_resource_diff
