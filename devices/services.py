"""Device services for seed 004: tag writes through a device, and operator commands with preconditions.

A command (tags.models.DeviceCommand) runs in this order, and stops at the first step that fails:

1. the caller's role against the command's `min_role` (403);
2. its parameters against the command's definition: missing or unknown names → 400, wrong type or out of
   range → 422 (`command_parameters_validate`);
3. its preconditions, evaluated by tags.expressions on the live values → 409 PRECONDITION_FAILED listing each
   failed condition, its result and its reason (a tag that is unknown, has no value or has BAD quality fails
   the condition that reads it: an interlock never passes on data Kiln does not have);
4. every action's write checked in full (tags.services.tag_write_check: writability, write role, limits,
   e-signature) before the first one is made, so a bad action writes nothing;
5. a `device.command_attempt` record committed before the first write (503, nothing written, if it cannot be);
6. its actions, each a tag write through tags.services.tag_write_apply (source "command"), each with its own
   attempt and outcome records;
7. one audit record `device.command` whose id is the `auditId` of the response.

Refused, rejected and failed commands are audited too (status "refused" / "rejected" / "failed" in the record).
NUL characters in the parameters, the signature or the reason are refused (400) before anything else.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

import redis
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from devices.selectors import member_name, tag_live_context
from scada.errors import BadRequest, Conflict, KilnError, NotFound, PermissionDenied, Unprocessable
from scada.extensions import extension_backend
from scada.redis import get_redis
from scada.roles import Role
from tags.choices import DataType
from tags.expressions import ExpressionError
from tags.expressions import compile as compile_expression
from tags.live import live_get_many
from tags.models import DeviceCommand, Machine, Tag
from tags.services import WriteResult, WriteUnavailable, has_nul, tag_write, tag_write_apply, tag_write_check

logger = logging.getLogger(__name__)

__all__ = [
    "PreconditionFailed",
    "CommandMisconfigured",
    "CommandResult",
    "device_active_alarms",
    "device_tag_write",
    "device_command_get",
    "device_command_execute",
    "command_parameters_validate",
    "command_definition_problems",
]

EXPRESSION_NAMESPACES = frozenset({"tags", "params"})
MAX_STRING_PARAMETER = 1000
# One command per device at a time: the preconditions are checked and the actions run as one step, so two
# operators pressing Start together cannot both pass "not running".
COMMAND_LOCK_SECONDS = 60
COMMAND_LOCK_WAIT_SECONDS = 10
_LOCK_KEY = "kiln:lock:devicecmd:{}"


class PreconditionFailed(Conflict):
    """409: one or more preconditions are not met; `extra["details"]` lists each failed condition."""

    error_code = "PRECONDITION_FAILED"
    default_detail = "Command preconditions not met"


class CommandMisconfigured(KilnError):
    """The command's definition cannot be executed as configured (an engineer must fix the device type)."""

    status_code = 500
    error_code = "COMMAND_MISCONFIGURED"


class InvalidParameters(BadRequest):
    error_code = "INVALID_PARAMETERS"


class InvalidParameterValue(Unprocessable):
    error_code = "INVALID_PARAMETER_VALUE"


@dataclass(slots=True)
class CommandResult:
    """An executed command: who ran it and when, the writes its actions made, and its audit record id."""

    command_id: str
    device_id: str
    executed_by: str
    executed_at: datetime
    audit_id: int
    writes: list[WriteResult] = field(default_factory=list)


# --- active alarms, filled by the alarms app ------------------------------------------------------------------

def device_active_alarms(machine: Machine) -> list[dict]:
    """The device's active alarms from settings.KILN_DEVICE_ALARMS_PROVIDER (none when it is empty).

    The provider is `fn(machine)` returning seed 004 alarm dicts (alarms.selectors.device_alarms). If it fails,
    the failure is logged and the device shows no alarms.
    """
    provider = extension_backend("KILN_DEVICE_ALARMS_PROVIDER")
    if provider is None:
        return []
    try:
        return list(provider(machine) or [])
    except Exception:
        # The device page must still show its tags when the alarm lookup breaks.
        logger.exception("Active alarms provider %r failed for device %s", provider, machine.machine_id)
        return []


