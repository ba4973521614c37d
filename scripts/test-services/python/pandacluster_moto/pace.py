"""AWS's pace for moto: stack operations and instance launches that take time.

moto finishes CreateStack, UpdateStack and DeleteStack inside the call and starts every instance
`running`. AWS takes minutes: a stack is CREATE_IN_PROGRESS / UPDATE_IN_PROGRESS /
DELETE_IN_PROGRESS while its resources are created one after another, and an instance is `pending`
before it is `running`. Code that follows a stack (polling, re-attaching, Ctrl-C, a server's poller)
can only be tested against that pace.

Settings (environment of the moto server process, read once at start):

  PANDACLUSTER_MOTO_PACE_MS  milliseconds each stack operation takes (0 or unset: off, moto's
                             own speed). Set it and:
      - the operation is still done at once inside moto (so every resource exists), but the
        stack's events are re-timed over [start, start + PACE]: the stack's own *_IN_PROGRESS
        event at the start, each resource's IN_PROGRESS then COMPLETE (or FAILED) in dependency
        order (the order moto completed them: a resource completes only after the ones it
        refers to), the stack's final event at the end;
      - DescribeStackEvents shows only events whose time has come;
      - DescribeStacks / ListStacks show the status of the stack's own latest event that has
        come (CREATE_IN_PROGRESS … then CREATE_COMPLETE; ROLLBACK_IN_PROGRESS … ROLLBACK_COMPLETE;
        UPDATE_IN_PROGRESS, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, UPDATE_COMPLETE; DELETE_IN_PROGRESS
        … DELETE_COMPLETE);
      - a stack being deleted still answers by name until the delete's end (as on AWS), and is
        then only found by its StackId;
      - UpdateStack of a stack whose operation is still in progress is refused, as AWS does
        ("Stack:arn… is in CREATE_IN_PROGRESS state and can not be updated.").
  PANDACLUSTER_MOTO_BOOT_MS  milliseconds a new instance stays `pending` (its Auto Scaling
                             lifecycle state `Pending`) before it is `running` / `InService`.
                             Default: PANDACLUSTER_MOTO_PACE_MS. Only with pace on.
  PANDACLUSTER_MOTO_SIGNALS  1: resources with a CreationPolicy ResourceSignal wait for
                             SignalResource, as on AWS: such a resource has no CREATE_COMPLETE
                             event, and its stack stays CREATE_IN_PROGRESS, until Count SUCCESS
                             signals came; a FAILURE signal ("Received FAILURE signal with UniqueId
                             i-…") or its Timeout passing ("Failed to receive N resource signal(s)
                             within the specified duration") makes it CREATE_FAILED and the stack
                             CREATE_FAILED ("The following resource(s) failed to create: [X]."). The
                             resources are not rolled back (AWS would roll back or delete them per
                             OnFailure; DeleteStack removes them). Only with pace on.

Timestamps are the server's clock (UTC); nothing runs in the background: every answer is computed
from the clock when asked, so the pace costs nothing while no one polls.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, List, Optional


def settings() -> tuple[float, float]:
    """(pace_ms, boot_ms); pace 0 means off."""

    def number(name: str, default: float) -> float:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return default
        value = float(raw)
        if value < 0:
            raise ValueError(f"{name} must be >= 0, not {raw}")
        return value

    pace = number("PANDACLUSTER_MOTO_PACE_MS", 0.0)
    return pace, number("PANDACLUSTER_MOTO_BOOT_MS", pace)


def apply(pace_ms: float, boot_ms: float) -> None:
    from moto.autoscaling.models import InstanceState as GroupInstanceState
    from moto.cloudformation.models import CloudFormationBackend, FakeEvent, FakeStack
    from moto.core.utils import utcnow
    from moto.ec2.models.instances import Instance

    span = datetime.timedelta(milliseconds=pace_ms)
    boot = datetime.timedelta(milliseconds=boot_ms)

    # -- The stack's status: the latest of its own events that has come, while its operation runs.
    def own(stack: Any, event: Any) -> bool:
        return event.resource_type == "AWS::CloudFormation::Stack" and event.logical_resource_id == stack.name

    def get_status(self: Any) -> Any:
        until = self.__dict__.get("_pc_until")
        if until is not None:
            now = utcnow()
            if now < until:
                shown = [e for e in self.events if own(self, e) and e.timestamp <= now]
                if shown:
                    return shown[-1].resource_status
        return self.__dict__.get("_pc_status_value")

    def set_status(self: Any, value: Any) -> None:
        self.__dict__["_pc_status_value"] = value

    FakeStack.status = property(get_status, set_status)

    def in_progress(stack: Any) -> bool:
        until = stack.__dict__.get("_pc_until")
        return until is not None and utcnow() < until

    def retime(stack: Any, first: int) -> None:
        """Spreads the events the operation added (from index `first`) over [now, now + span], each
        resource's IN_PROGRESS moved to just before its own COMPLETE/FAILED."""
        added = stack.events[first:]
        if not added:
            return
        ordered: List[Any] = []
        pending: dict = {}
        for event in added:
            key = (event.logical_resource_id, event.resource_status.split("_")[0])
            if not own(stack, event) and event.resource_status.endswith("_IN_PROGRESS"):
                pending[key] = event  # placed when its resource finishes
                continue
            start = pending.pop(key, None)
            if start is not None:
                ordered.append(start)
            ordered.append(event)
        ordered.extend(pending.values())
        start_time = utcnow()
        steps = max(len(ordered) - 1, 1)
        for index, event in enumerate(ordered):
            event.timestamp = start_time + span * (index / steps)
        stack.events[first:] = ordered
        stack.__dict__["_pc_until"] = start_time + span

    # -- Creation signals (PANDACLUSTER_MOTO_SIGNALS=1): resources with a CreationPolicy wait.
    signals_on = os.environ.get("PANDACLUSTER_MOTO_SIGNALS", "").strip() == "1"
    forever = datetime.timedelta(days=3650)

    def duration(text: str) -> datetime.timedelta:
        import re

        match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", str(text or "PT5M"))
        if not match:
            return datetime.timedelta(minutes=5)
        hours, minutes, seconds = (int(x or 0) for x in match.groups())
        return datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)

    def event(stack: Any, like: Any, logical_id: str, resource_type: str, status: str, reason: Any) -> Any:
        made = FakeEvent(stack.stack_id, stack.name, logical_id, getattr(like, "physical_resource_id", ""),
                         resource_type, status, reason, None)
        made.client_request_token = getattr(like, "client_request_token", None)
        made.timestamp = utcnow()
        stack.events.append(made)
        return made

    def hold_for_signals(stack: Any) -> None:
        resources = stack.template_dict.get("Resources") or {}
        waiting: dict = {}
        for logical_id, resource in resources.items():
            policy = ((resource or {}).get("CreationPolicy") or {}).get("ResourceSignal")
            if policy is None:
                continue
            waiting[logical_id] = {"count": int(policy.get("Count", 1)), "signals": [], "done": False,
                                   "deadline": utcnow() + duration(policy.get("Timeout", "PT5M")),
                                   "type": resource.get("Type", "")}
        if not waiting:
            return
        held = {}
        for e in list(stack.events):
            if e.logical_resource_id in waiting and e.resource_status == "CREATE_COMPLETE" and not own(stack, e):
                held[e.logical_resource_id] = e
                stack.events.remove(e)
        finals = [e for e in stack.events if own(stack, e) and e.resource_status == "CREATE_COMPLETE"]
        for e in finals:
            stack.events.remove(e)
        stack.__dict__["_pc_signals"] = waiting
        stack.__dict__["_pc_held"] = {"resources": held, "final": finals[-1] if finals else None}
        stack.__dict__["_pc_until"] = utcnow() + forever

    def progress(stack: Any) -> None:
        waiting = stack.__dict__.get("_pc_signals")
        if not waiting or all(w["done"] for w in waiting.values()):
            return
        held = stack.__dict__["_pc_held"]
        now = utcnow()
        failed = []
        for logical_id, w in waiting.items():
            if w["done"]:
                continue
            failure = next((u for u, status in w["signals"] if status == "FAILURE"), None)
            successes = len({u for u, status in w["signals"] if status == "SUCCESS"})
            like = held["resources"].get(logical_id)
            if failure is not None:
                reason = f"Received FAILURE signal with UniqueId {failure}"
            elif successes >= w["count"]:
                w["done"] = True
                if like is not None:
                    like.timestamp = now
                    stack.events.append(like)
                continue
            elif now >= w["deadline"]:
                reason = f"Failed to receive {w['count']} resource signal(s) within the specified duration"
            else:
                continue
            w["done"] = True
            event(stack, like, logical_id, w["type"], "CREATE_FAILED", reason)
            failed.append(logical_id)
        if failed:
            for w in waiting.values():
                w["done"] = True
            names = ", ".join(failed)
            event(stack, held.get("final"), stack.name, "AWS::CloudFormation::Stack", "CREATE_FAILED",
                  f"The following resource(s) failed to create: [{names}]. ")
            stack.status = "CREATE_FAILED"
            stack.__dict__["_pc_until"] = now
        elif all(w["done"] for w in waiting.values()):
            final = held.get("final")
            if final is not None:
                final.timestamp = now
                stack.events.append(final)
            stack.__dict__["_pc_until"] = now

    # -- Every operation of the backend that starts one, re-timed; deletes settle when they end.
    def settle(backend: Any) -> None:
        for stack in list(backend.stacks.values()):
            if signals_on:
                progress(stack)
            if stack.__dict__.get("_pc_deleting") and not in_progress(stack):
                backend.stacks.pop(stack.stack_id, None)
                backend.deleted_stacks[stack.stack_id] = stack
                stack.__dict__["_pc_deleting"] = False

    def settling(name: str) -> None:
        original = getattr(CloudFormationBackend, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            settle(self)
            return original(self, *args, **kwargs)

        setattr(CloudFormationBackend, name, wrapper)

    for name in ("describe_stacks", "list_stacks", "get_stack", "describe_stack_events",
                 "describe_stack_resources", "list_stack_resources"):
        settling(name)

    original_create = CloudFormationBackend.create_stack

    def create_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        settle(self)
        stack = original_create(self, name, *args, **kwargs)
        retime(stack, 0)
        if signals_on and str(stack.__dict__.get("_pc_status_value")) == "CREATE_COMPLETE":
            hold_for_signals(stack)
        return stack

    CloudFormationBackend.create_stack = create_stack

    original_update = CloudFormationBackend.update_stack

    def update_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        settle(self)
        stack = self.get_stack(name)
        first = len(stack.events)
        stack = original_update(self, name, *args, **kwargs)
        retime(stack, first)
        return stack

    CloudFormationBackend.update_stack = update_stack

    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        settle(self)
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return None
        if stack.__dict__.get("_pc_deleting"):
            return None  # DeleteStack of a stack being deleted: nothing more to do (as AWS)
        first = len(stack.events)
        original_delete(self, name_or_stack_id)
        retime(stack, first)
        if stack.stack_id in self.deleted_stacks and stack.stack_id not in self.stacks:
            # Still answers by name while DELETE_IN_PROGRESS; settle() moves it at the end.
            self.deleted_stacks.pop(stack.stack_id)
            self.stacks[stack.stack_id] = stack
            stack.__dict__["_pc_deleting"] = True
        return None

    CloudFormationBackend.delete_stack = delete_stack

    original_describe_events = CloudFormationBackend.describe_stack_events

    def describe_stack_events(self: Any, stack_name: str) -> Any:
        now = utcnow()
        events = original_describe_events(self, stack_name)
        return sorted((e for e in events if e.timestamp <= now), key=lambda e: e.timestamp)

    CloudFormationBackend.describe_stack_events = describe_stack_events

    # -- Instances: pending for `boot` after launch. The state object is moto's own (it changes it
    #    in place on stop/terminate); while pending a view of it says "pending" and passes any change
    #    through to it (which also ends the pending phase).
    class PendingView:
        def __init__(self, instance: Any, real: Any) -> None:
            object.__setattr__(self, "_instance", instance)
            object.__setattr__(self, "_real", real)

        name = "pending"
        code = 0

        def __setattr__(self, key: str, value: Any) -> None:
            setattr(self._real, key, value)
            self._instance.__dict__["_pc_running_at"] = None

    def get_state(self: Any) -> Any:
        real = self.__dict__.get("_pc_state")
        running_at: Optional[datetime.datetime] = self.__dict__.get("_pc_running_at")
        if running_at is not None and real is not None and real.name == "running" and utcnow() < running_at:
            return PendingView(self, real)
        return real

    def set_state(self: Any, value: Any) -> None:
        self.__dict__["_pc_state"] = value

    Instance._state = property(get_state, set_state)
    original_instance_init = Instance.__init__

    def instance_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_instance_init(self, *args, **kwargs)
        self.__dict__["_pc_running_at"] = utcnow() + boot

    Instance.__init__ = instance_init

    def get_lifecycle(self: Any) -> Any:
        value = self.__dict__.get("_pc_lifecycle")
        if value == "InService" and self.instance._state.name == "pending":
            return "Pending"
        return value

    def set_lifecycle(self: Any, value: Any) -> None:
        self.__dict__["_pc_lifecycle"] = value

    GroupInstanceState.lifecycle_state = property(get_lifecycle, set_lifecycle)
