"""Fixes that bring moto 5.1.x (Debian trixie's python3-moto) closer to AWS for what pandacluster
does (its CloudFormation template, the AWS SDK for JavaScript v3, Route 53).

Run the server with them:  python3 -m pandacluster_moto -H 127.0.0.1 -p PORT
(the arguments are moto.server's). test/helpers/services.ts startMoto() does so unless given
{ fixes: false }; `python3 -m moto.server` runs moto unchanged.

Each fix is small, applied only when the moto class looks as expected, and listed in
FIXES / printed at start-up. What they change (all verified against moto 5.1.1):

  delete-network-resources  DeleteStack of a stack with an InternetGateway +
      VPCGatewayAttachment, RouteTable, Route or SubnetRouteTableAssociation fails in plain moto
      with "DependencyViolation: The vpc vpc-... has dependencies and cannot be deleted."
      because those resource types have no CloudFormation delete. Adds the deletes.
  stack-lifecycle           Plain moto: a failing resource makes CreateStack itself return the
      resource's error and leaves the stack CREATE_PENDING, after which DescribeStacks (by name
      or without a name) re-runs the failed creation and returns that error again; describing a
      DELETE_COMPLETE stack that has Outputs re-creates all its resources (VPC, group, running
      instances); a failed DeleteStack drops the stack (DescribeStacks by StackId: "does not
      exist"); stack events are only the stack's own two; ClientRequestToken is ignored.
      With the fix: CreateStack answers with the StackId and the stack goes CREATE_FAILED ->
      ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE (OnFailure=ROLLBACK, the default),
      CREATE_FAILED (DO_NOTHING or DisableRollback) or DELETE_COMPLETE (DELETE), with
      StackStatusReason "The following resource(s) failed to create: [X]. ..."; a failed
      DeleteStack leaves DELETE_FAILED with the reason; finished stacks never re-create
      anything; there are per-resource events (CREATE_IN_PROGRESS/CREATE_COMPLETE/
      CREATE_FAILED/DELETE_IN_PROGRESS/DELETE_COMPLETE) carrying the request's
      ClientRequestToken; a CreateStack retried with the same name and ClientRequestToken answers
      with the same StackId; DeletionTime is rendered; template errors (bad JSON/YAML, Ref to an
      unknown resource, missing mapping key) are a 400 ValidationError "Template format error:
      ..." instead of an HTTP 500, and leave no stack behind. A resource whose Condition is
      false is not listed by DescribeStackResources/ListStackResources (plain moto lists it as an
      entry with no logical id or type).
  get-azs                   Fn::GetAZs answers us-east-1a..d whatever the stack's region, and takes
      {"Ref": "AWS::Region"} as a literal region name. Answers the region's zones instead.
  validate-template         ValidateTemplate needs cfn-lint (not packaged for Debian): plain moto
      answers HTTP 500. With the fix it parses the template (JSON/YAML, Resources present).
  subnet-association        AWS::EC2::SubnetRouteTableAssociation records the association but
      DescribeRouteTables shows none. Makes it a real association.
  subnet-map-public-ip      AWS::EC2::Subnet ignores MapPublicIpOnLaunch, and its
      Fn::GetAtt AvailabilityZone is not implemented. Honours both.
  route53-create-zone       CreateHostedZone with a HostedZoneConfig but no Comment fails with HTTP
      500 (KeyError 'Comment'); a VPC without HostedZoneConfig gives a public zone and drops the
      VPC. Accepts the first; makes the second a private zone with that VPC, as AWS does.
  route53-weight-zero       ListResourceRecordSets leaves out <Weight> of a weighted record whose
      weight is 0 (moto renders it only when truthy), so a client reads CloudFormation's weighted
      placeholder (Weight: 0) as unweighted. Route 53 always returns the Weight of a record that
      has a SetIdentifier and a weight: renders it then, 0 included.
  asg-created-time          DescribeAutoScalingGroups' CreatedTime is the server's start time in local
      time without a zone ("2026-11-26T05:00:57.115004"), which the AWS SDK for JavaScript v3
      rejects ("Invalid RFC3339 timestamp format"): the whole call fails. Gives the real creation
      time in UTC with a Z.
  previous-default-values   UpdateStack with UsePreviousValue for a parameter the stack got from its
      Default (not given at CreateStack) fails "Missing parameter X", though DescribeStacks lists
      it. AWS takes the default as the previous value: so does the fix.
  launch-template-booleans  DescribeLaunchTemplateVersions writes booleans as Python does ("True"),
      which botocore (the AWS CLI) reads as false: an encrypted volume showed Encrypted false.
      Writes "true"/"false" as EC2 does.
  asg-launch-template       Instances that an Auto Scaling group launches from a launch template
      get only ImageId/InstanceType/UserData from it; they all land in the first subnet and never
      get a public IP, the key pair or the template's security groups. Makes them honour
      KeyName, SecurityGroupIds, NetworkInterfaces[0].AssociatePublicIpAddress/Groups and
      IamInstanceProfile, and spreads them over the group's subnets (round robin) like AWS spreads
      them over AZs.
  cfn-private-zone          AWS::Route53::HostedZone with VPCs is made public, without the VPC and
      its HostedZoneConfig Comment, and DeleteStack leaves it behind. Makes it private in those VPCs,
      with the comment, and deletes it with its stack (refused, as by AWS, while it holds records
      other than its SOA and NS).
  cfn-volume                AWS::EC2::Volume ignores VolumeType, Encrypted, Iops and Throughput (every
      volume is an unencrypted gp2) and its Tags. Honours them.
  signal-resource           moto has no SignalResource (HTTP 500 "not yet implemented"). Adds it with
      AWS's checks: an unknown stack or logical id is a ValidationError, and so is a signal to a
      resource that is not waiting for one ("Resource X is in CREATE_COMPLETE state and cannot be
      signaled"). Without the pace setting every resource is complete when CreateStack returns, so
      every signal gets that answer (as AWS answers a controller replaced after creation). With
      PANDACLUSTER_MOTO_PACE_MS and PANDACLUSTER_MOTO_SIGNALS=1, a resource with a CreationPolicy
      ResourceSignal stays CREATE_IN_PROGRESS (and its stack with it) until Count SUCCESS signals
      come, and fails on a FAILURE signal or when its Timeout passes (see pace.py).

  sts-assume-role-trust     Plain moto's AssumeRole hands out credentials for any RoleArn, even a role
      that does not exist, whatever the ExternalId: AWS checks the role's trust policy. With the
      fix the role must exist in IAM and an Allow statement of its AssumeRolePolicyDocument must
      name sts:AssumeRole, the caller (Principal "*", the account id, arn:...:root or the caller's
      ARN) and hold every Condition it has (StringEquals / StringLike on sts:ExternalId; any other
      condition key counts as not met, never kinder than AWS), with no matching Deny; otherwise
      403 AccessDenied "User: <caller arn> is not authorized to perform: sts:AssumeRole on
      resource: <role arn>" (AWS's wording, the same for a missing role). DurationSeconds above
      the role's MaxSessionDuration is AWS's ValidationError. (The caller's own identity policy
      is not evaluated: moto enforces no IAM policy by default.)

  update-stack              UpdateStack ignores ClientRequestToken, shows no resource events and
      no cleanup phase, and is accepted while an operation is in progress. With the fix: events
      carry the token, a retry with the same token answers the same StackId without updating
      twice, changed resources get UPDATE_IN_PROGRESS/UPDATE_COMPLETE (UPDATE_FAILED) events, the
      stack goes UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE, and a
      stack *_IN_PROGRESS is refused ("Stack:arn... is in X state and can not be updated.").
  asg-update-in-place       An UpdateStack that changes a group's MinSize/MaxSize/DesiredCapacity
      deletes and re-creates the group in plain moto (new name, every instance replaced). AWS
      updates it in place: the fix keeps the group and its instances and only launches or
      terminates what the new size needs.
  launch-template-dependents  An UpdateStack that makes a launch template's new version leaves the
      groups naming it by Fn::GetAtt LatestVersionNumber on the old version (moto compares template
      text only). Updates them, as AWS does; see launch_template_dependents.py.
  launch-template-instance-tags  A launch template made by CloudFormation (TagSpecifications) gives
      its instance tags to no instance a group launches from it, and a group's tag of the same key
      loses to the template's. Applies them, the group's value winning, as AWS does; see
      launch_template_instance_tags.py.
  image-deprecation         DescribeImages never shows DeprecationTime nor hides deprecated images
      from listings. Shows the times given in PANDACLUSTER_MOTO_IMAGE_DEPRECATIONS (the image
      publisher's state) and applies AWS's listing rule; see image_deprecation.py.
  pace (off by default)     PANDACLUSTER_MOTO_PACE_MS=N: each stack operation stays *_IN_PROGRESS
      for N ms with its events spread over that time in dependency order, and new instances are
      `pending` (group lifecycle `Pending`) for PANDACLUSTER_MOTO_BOOT_MS (default N) before
      `running`/`InService`. See pace.py.

Still not like AWS (see scripts/test-services/README.md): without the pace setting
CreateStack/UpdateStack/DeleteStack complete before the call returns (no IN_PROGRESS phase to
poll); with it the work is still done at once and only what is shown follows the clock, parameters (AllowedValues, Min/MaxValue, KeyPair types) are not validated,
stack names and template size are not checked, MetadataOptions are not shown on instances,
instances get no aws:cloudformation:* tags.
"""