# --- tag writes ----------------------------------------------------------------------------------------------

def device_tag_write(*, tag: Tag, value, user, signature: dict | None = None, reason: str = "") -> WriteResult:
    """PUT .../devices/{deviceId}/tags/{tagName}: the one tag write service, marked as coming from the device API.

    The route admits Operators; the tag's own write role, limits and e-signature are enforced by tag_write.
    """
    return tag_write(tag=tag, value=value, user=user, signature=signature, reason=reason, source="api.device")


# --- command definitions -------------------------------------------------------------------------------------

def _param_type(name: str, definition) -> str:
    kind = str(definition.get("type") or DataType.REAL).upper()
    if kind not in DataType.values:
        raise CommandMisconfigured(f"Parameter '{name}' has unknown type {definition.get('type')!r}")
    return kind


def _precondition_entries(command: DeviceCommand) -> list[tuple[str, str]]:
    raw = command.preconditions or []
    if not isinstance(raw, list):
        raise CommandMisconfigured(f"Preconditions of command '{command.command_id}' must be a list")
    out = []
    for entry in raw:
        if isinstance(entry, str):
            out.append((entry, f"Condition {entry} is not met"))
        elif isinstance(entry, dict) and isinstance(entry.get("condition"), str):
            out.append((entry["condition"], str(entry.get("reason") or f"Condition {entry['condition']} is not met")))
        else:
            raise CommandMisconfigured(f"Precondition {entry!r} of command '{command.command_id}' must be a string or "
                                       "{\"condition\": ..., \"reason\": ...}")
    return out


def _action_entries(command: DeviceCommand) -> list[tuple[str, object]]:
    raw = command.actions or []
    if not isinstance(raw, list):
        raise CommandMisconfigured(f"Actions of command '{command.command_id}' must be a list")
    out = []
    for entry in raw:
        if not (isinstance(entry, dict) and isinstance(entry.get("write"), str) and "value" in entry):
            raise CommandMisconfigured(f"Action {entry!r} of command '{command.command_id}' must be "
                                       "{\"write\": \"<member>\", \"value\": <literal or 'expression'>}")
        out.append((entry["write"], entry["value"]))
    return out


def command_definition_problems(*, command: DeviceCommand, members: set[str] | None = None) -> list[str]:
    """Everything wrong with a command's definition, one line each (empty when it can run).

    For the admin and for tests: parameters well formed, every precondition and action expression compiles,
    reads only {tags.*} and {params.*} that exist, and every action writes a member of the device type.
    """
    problems: list[str] = []
    if members is None:
        members = set(command.device_type.member_tags.values_list("member", flat=True))
    params = command.parameters or {}
    if not isinstance(params, dict):
        return ["parameters must be an object of {name: definition}"]
    for name, definition in params.items():
        if not isinstance(definition, dict):
            problems.append(f"parameter '{name}': its definition must be an object")
            continue
        try:
            _param_type(name, definition)
        except CommandMisconfigured as exc:
            problems.append(exc.detail)
    texts: list[tuple[str, str]] = []
    try:
        texts += [(f"precondition {c!r}", c) for c, _ in _precondition_entries(command)]
    except CommandMisconfigured as exc:
        problems.append(exc.detail)
    try:
        for target, value in _action_entries(command):
            if target not in members:
                problems.append(f"action writes '{target}', which is no member of {command.device_type}")
            if isinstance(value, str):
                texts.append((f"action value for '{target}'", value))
    except CommandMisconfigured as exc:
        problems.append(exc.detail)
    for where, text in texts:
        try:
            expr = compile_expression(text, namespaces=EXPRESSION_NAMESPACES)
        except ExpressionError as exc:
            problems.append(f"{where}: {exc}")
            continue
        problems += [f"{where}: unknown tag '{n}'" for n in sorted(expr.names("tags") - members)]
        problems += [f"{where}: unknown parameter '{n}'" for n in sorted(expr.names("params") - set(params))]
    return problems


def device_command_get(*, machine: Machine, command_id: str) -> DeviceCommand:
    command = None
    if machine.device_type_id is not None:
        command = DeviceCommand.objects.filter(device_type_id=machine.device_type_id, command_id=command_id).first()
    if command is None:
        raise NotFound(f"Command '{command_id}' not found on device '{machine.machine_id}'")
    return command


def _check_parameter_value(name: str, kind: str, definition: dict, value):
    """The value as the parameter's type, within its limits and choices; an error message otherwise."""
    if kind == DataType.BOOL:
        if not isinstance(value, bool):
            return None, f"Parameter '{name}' must be a boolean, got {value!r}"
    elif kind in (DataType.INT, DataType.REAL):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"Parameter '{name}' must be a number, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"Parameter '{name}' must be a finite number"
        if kind == DataType.INT:
            if isinstance(value, float) and not value.is_integer():
                return None, f"Parameter '{name}' must be a whole number, got {value!r}"
            value = int(value)
        else:
            value = float(value)
        try:
            lo, hi = (None if definition.get(k) is None else float(definition[k]) for k in ("min", "max"))
        except (TypeError, ValueError):
            raise CommandMisconfigured(f"Parameter '{name}' has a non-numeric min or max")
        if hi is not None and value > hi:
            return None, f"Parameter '{name}' value {value!r} exceeds maximum of {hi!r}"
        if lo is not None and value < lo:
            return None, f"Parameter '{name}' value {value!r} is below minimum of {lo!r}"
    else:
        if not isinstance(value, str):
            return None, f"Parameter '{name}' must be a string, got {value!r}"
        limit = int(definition.get("max_length") or MAX_STRING_PARAMETER)
        if len(value) > limit:
            return None, f"Parameter '{name}' is longer than {limit} characters"
    choices = definition.get("choices")
    if isinstance(choices, list) and value not in choices:
        return None, f"Parameter '{name}' must be one of {choices!r}, got {value!r}"
    return value, None


def command_parameters_validate(*, command: DeviceCommand, parameters) -> dict:
    """The parameters checked against the command's definition, typed, with defaults filled in.

    400 for a body that is not an object, unknown names and missing required ones (all listed in `details`);
    422 for a wrong type or a value out of range or not among the choices (all listed too). A parameter is
    required unless its definition says `"required": false` or gives a `"default"`.
    """
    spec = command.parameters or {}
    if not isinstance(spec, dict):
        raise CommandMisconfigured(f"Parameters of command '{command.command_id}' are misconfigured")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise InvalidParameters("parameters must be an object of {name: value}")
    details = []
    for name in parameters:
        if name not in spec:
            expected = ", ".join(sorted(spec)) or "none"
            details.append({"parameter": name, "message": f"Unknown parameter '{name}' for command "
                                                          f"'{command.command_id}' (expected: {expected})"})
    for name, definition in spec.items():
        if name not in parameters and isinstance(definition, dict) and "default" not in definition \
                and definition.get("required", True):
            details.append({"parameter": name, "message": f"Missing required parameter '{name}' for command "
                                                          f"'{command.command_id}'"})
    if details:
        raise InvalidParameters("; ".join(d["message"] for d in details), extra={"details": details})

    clean: dict = {}
    for name, definition in spec.items():
        if not isinstance(definition, dict):
            raise CommandMisconfigured(f"Parameter '{name}' of command '{command.command_id}' is misconfigured")
        kind = _param_type(name, definition)
        if name not in parameters:
            if "default" in definition:
                clean[name] = definition["default"]
            continue
        value, problem = _check_parameter_value(name, kind, definition, parameters[name])
        if problem:
            details.append({"parameter": name, "message": problem})
        else:
            clean[name] = value
    if details:
        raise InvalidParameterValue("; ".join(d["message"] for d in details), extra={"details": details})
    return clean


# --- execution -----------------------------------------------------------------------------------------------