from __future__ import annotations

import datetime
import os
import json
import re
import sys
import threading
from typing import Any, Callable, Dict, List

FIXES: List[str] = []
SKIPPED: List[str] = []


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


def _fix(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
                FIXES.append(name)
            except Exception as exc:  # moto changed shape: run unfixed rather than not at all
                SKIPPED.append(f"{name}: {exc!r}")

        _ALL.append(run)
        return run

    return register


_ALL: List[Callable[[], None]] = []


@_fix("delete-network-resources")
def _delete_network_resources() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.subnets import SubnetRouteTableAssociation
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    for cls in (InternetGateway, Route, RouteTable, SubnetRouteTableAssociation, VPCGatewayAttachment):
        if "delete" in cls.__dict__:
            raise RuntimeError(f"{cls.__name__} already has delete(); fix not needed?")

    def igw_delete(self: Any, account_id: str, region_name: str) -> None:
        ec2_backends[account_id][region_name].delete_internet_gateway(self.id)

    def attachment_delete(self: Any, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        gateway_id = self.gateway_id or ""
        if gateway_id.startswith("igw-"):
            igw = backend.get_internet_gateway(gateway_id)
            if igw.vpc is not None and igw.vpc.id == self.vpc_id:
                backend.detach_internet_gateway(gateway_id, self.vpc_id)
        elif gateway_id.startswith("vgw-"):
            backend.detach_vpn_gateway(gateway_id, self.vpc_id)

    def route_table_delete(self: Any, account_id: str, region_name: str) -> None:
        ec2_backends[account_id][region_name].delete_route_table(self.id)

    def route_delete(self: Any, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        if self.route_table.id not in backend.route_tables:
            return
        backend.delete_route(
            self.route_table.id,
            self.destination_cidr_block,
            destination_ipv6_cidr_block=self.destination_ipv6_cidr_block,
        )

    def association_delete(self: Any, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        table = backend.route_tables.get(self.route_table_id)
        if table is not None:
            for association_id, subnet_id in list(table.associations.items()):
                if subnet_id == self.subnet_id:
                    backend.disassociate_route_table(association_id)
        backend.subnet_associations.pop(f"{self.route_table_id}:{self.subnet_id}", None)

    InternetGateway.delete = igw_delete
    VPCGatewayAttachment.delete = attachment_delete
    RouteTable.delete = route_table_delete
    Route.delete = route_delete
    SubnetRouteTableAssociation.delete = association_delete


@_fix("subnet-association")
def _subnet_association() -> None:
    from moto.ec2.models.subnets import SubnetBackend

    original = SubnetBackend.create_subnet_association

    def create_subnet_association(self: Any, route_table_id: str, subnet_id: str) -> Any:
        association = original(self, route_table_id, subnet_id)
        self.associate_route_table(route_table_id, subnet_id=subnet_id)
        return association

    SubnetBackend.create_subnet_association = create_subnet_association


@_fix("subnet-map-public-ip")
def _subnet_map_public_ip() -> None:
    from moto.ec2.models.subnets import Subnet

    original = Subnet.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        subnet = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        value = cloudformation_json.get("Properties", {}).get("MapPublicIpOnLaunch")
        if value is not None:
            subnet.map_public_ip_on_launch = "true" if _truthy(value) else "false"
        return subnet

    Subnet.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    # Fn::GetAtt [Subnet, AvailabilityZone] is declared but raises NotImplementedError in moto.
    original_attr = Subnet.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "AvailabilityZone":
            return self.availability_zone
        return original_attr(self, attribute_name)

    Subnet.get_cfn_attribute = get_cfn_attribute


_REQUEST = threading.local()


def _request_value(name: str) -> Any:
    return getattr(_REQUEST, name, None)


def _error_message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)


@_fix("stack-lifecycle")
def _stack_lifecycle() -> None:
    import moto.cloudformation.parsing as parsing
    import moto.cloudformation.responses as responses
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
    from moto.cloudformation.models import CloudFormationBackend, FakeEvent, FakeStack
    from moto.cloudformation.parsing import ResourceMap
    from moto.core.exceptions import RESTError

    # -- ClientRequestToken: remembered per request, put on the events it causes, rendered.
    original_event_init = FakeEvent.__init__

    def event_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_event_init(self, *args, **kwargs)
        self.client_request_token = _request_value("token")

    FakeEvent.__init__ = event_init
    marker = "<ResourceType>{{ event.resource_type }}</ResourceType>"
    if marker not in responses.DESCRIBE_STACK_EVENTS_RESPONSE:
        raise RuntimeError("DESCRIBE_STACK_EVENTS_RESPONSE changed")
    responses.DESCRIBE_STACK_EVENTS_RESPONSE = responses.DESCRIBE_STACK_EVENTS_RESPONSE.replace(
        marker,
        marker + "\n        {% if event.client_request_token %}<ClientRequestToken>{{ event.client_request_token }}"
        "</ClientRequestToken>{% endif %}",
    )

    # StackStatusReason and DeletionTime (plain moto renders neither).
    status_marker = "<StackStatus>{{ stack.status }}</StackStatus>"
    extra = ("{% if stack._pc_status_reason %}<StackStatusReason>{{ stack._pc_status_reason }}</StackStatusReason>{% endif %}"
             "{% if stack._pc_deletion_time %}<DeletionTime>{{ stack._pc_deletion_time }}</DeletionTime>{% endif %}")
    for template_name in ("DESCRIBE_STACKS_TEMPLATE", "LIST_STACKS_RESPONSE"):
        text = getattr(responses, template_name)
        if text.count(status_marker) != 1:
            raise RuntimeError(f"{template_name} changed")
        setattr(responses, template_name, text.replace(status_marker, status_marker + extra))
    FakeStack._pc_status_reason = None
    FakeStack._pc_deletion_time = None

    def set_status(stack: Any, status: str, reason: Any = None) -> None:
        stack.status = status
        stack._pc_status_reason = reason
        if status == "DELETE_COMPLETE":
            stack._pc_deletion_time = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def with_request(method: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            _REQUEST.token = self._get_param("ClientRequestToken")
            _REQUEST.on_failure = self._get_param("OnFailure") if kind == "create" else None
            _REQUEST.disable_rollback = str(self._get_param("DisableRollback", "false")).lower() == "true"
            try:
                if kind == "create" and _REQUEST.token:
                    # Idempotent retry: same name and token as a live stack -> same answer.
                    name = self._get_param("StackName")
                    for stack in self.cloudformation_backend.stacks.values():
                        if stack.name == name and getattr(stack, "_pc_create_token", None) == _REQUEST.token:
                            if self.request_json:
                                return json.dumps({"CreateStackResponse": {"CreateStackResult": {"StackId": stack.stack_id}}})
                            return self.response_template(responses.CREATE_STACK_RESPONSE_TEMPLATE).render(stack=stack)
                if kind == "update":
                    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
                    if _REQUEST.token and getattr(stack, "_pc_update_token", None) == _REQUEST.token:
                        # Idempotent retry of the same update: same answer, nothing done twice.
                        return self.response_template(responses.UPDATE_STACK_RESPONSE_TEMPLATE).render(stack=stack)
                    if str(stack.status).endswith("_IN_PROGRESS"):
                        raise ValidationError(stack.stack_id, message=(
                            f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."))
                    answer = method(self)
                    stack._pc_update_token = _REQUEST.token
                    return answer
                return method(self)
            finally:
                _REQUEST.token = None
                _REQUEST.on_failure = None
                _REQUEST.disable_rollback = False

        return wrapper

    responses.CloudFormationResponse.create_stack = with_request(responses.CloudFormationResponse.create_stack, "create")
    responses.CloudFormationResponse.delete_stack = with_request(responses.CloudFormationResponse.delete_stack, "delete")
    responses.CloudFormationResponse.update_stack = with_request(responses.CloudFormationResponse.update_stack, "update")

    # -- Resource events (AWS shows one per resource and step; moto only the stack's own).
    def stack_of(resources_map: Any, account_id: str, region_name: str) -> Any:
        from moto.cloudformation.models import cloudformation_backends

        backend = cloudformation_backends[account_id][region_name]
        return backend.stacks.get(resources_map.stack_id)

    def add_event(stack: Any, logical_id: str, resource_type: str, status: str,
                  physical_id: str = "", reason: Any = None) -> None:
        event = FakeEvent(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                          physical_resource_id=physical_id, resource_type=resource_type,
                          resource_status=status, resource_status_reason=reason, resource_properties=None)
        stack.events.append(event)

    original_create = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: Dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        if getattr(resources_map, "_pc_frozen", False):
            raise KeyError(logical_id)  # never re-create resources of a finished stack
        stack = stack_of(resources_map, account_id, region_name)
        condition = resource_json.get("Condition")
        skipped = condition and not resources_map.lazy_condition_map[condition]
        rtype = resource_json.get("Type", "")
        if stack is not None and not skipped:
            add_event(stack, logical_id, rtype, "CREATE_IN_PROGRESS")
        try:
            resource = original_create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            if stack is not None and not skipped:
                failed = getattr(stack, "_pc_failed", None)
                if failed is None:
                    stack._pc_failed = [logical_id]
                    add_event(stack, logical_id, rtype, "CREATE_FAILED", reason=_error_message(exc))
                else:
                    add_event(stack, logical_id, rtype, "CREATE_FAILED", reason="Resource creation cancelled")
            raise
        if stack is not None and resource is not None:
            add_event(stack, logical_id, rtype, "CREATE_COMPLETE",
                      physical_id=str(getattr(resource, "physical_resource_id", "") or ""))
        return resource

    parsing.parse_and_create_resource = parse_and_create_resource

    original_delete_resource = ResourceMap._delete_resource

    def _delete_resource(self: Any, parsed_resource: Any, resource_json: Dict[str, Any]) -> None:
        stack = stack_of(self, self._account_id, self._region_name)
        logical_id = getattr(parsed_resource, "logical_resource_id", None) or ""
        physical_id = str(getattr(parsed_resource, "physical_resource_id", "") or "")
        started = getattr(self, "_pc_delete_started", set())
        self._pc_delete_started = started
        if stack is not None and logical_id not in started:
            started.add(logical_id)
            add_event(stack, logical_id, resource_json.get("Type", ""), "DELETE_IN_PROGRESS", physical_id)
        original_delete_resource(self, parsed_resource, resource_json)
        if stack is not None:
            add_event(stack, logical_id, resource_json.get("Type", ""), "DELETE_COMPLETE", physical_id)

    ResourceMap._delete_resource = _delete_resource

    # -- UpdateStack: events for the resources it changes, and the cleanup phase AWS goes through
    #    (UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE).
    original_update_resource = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id: str, resource_json: Dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        stack = stack_of(resources_map, account_id, region_name)
        rtype = resource_json.get("Type", "")
        if stack is not None:
            add_event(stack, logical_id, rtype, "UPDATE_IN_PROGRESS")
        try:
            resource = original_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            if stack is not None:
                add_event(stack, logical_id, rtype, "UPDATE_FAILED", reason=_error_message(exc))
            raise
        if stack is not None:
            add_event(stack, logical_id, rtype, "UPDATE_COMPLETE",
                      physical_id=str(getattr(resource, "physical_resource_id", "") or ""))
        return resource

    parsing.parse_and_update_resource = parse_and_update_resource

    original_stack_update = FakeStack.update

    def stack_update(self: Any, *args: Any, **kwargs: Any) -> None:
        original_stack_update(self, *args, **kwargs)
        last = self.events[-1] if self.events else None
        if last is not None and last.resource_status == "UPDATE_COMPLETE" and last.logical_resource_id == self.name:
            self.events.pop()
            self._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            self.events.append(last)

    FakeStack.update = stack_update

    # -- Finished stacks: never re-create resources when described (plain moto does, when a
    #    deleted stack with Outputs is described: VPC, group and instances come back).
    class FrozenOutputs(dict):
        exports: List[Any] = []

    def freeze(stack: Any) -> None:
        if getattr(stack.resource_map, "_pc_frozen", False):
            return
        stack.resource_map._pc_frozen = True  # first: evaluating outputs must create nothing
        outputs: List[Any] = []
        for key in list(getattr(stack.output_map, "outputs", [])):
            try:
                output = stack.output_map[key]
            except Exception:
                output = None
            if output:
                outputs.append(output)
        stack.output_map = FrozenOutputs((o.key, o) for o in outputs)

    def stack_resources(self: Any) -> Any:
        rm = self.resource_map
        if getattr(rm, "_pc_frozen", False):
            return [r for k, r in rm._parsed_resources.items() if k in rm._resource_json_map and r is not None]
        # A resource whose Condition is false is not created (None in the map): AWS does not list it.
        return [r for r in rm.values() if r is not None]

    FakeStack.stack_resources = property(stack_resources)

    def rollback(stack: Any, final_status: str, reason: Any = None) -> None:
        freeze(stack)
        stack.resource_map.delete()
        set_status(stack, final_status, reason)

    # -- CreateStack: a failing resource -> CREATE_FAILED, then rollback as OnFailure says.
    original_backend_create = CloudFormationBackend.create_stack

    def create_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            stack = original_backend_create(self, name, *args, **kwargs)
        except Exception as exc:
            stack = next((s for s in self.stacks.values()
                          if s.name == name and s.status in ("CREATE_PENDING", "CREATE_IN_PROGRESS")), None)
            template_error = isinstance(exc, (ValidationError, UnformattedGetAttTemplateException, KeyError)) \
                or not isinstance(exc, RESTError)
            if stack is not None and template_error:
                # A template error: AWS rejects CreateStack itself. Undo what got created.
                try:
                    rollback(stack, "DELETE_COMPLETE")
                except Exception:
                    pass
                self.stacks.pop(stack.stack_id, None)
            if stack is None or template_error:
                if isinstance(exc, RESTError):
                    raise
                # Plain moto answers these with HTTP 500; AWS with a ValidationError.
                if isinstance(exc, KeyError):
                    detail = f"Unresolved reference or mapping key {exc}"
                else:
                    detail = _error_message(exc).splitlines()[0]
                raise ValidationError(name, message=f"Template format error: {detail}") from exc
            failed = getattr(stack, "_pc_failed", None) or ["(unknown)"]
            on_failure = (_request_value("on_failure")
                          or ("DO_NOTHING" if _request_value("disable_rollback") else "ROLLBACK")).upper()
            reason = f"The following resource(s) failed to create: [{', '.join(failed)}]."
            stack._pc_create_token = _request_value("token")
            if on_failure == "DO_NOTHING":
                freeze(stack)
                set_status(stack, "CREATE_FAILED", reason)
                stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
            elif on_failure == "DELETE":
                stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
                stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason=reason + " Delete requested by user.")
                try:
                    rollback(stack, "DELETE_COMPLETE", reason + " Delete requested by user.")
                    stack._add_stack_event("DELETE_COMPLETE")
                    self.stacks.pop(stack.stack_id, None)
                    self.deleted_stacks[stack.stack_id] = stack
                except Exception as delete_exc:
                    set_status(stack, "DELETE_FAILED", _error_message(delete_exc))
                    stack._add_stack_event("DELETE_FAILED", resource_status_reason=_error_message(delete_exc))
            else:
                stack._add_stack_event("ROLLBACK_IN_PROGRESS",
                                       resource_status_reason=reason + " Rollback requested by user.")
                try:
                    rollback(stack, "ROLLBACK_COMPLETE", reason + " Rollback requested by user.")
                    stack._add_stack_event("ROLLBACK_COMPLETE")
                except Exception as rollback_exc:
                    set_status(stack, "ROLLBACK_FAILED", _error_message(rollback_exc))
                    stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=_error_message(rollback_exc))
            for export in list(self.exports.values()):
                if export.exporting_stack_id == stack.stack_id:
                    self.exports.pop(export.name, None)
            return stack
        stack._pc_create_token = _request_value("token")
        return stack

    CloudFormationBackend.create_stack = create_stack

    # -- DeleteStack: failure -> DELETE_FAILED kept (plain moto loses the stack); by name or id;
    #    unknown/deleted stacks succeed silently, as on AWS.
    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return
        try:
            export_names = [export.name for export in stack.exports]
        except Exception:
            export_names = [e.name for e in self.exports.values() if e.exporting_stack_id == stack.stack_id]
        freeze(stack)
        try:
            stack.delete()
        except Exception as exc:
            set_status(stack, "DELETE_FAILED", _error_message(exc))
            stack._add_stack_event("DELETE_FAILED", resource_status_reason=_error_message(exc))
            return
        set_status(stack, "DELETE_COMPLETE")
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for export_name in export_names:
            self.exports.pop(export_name, None)

    CloudFormationBackend.delete_stack = delete_stack


@_fix("get-azs")
def _get_azs() -> None:
    import moto.cloudformation.parsing as parsing
    from moto.ec2.models import ec2_backends

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, dict) and len(resource_json) == 1 and "Fn::GetAZs" in resource_json:
            argument = resource_json["Fn::GetAZs"]
            region = original(argument, resources_map) if argument else None
            region = region or resources_map._region_name
            backend = ec2_backends[resources_map._account_id][region]
            return sorted(zone.name for zone in backend.describe_availability_zones())
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json


@_fix("validate-template")
def _validate_template() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, FakeStack

    original = CloudFormationBackend.validate_template

    def validate_template(self: Any, template: str) -> Any:
        try:
            return original(self, template)
        except ImportError:  # cfn-lint is not packaged here: at least parse the template
            try:
                parsed = FakeStack.parse_template(template)
            except Exception as exc:
                raise ValidationError(message=f"Template format error: {_error_message(exc).splitlines()[0]}")
            if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict) or not parsed["Resources"]:
                raise ValidationError(message="Template format error: At least one Resources member must be defined.")
            return []

    CloudFormationBackend.validate_template = validate_template


@_fix("route53-create-zone")
def _route53_create_zone() -> None:
    import xmltodict
    from moto.route53.responses import Route53

    original = Route53.create_hosted_zone

    def create_hosted_zone(self: Any) -> Any:
        body = self.body.decode() if isinstance(self.body, bytes) else self.body
        elements = xmltodict.parse(body)
        request = elements.get("CreateHostedZoneRequest") or {}
        changed = False
        if request.get("VPC") and "HostedZoneConfig" not in request:
            request["HostedZoneConfig"] = {"PrivateZone": "true"}  # a VPC makes the zone private
            changed = True
        config = request.get("HostedZoneConfig")
        if isinstance(config, dict) and "Comment" not in config:
            config["Comment"] = None
            changed = True
        if changed:
            self.body = xmltodict.unparse(elements)
        return original(self)

    Route53.create_hosted_zone = create_hosted_zone


@_fix("route53-weight-zero")
def _route53_weight_zero() -> None:
    from moto.route53 import responses

    old = "{% if record.weight %}"
    if old not in responses.LIST_RRSET_RESPONSE:
        raise RuntimeError("LIST_RRSET_RESPONSE no longer renders the weight this way")
    responses.LIST_RRSET_RESPONSE = responses.LIST_RRSET_RESPONSE.replace(
        old, "{% if record.set_identifier and record.weight is not none %}"
    )


@_fix("serial-requests")
def _serial_requests() -> None:
    """moto.server runs werkzeug with threaded=True, but moto's backends are not thread-safe: with
    tens of concurrent CreateStack calls one now and then fails with "Template format error:
    dictionary changed size during iteration", an emulator artefact AWS never shows. Requests are
    answered one at a time instead; they queue, as they would in one moto thread."""
    import werkzeug.serving as serving

    original = serving.run_simple

    def run_simple(*args: Any, **kwargs: Any) -> Any:
        kwargs["threaded"] = False
        return original(*args, **kwargs)

    serving.run_simple = run_simple


@_fix("asg-created-time")
def _asg_created_time() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.core.utils import iso_8601_datetime_with_milliseconds, utcnow

    original = FakeAutoScalingGroup.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.created_time = iso_8601_datetime_with_milliseconds(utcnow())

    FakeAutoScalingGroup.__init__ = __init__


@_fix("previous-default-values")
def _previous_default_values() -> None:
    from moto.cloudformation.models import FakeStack

    original = FakeStack.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # A parameter left to its Default has that value as its previous value (AWS lists it in
        # DescribeStacks and takes UsePreviousValue for it); plain moto keeps only those given.
        declared = (getattr(self, "template_dict", None) or {}).get("Parameters") or {}
        defaults = {
            name: str(spec["Default"])
            for name, spec in declared.items()
            if isinstance(spec, dict) and "Default" in spec and name not in self.parameters
        }
        if defaults:
            self.parameters = {**self.parameters, **defaults}

    FakeStack.__init__ = __init__


@_fix("launch-template-booleans")
def _launch_template_booleans() -> None:
    import moto.ec2.responses.launch_templates as module

    original = module.xml_serialize

    def xml_serialize(tree: Any, key: str, value: Any) -> None:
        # bool is an int in Python: plain moto writes str(True), "True", which botocore (the AWS CLI)
        # reads as false. EC2 writes "true"/"false".
        if isinstance(value, bool):
            name = key[0].lower() + key[1:]
            module.ElementTree.SubElement(tree, name).text = "true" if value else "false"
            return
        if isinstance(value, dict):
            node = module.ElementTree.SubElement(tree, key[0].lower() + key[1:])
            for inner_key, inner in value.items():
                xml_serialize(node, inner_key, inner)
            return
        if isinstance(value, list):
            name = key[0].lower() + key[1:]
            name = (name[:-1] if name[-1] == "s" else name) + "Set"
            node = module.ElementTree.SubElement(tree, name)
            for item in value:
                xml_serialize(node, "item", item)
            return
        original(tree, key, value)

    module.xml_serialize = xml_serialize


@_fix("asg-launch-template")
def _asg_launch_template() -> None:
    from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup, InstanceState
    from moto.moto_api._internal import mock_random as random

    original = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self: Any, count_needed: int,
                                            propagated_tags: Dict[str, str]) -> None:
        if not self.launch_template:
            return original(self, count_needed, propagated_tags)
        propagated_tags[ASG_NAME_TAG] = self.name
        propagated_tags.update(self.instance_tags)
        data = self.launch_template.get_version(self.launch_template_version).data
        nics = data.get("NetworkInterfaces") or data.get("NetworkInterface") or []
        if isinstance(nics, dict):
            nics = list(nics.values())
        primary = next((n for n in nics if str(n.get("DeviceIndex", "0")) == "0"), None)
        group_ids: List[str] = list(data.get("SecurityGroupIds") or data.get("SecurityGroupId") or [])
        associate_public_ip = None
        if primary is not None:
            groups = primary.get("Groups") or primary.get("SecurityGroupId") or []
            if isinstance(groups, dict):
                groups = list(groups.values())
            group_ids += [g for g in groups if g not in group_ids]
            if primary.get("AssociatePublicIpAddress") is not None:
                associate_public_ip = _truthy(primary.get("AssociatePublicIpAddress"))
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        ec2_backend = self.autoscaling_backend.ec2_backend
        start = len(self.instance_states)
        for i in range(count_needed):
            subnet_id = subnets[(start + i) % len(subnets)] if subnets else None
            reservation = ec2_backend.run_instances(
                self.image_id,
                1,
                self.user_data,
                self.security_groups,
                instance_type=self.instance_type,
                tags={"instance": dict(propagated_tags)},
                placement=None if subnet_id else random.choice(self.availability_zones),
                launch_config=None,
                is_instance_type_default=False,
                associate_public_ip=associate_public_ip,
                subnet_id=subnet_id,
                key_name=data.get("KeyName"),
                security_group_ids=list(group_ids),
            )
            profile = data.get("IamInstanceProfile") or {}
            for instance in reservation.instances:
                if profile.get("Arn") or profile.get("Name"):
                    # The launch template's instance profile, as RunInstances associates it.
                    ec2_backend.associate_iam_instance_profile(
                        instance_id=instance.id,
                        iam_instance_profile_arn=profile.get("Arn"),
                        iam_instance_profile_name=profile.get("Name"),
                    )
                instance.autoscaling_group = self
                self.instance_states.append(
                    InstanceState(instance, protected_from_scale_in=self.new_instances_protected_from_scale_in)
                )

    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances


@_fix("asg-update-in-place")
def _asg_update_in_place() -> None:
    """An UpdateStack that changes an AWS::AutoScaling::AutoScalingGroup's MinSize, MaxSize or
    DesiredCapacity replaces the whole group in plain moto (delete + create: every instance is
    terminated and new ones launched, under a new group name). AWS updates the group in place:
    same name, the instances kept, only as many launched or terminated as the new size needs.
    With the fix the group is updated in place (sizes; the launch template version if it changed)."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    if "update_from_cloudformation_json" not in FakeAutoScalingGroup.__dict__:
        raise RuntimeError("FakeAutoScalingGroup.update_from_cloudformation_json moved")

    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Dict[str, Any], account_id: str,
                                        region_name: str) -> Any:
        props = cloudformation_json.get("Properties", {})
        group = original_resource

        def size(key: str) -> Any:
            value = props.get(key)
            return None if value is None else int(value)

        min_size, max_size, desired = size("MinSize"), size("MaxSize"), size("DesiredCapacity")
        if min_size is not None:
            group.min_size = min_size
        if max_size is not None:
            group.max_size = max_size
        version = (props.get("LaunchTemplate") or {}).get("Version")
        if version is not None and getattr(group, "launch_template", None) is not None:
            group.launch_template_version = str(version)
            if hasattr(group, "provided_launch_template_version"):  # what DescribeAutoScalingGroups shows
                group.provided_launch_template_version = str(version)
        if desired is None:
            desired = max(min(len(group.instance_states), group.max_size), group.min_size)
        group.set_desired_capacity(desired)
        return group

    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


@_fix("cfn-private-zone")
def _cfn_private_zone() -> None:
    from moto.route53.models import FakeZone, route53_backends
    from moto.utilities.utils import get_partition

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        vpcs = properties.get("VPCs") or []
        comment = (properties.get("HostedZoneConfig") or {}).get("Comment")
        backend = route53_backends[account_id][get_partition(region_name)]
        if not vpcs:
            return backend.create_hosted_zone(resource_name, private_zone=False, comment=comment)
        first = vpcs[0]
        zone = backend.create_hosted_zone(resource_name, private_zone=True, vpcid=first.get("VPCId"),
                                          vpcregion=first.get("VPCRegion"), comment=comment)
        for vpc in vpcs[1:]:
            backend.associate_vpc_with_hosted_zone(zone.id, vpc.get("VPCId"), vpc.get("VPCRegion"))
        return zone

    FakeZone.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    def delete(self: Any, account_id: str, region_name: str) -> None:
        # As AWS: refused (HostedZoneNotEmpty) while it holds records other than its SOA and NS.
        route53_backends[account_id][get_partition(region_name)].delete_hosted_zone(self.id)

    FakeZone.delete = delete


@_fix("cfn-volume")
def _cfn_volume() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.elastic_block_store import Volume

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        backend = ec2_backends[account_id][region_name]
        volume = backend.create_volume(
            size=int(properties.get("Size") or 8),
            zone_name=properties.get("AvailabilityZone"),
            snapshot_id=properties.get("SnapshotId"),
            encrypted=_truthy(properties.get("Encrypted")),
            kms_key_id=properties.get("KmsKeyId"),
            volume_type=properties.get("VolumeType"),
            iops=int(properties["Iops"]) if properties.get("Iops") else None,
            throughput=int(properties["Throughput"]) if properties.get("Throughput") else None,
        )
        tags = {t["Key"]: t["Value"] for t in properties.get("Tags") or []}
        if tags:
            backend.create_tags([volume.id], tags)
        return volume

    Volume.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


@_fix("signal-resource")
def _signal_resource() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse

    def signal_resource(self: Any) -> str:
        stack_name = self._get_param("StackName")
        logical_id = self._get_param("LogicalResourceId")
        unique_id = self._get_param("UniqueId")
        status = self._get_param("Status")
        for name, value in (("StackName", stack_name), ("LogicalResourceId", logical_id),
                            ("UniqueId", unique_id), ("Status", status)):
            if not value:
                raise ValidationError(message=f"1 validation error detected: Value null at '{name}' failed "
                                              "to satisfy constraint: Member must not be null")
        if status not in ("SUCCESS", "FAILURE"):
            raise ValidationError(message=f"1 validation error detected: Value '{status}' at 'status' failed "
                                          "to satisfy constraint: Member must satisfy enum value set: "
                                          "[SUCCESS, FAILURE]")
        stack = self.cloudformation_backend.get_stack(stack_name)
        if logical_id not in (stack.template_dict.get("Resources") or {}):
            raise ValidationError(message=f"Resource {logical_id} does not exist for stack {stack.name}")
        waiting = (stack.__dict__.get("_pc_signals") or {}).get(logical_id)
        if waiting is None or waiting.get("done"):
            shown = [e.resource_status for e in stack.events if e.logical_resource_id == logical_id]
            state = shown[-1] if shown else "CREATE_COMPLETE"
            raise ValidationError(message=f"Resource {logical_id} is in {state} state and cannot be signaled")
        waiting["signals"].append((unique_id, status))
        return ('<SignalResourceResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
                "<ResponseMetadata><RequestId>pandacluster-moto</RequestId></ResponseMetadata>"
                "</SignalResourceResponse>")

    CloudFormationResponse.signal_resource = signal_resource


@_fix("sts-assume-role-trust")
def _sts_assume_role_trust() -> None:
    import fnmatch

    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError, STSValidationError
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import get_partition

    class AccessDenied(STSClientError):
        code = 403

        def __init__(self, message: str) -> None:
            super().__init__("AccessDenied", message)

    def listed(value: Any) -> List[Any]:
        return value if isinstance(value, list) else [value]

    def action_matches(statement: Dict[str, Any]) -> bool:
        return any(fnmatch.fnmatchcase("sts:assumerole", str(a).lower()) for a in listed(statement.get("Action", [])))

    def principal_matches(statement: Dict[str, Any], account: str, caller_arn: str) -> bool:
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if not isinstance(principal, dict):
            return False
        for value in listed(principal.get("AWS", [])):
            value = str(value)
            if value in ("*", account, caller_arn) or re.fullmatch(r"arn:[^:]+:iam::" + re.escape(account) + r":root", value):
                return True
        return False

    def conditions_hold(statement: Dict[str, Any], external_id: Any) -> bool:
        for operator, pairs in (statement.get("Condition") or {}).items():
            for key, expected in pairs.items():
                if key.lower() != "sts:externalid" or external_id is None:
                    return False
                values = [str(v) for v in listed(expected)]
                if operator == "StringEquals" and external_id not in values:
                    return False
                if operator == "StringLike" and not any(fnmatch.fnmatchcase(external_id, v) for v in values):
                    return False
                if operator not in ("StringEquals", "StringLike"):
                    return False
        return True

    def check_trust(self: Any) -> None:
        role_arn = self._get_param("RoleArn") or ""
        external_id = self._get_param("ExternalId")
        duration = self._get_int_param("DurationSeconds", 3600)
        _user_id, caller_arn, caller_account = self.backend.get_caller_identity(self.get_access_key(), self.region)
        denied = AccessDenied(
            f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
        match = re.match(r"arn:[^:]+:iam::([0-9]{12}):role/", role_arn)
        if not match:
            raise denied
        try:
            role = iam_backends[match.group(1)][get_partition(self.region)].get_role_by_arn(role_arn)
        except Exception:
            raise denied from None
        document = role.assume_role_policy_document
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = listed(parsed.get("Statement", []))
        applicable = [s for s in statements if action_matches(s) and principal_matches(s, caller_account, caller_arn)]
        if any(s.get("Effect") == "Deny" and conditions_hold(s, external_id) for s in applicable):
            raise denied
        if not any(s.get("Effect") == "Allow" and conditions_hold(s, external_id) for s in applicable):
            raise denied
        if duration > int(role.max_session_duration or 3600):
            raise STSValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")

    original = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        check_trust(self)
        return original(self)

    TokenResponse.assume_role = assume_role


def _pace() -> None:
    """AWS's pace, off unless PANDACLUSTER_MOTO_PACE_MS is set (see pace.py); listed as a fix only when on."""
    from . import pace

    try:
        pace_ms, boot_ms = pace.settings()
        if pace_ms <= 0:
            return
        pace.apply(pace_ms, boot_ms)
        signals = ", creation signals" if os.environ.get("PANDACLUSTER_MOTO_SIGNALS", "").strip() == "1" else ""
        FIXES.append(f"pace({pace_ms:g} ms, boot {boot_ms:g} ms{signals})")
    except Exception as exc:
        SKIPPED.append(f"pace: {exc!r}")


_ALL.append(_pace)


@_fix("launch-template-dependents")
def _launch_template_dependents() -> None:
    from . import launch_template_dependents

    launch_template_dependents.apply()


@_fix("launch-template-instance-tags")
def _launch_template_instance_tags() -> None:
    from . import launch_template_instance_tags

    launch_template_instance_tags.apply()


@_fix("image-deprecation")
def _image_deprecation() -> None:
    from . import image_deprecation

    image_deprecation.apply()


def apply() -> List[str]:
    """Apply every fix once; returns the names applied."""
    if not FIXES and not SKIPPED:
        for run in _ALL:
            run()
    return FIXES


def main(argv: List[str] | None = None) -> None:
    apply()
    print(f"pandacluster_moto: fixes applied: {', '.join(FIXES) or 'none'}", file=sys.stderr, flush=True)
    for skipped in SKIPPED:
        print(f"pandacluster_moto: fix NOT applied: {skipped}", file=sys.stderr, flush=True)
    from moto.server import main as moto_main

    moto_main(argv)