def _evaluate_preconditions(command: DeviceCommand, context: dict, tags_by_member: dict[str, Tag],
                            live: dict) -> list[dict]:
    """Every precondition with its result; a condition that cannot be evaluated counts as not met."""
    results = []
    for text, reason in _precondition_entries(command):
        try:
            expr = compile_expression(text, namespaces=EXPRESSION_NAMESPACES)
            # Every tag the condition names must be known and have a usable value, even on a branch that a
            # short-circuit would skip: an interlock is judged on all its inputs.
            for name in sorted(expr.names("tags")):
                tag = tags_by_member.get(name)
                if tag is None:
                    raise ExpressionError(f"Unknown tag '{name}' in {{tags.{name}}}")
                if name not in context["tags"]:
                    lv = live.get(tag.pk)
                    if lv is None or lv.value is None:
                        raise ExpressionError(f"{{tags.{name}}} has no value")
                    sub = f" ({lv.substatus})" if lv.substatus else ""
                    raise ExpressionError(f"{{tags.{name}}} has BAD quality{sub}")
            met = expr.evaluate_condition(context)
        except ExpressionError as exc:
            results.append({"condition": text, "result": False, "reason": f"Cannot evaluate: {exc}"})
            continue
        results.append({"condition": text, "result": met, "reason": None if met else reason})
    return results


def _resolve_actions(command: DeviceCommand, context: dict, tags_by_member: dict[str, Tag]) -> list[tuple[Tag, object]]:
    """Each action's target tag and value, all worked out before the first write, so a bad one writes nothing."""
    planned = []
    for target, raw in _action_entries(command):
        tag = tags_by_member.get(target)
        if tag is None:
            raise CommandMisconfigured(f"Command '{command.command_id}' writes '{target}', which this device lacks")
        if isinstance(raw, str):
            try:
                value = compile_expression(raw, namespaces=EXPRESSION_NAMESPACES).evaluate(context)
            except ExpressionError as exc:
                raise CommandMisconfigured(f"Command '{command.command_id}': the value for '{target}' cannot be "
                                           f"evaluated: {exc}")
        else:
            value = raw
        planned.append((tag, value))
    return planned


def _audit_command(*, user, machine: Machine, command: DeviceCommand, status: str, parameters: dict,
                   preconditions: list[dict], writes: list[WriteResult], reason: str, error: str | None = None,
                   action: str = "device.command"):
    new_value = {
        "command": command.command_id,
        "device": machine.machine_id,
        "status": status,
        "parameters": parameters,
        "preconditions": preconditions,
        "writes": [{"tag": w.tag.name, "value": w.value, "previous": w.previous_value, "auditId": str(w.audit_id)}
                   for w in writes],
    }
    if error is not None:
        new_value["error"] = error
    with transaction.atomic():
        return audit_record(action=action, user=user, object_type="machine", object_id=machine.machine_id,
                            new_value=new_value, reason=reason)


def _audit_command_quietly(**kw) -> None:
    # A refusal or failure record: the error that caused it is what the caller must see, even if the audit
    # trail is down too (nothing was, or nothing more will be, acted on).
    try:
        _audit_command(**kw)
    except DatabaseError:
        logger.exception("Could not audit command %s (%s)", kw["command"].command_id, kw["status"])


def _refuse_nul(*, parameters, signature, reason) -> None:
    if has_nul(parameters):
        raise InvalidParameters("parameters contain a NUL character (\\u0000)")
    if has_nul(signature):
        raise BadRequest("signature contains a NUL character (\\u0000)")
    if has_nul(reason):
        raise BadRequest("reason contains a NUL character (\\u0000)")


def _acquire_command_lock(machine: Machine):
    try:
        lock = get_redis().lock(_LOCK_KEY.format(machine.pk), timeout=COMMAND_LOCK_SECONDS,
                                blocking_timeout=COMMAND_LOCK_WAIT_SECONDS)
        acquired = lock.acquire()
    except redis.RedisError as exc:
        raise WriteUnavailable(f"Commands are unavailable (Redis: {exc}); try again shortly.") from exc
    if not acquired:
        raise Conflict(f"Another command on device '{machine.machine_id}' is still running; try again")
    return lock


def device_command_execute(*, machine: Machine, command_id: str, user, parameters=None,
                           signature: dict | None = None, reason: str = "") -> CommandResult:
    """Run an operator command on a device (see the module docstring for the steps). Raises KilnError.

    Not one atomic block, on purpose: each action is a tag write that may reach a PLC and commits its own audit
    records (and the attempt must be on record before the PLC is touched). Every action is checked before the
    first is written; a write that still fails part-way (the PLC) is never hidden by a rollback: the command is
    audited as "failed" with the writes that did happen, and the error is raised.
    """
    command = device_command_get(machine=machine, command_id=command_id)
    params = parameters if isinstance(parameters, dict) else {}
    try:
        _refuse_nul(parameters=parameters, signature=signature, reason=reason)
        if getattr(user, "role", None) is None or user.role < command.min_role:
            raise PermissionDenied(f"Command '{command.command_id}' requires the {Role(command.min_role).label} "
                                   "role or higher")
        params = command_parameters_validate(command=command, parameters=parameters)
    except KilnError as exc:
        shown = {k: v for k, v in params.items() if isinstance(k, str) and not has_nul(k) and not has_nul(v)}
        _audit_command_quietly(user=user, machine=machine, command=command, status="refused", parameters=shown,
                               preconditions=[], writes=[], reason="" if has_nul(reason) else (reason or "")[:1000],
                               error=exc.detail)
        raise
    reason = (reason or "")[:1000]

    lock = _acquire_command_lock(machine)
    try:
        tags = list(Tag.objects.select_related("machine").filter(machine=machine))
        tags_by_member = {member_name(t): t for t in tags}
        live = live_get_many([t.pk for t in tags])
        context = {"tags": tag_live_context(tags, live), "params": params}

        checks = _evaluate_preconditions(command, context, tags_by_member, live)
        failed = [c for c in checks if not c["result"]]
        if failed:
            _audit_command_quietly(user=user, machine=machine, command=command, status="rejected",
                                   parameters=params, preconditions=checks, writes=[], reason=reason)
            raise PreconditionFailed(extra={"details": failed})

        audit = dict(user=user, machine=machine, command=command, parameters=params, preconditions=checks,
                     reason=reason)
        try:
            planned = _resolve_actions(command, context, tags_by_member)
            # Every write checked before the first is made: a bad action (role, limits, signature) writes nothing.
            plans = [tag_write_check(tag=tag, value=value, user=user, signature=signature,
                                     reason=reason or f"command {command.command_id}", source="command")
                     for tag, value in planned]
        except KilnError as exc:
            _audit_command_quietly(**audit, status="refused", writes=[], error=exc.detail)
            raise
        try:
            _audit_command(**audit, status="started", writes=[], action="device.command_attempt")
        except DatabaseError as exc:
            logger.exception("Audit trail unavailable: command %s on %s refused", command.command_id,
                             machine.machine_id)
            raise WriteUnavailable(f"Command '{command.command_id}' was not run: its audit record could not be "
                                   f"stored ({type(exc).__name__}); try again shortly") from exc
        writes: list[WriteResult] = []
        for plan in plans:
            try:
                writes.append(tag_write_apply(plan=plan, user=user))
            except KilnError as exc:
                _audit_command_quietly(**audit, status="failed", writes=writes, error=f"{plan.tag.name}: {exc.detail}")
                if writes:
                    done = ", ".join(w.tag.name for w in writes)
                    exc.detail = f"{exc.detail} (command '{command.command_id}' stopped; already written: {done})"
                raise
        try:
            record = _audit_command(**audit, status="executed", writes=writes)
        except DatabaseError as exc:
            logger.exception("Could not audit executed command %s on %s", command.command_id, machine.machine_id)
            raise WriteUnavailable(f"Command '{command.command_id}' was executed, but its outcome could not be "
                                   "recorded (its attempt and each write are on record); check the device before "
                                   "running it again") from exc
    finally:
        try:
            lock.release()
        except (redis.RedisError, redis.exceptions.LockError):
            logger.warning("Command lock for device %s expired before it was released", machine.machine_id)
    return CommandResult(command_id=command.command_id, device_id=machine.machine_id,
                         executed_by=getattr(user, "username", "") or "", executed_at=record.ts or timezone.now(),
                         audit_id=record.pk, writes=writes)
