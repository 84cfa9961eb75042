"""Deploys Test→Production: the test instance sends its bundle, production applies it as a numbered version.

- Test (KILN_INSTANCE_ROLE=test, KILN_DEPLOY_TARGET_URL/_API_KEY): `deploy_dry_run` asks production for the diff
  of this instance's configuration against production's current version; `deploy_send` does it for real under
  the deployer's e-signature and records what was sent.
- Production (KILN_INSTANCE_ROLE=production): `deploy_receive` validates and applies the bundle in one
  transaction (deploy.services.config_import), refuses a bundle prepared against another version than its
  current one (409 with the diff: someone changed production meanwhile), and stores the configuration as it
  then stands as version N+1; `deploy_rollback` re-applies an earlier version as a new one.
Every step is audited on the instance where it happens. A target that cannot be reached is a 503 and changes
nothing anywhere: production applies all of a bundle or none of it.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.db import DatabaseError, transaction

from accounts.audit import audit_record
from accounts.signatures import signature_check, signature_input_parse, signature_record
from deploy.bundle import bundle_export, bundle_plan
from deploy.models import ConfigVersion, VersionKind
from deploy.services import config_import
from deploy.transport import TargetUnavailable, target_post
from scada.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable
from scada.roles import Role

logger = logging.getLogger(__name__)

__all__ = ["deploy_target", "require_production", "deploy_dry_run", "deploy_send", "deploy_receive",
           "deploy_rollback", "production_version", "bundle_sha256"]

PRODUCTION_KINDS = (VersionKind.RECEIVED, VersionKind.ROLLBACK)


def bundle_sha256(bundle: dict) -> str:
    """SHA-256 of a bundle's sections in canonical JSON (export time and instance name left out)."""
    text = json.dumps(bundle.get("sections", {}), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def production_version() -> int:
    """The current version of a production instance (0 before its first deploy)."""
    latest = ConfigVersion.objects.filter(kind__in=PRODUCTION_KINDS).order_by("-number").first()
    return latest.number if latest else 0


def _audit_alone(**kwargs) -> None:
    # A failed or refused deploy is recorded even though nothing else commits.
    try:
        with transaction.atomic():
            audit_record(**kwargs)
    except DatabaseError:
        logger.exception("Could not audit %s", kwargs.get("action"))


# --- the test instance ------------------------------------------------------------------------------------------

def deploy_target() -> str:
    if settings.KILN_INSTANCE_ROLE != "test" or not settings.KILN_DEPLOY_TARGET_URL:
        raise Conflict("No production target is configured on this instance: a deploy needs KILN_INSTANCE_ROLE=test "
                       "and KILN_DEPLOY_TARGET_URL (and KILN_DEPLOY_TARGET_API_KEY) in its environment")
    return settings.KILN_DEPLOY_TARGET_URL.rstrip("/")


def _answer_or_raise(answer, *, target: str, user, action: str) -> dict:
    if answer.status == 200:
        return answer.body
    detail = str(answer.body.get("detail", ""))[:2000]
    extra = {k: v for k, v in answer.body.items() if k != "detail"}
    _audit_alone(action="deploy.refused", user=user, object_type="deploy", object_id=target,
                 new_value={"status": answer.status, "step": action}, reason=detail[:1000])
    if answer.status == 409:
        raise Conflict(f"Production refused the deploy: {detail}", extra=extra)
    if answer.status in (400, 422):
        raise Unprocessable(f"Production refused the bundle: {detail}", extra=extra)
    if answer.status in (401, 403):
        raise ServiceUnavailable(f"Production at {target} refused this instance's API key ({answer.status}: "
                                 f"{detail}); check KILN_DEPLOY_TARGET_API_KEY (an Admin account's key)")
    raise ServiceUnavailable(f"Production at {target} answered {answer.status}: {detail}")


def _post(payload: dict, *, target: str, user, action: str) -> dict:
    try:
        answer = target_post(payload)
    except TargetUnavailable as exc:
        _audit_alone(action="deploy.failed", user=user, object_type="deploy", object_id=target,
                     new_value={"step": action}, reason=str(exc)[:1000])
        raise ServiceUnavailable(f"{exc}. Nothing was deployed.")
    return _answer_or_raise(answer, target=target, user=user, action=action)


def deploy_dry_run(*, user) -> dict:
    """Production's diff of this instance's configuration against its current version (changes nothing)."""
    target = deploy_target()
    bundle = bundle_export()
    answer = _post({"dry_run": True, "bundle": bundle, "source": settings.KILN_INSTANCE_NAME}, target=target,
                   user=user, action="dry_run")
    _audit_alone(action="deploy.dry_run", user=user, object_type="deploy", object_id=target,
                 new_value={"version": answer.get("version"), "changes": answer.get("changes")})
    return {**answer, "target": target}


def _last_sent_version() -> int:
    last = ConfigVersion.objects.filter(kind=VersionKind.SENT).order_by("-id").first()
    return last.number if last else 0


def deploy_send(*, user, signature, comment: str = "", base_version: int | None = None) -> dict:
    """Send this instance's configuration to production under the deployer's e-signature.

    `base_version`: the production version the deployer reviewed (the dry run's `version`); by default the one
    this instance last deployed. Production answers its new version number; it is recorded here as `sent`.
    """
    target = deploy_target()
    fields = signature_input_parse(signature)
    bundle = bundle_export()
    digest = bundle_sha256(bundle)
    base = _last_sent_version() if base_version is None else base_version
    grant = signature_check(signer=user, password=fields["password"], meaning=fields["meaning"],
                            reason=fields["reason"], object_type="config.deploy", object_id=target,
                            content={"bundle_sha256": digest, "target": target, "base_version": base},
                            min_role=Role.ENGINEER, purpose="e-signature on a deploy to production")
    payload = {"bundle": bundle, "base_version": base, "comment": comment, "deployed_by": grant.signer.username,
               "source": settings.KILN_INSTANCE_NAME,
               "signature": {"signer": grant.signer.username, "printed_name": grant.printed_name,
                             "meaning": grant.meaning, "reason": grant.reason,
                             "signed_at": grant.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "content_hash": grant.content_hash}}
    answer = _post(payload, target=target, user=user, action="deploy")
    with transaction.atomic():
        signed = signature_record(grant=grant)
        version = ConfigVersion.objects.create(
            number=int(answer.get("version") or 0), kind=VersionKind.SENT, deployed_by=grant.signer.username,
            source=settings.KILN_INSTANCE_NAME, target=target, comment=comment[:1000], base_version=base,
            changes=int(answer.get("changes") or 0), summary=str(answer.get("detail", ""))[:2000],
            diff={k: answer.get(k) for k in ("changes", "detail", "sections")}, bundle=bundle,
            bundle_sha256=digest, signature={**payload["signature"], "signature_id": signed.pk})
        audit_record(action="deploy.send", user=user, object_type="deploy", object_id=target,
                     new_value={"version": version.number, "changes": version.changes, "bundle_sha256": digest,
                                "base_version": base}, reason=comment[:1000])
    return {**answer, "target": target}


# --- the production instance ------------------------------------------------------------------------------------

def require_production() -> None:
    if settings.KILN_INSTANCE_ROLE != "production":
        raise Conflict(f"This instance is not a production instance (KILN_INSTANCE_ROLE="
                       f"'{settings.KILN_INSTANCE_ROLE}'): it neither receives deploys nor rolls back")


def _new_version(*, kind, user, result: dict, deployed_by: str, source: str, comment: str,
                 base_version: int | None, signature: dict, rolled_back_to: int | None = None) -> ConfigVersion:
    # The whole configuration as it now stands (not the bundle received, which may leave sections out): a
    # rollback to this version restores exactly this.
    current = bundle_export()
    number = production_version() + 1
    version = ConfigVersion.objects.create(
        number=number, kind=kind, deployed_by=deployed_by[:150], source=source[:200], comment=comment[:1000],
        base_version=base_version, rolled_back_to=rolled_back_to, changes=result["changes"],
        summary=result["detail"][:2000], diff={k: result[k] for k in ("changes", "detail", "sections")},
        bundle=current, bundle_sha256=bundle_sha256(current), signature=signature)
    audit_record(action=f"deploy.{'rollback' if kind == VersionKind.ROLLBACK else 'receive'}", user=user,
                 object_type="deploy", object_id=f"v{number}",
                 new_value={"version": number, "changes": result["changes"], "deployed_by": deployed_by,
                            "source": source, "base_version": base_version, "rolled_back_to": rolled_back_to,
                            "bundle_sha256": version.bundle_sha256}, reason=comment[:1000])
    return version


def _signature_info(signature) -> dict:
    # What the test instance says about its signature is stored as information: known keys, short plain text.
    if not isinstance(signature, dict):
        return {}
    keys = ("signer", "printed_name", "meaning", "reason", "signed_at", "content_hash")
    return {k: v[:1000] for k in keys if isinstance(v := signature.get(k), str) and "\x00" not in v
            and v.encode("utf-8", "replace").decode("utf-8") == v}


def deploy_receive(*, user, bundle, dry_run: bool = False, base_version: int | None = None, comment: str = "",
                   deployed_by: str = "", source: str = "", signature: dict | None = None) -> dict:
    """Production's side of a deploy: the diff (dry run), or the bundle applied as the next version."""
    require_production()
    if dry_run:
        return {**bundle_plan(bundle).diff(), "applied": False, "version": production_version()}
    if base_version is None:
        raise BadRequest("base_version: this field is required (the version the deploy was prepared against)")
    with transaction.atomic():
        # One deploy at a time: the latest version row is locked; the unique number catches a first-ever race.
        list(ConfigVersion.objects.select_for_update().filter(kind__in=PRODUCTION_KINDS).order_by("-number")[:1])
        current = production_version()
        if base_version != current:
            diff = bundle_plan(bundle).diff()
            raise Conflict(f"Production is at version {current}, this deploy was prepared against version "
                           f"{base_version}: production changed meanwhile. Review the diff (dry run) and deploy again.",
                           extra={"version": current, "changes": diff["changes"], "sections": diff["sections"]})
        who = deployed_by or getattr(user, "username", "")
        result = config_import(bundle=bundle, user=user, source=f"deploy from {source or '?'}",
                               reason=f"deploy by {who} from {source or '?'}: {comment}"[:1000])
        version = _new_version(kind=VersionKind.RECEIVED, user=user, result=result, deployed_by=who, source=source,
                               comment=comment, base_version=base_version, signature=_signature_info(signature))
    return {**result, "version": version.number}


def deploy_rollback(*, user, version: int, signature, comment: str = "") -> dict:
    """Re-apply production version `version` (under the caller's e-signature) as a new version."""
    require_production()
    target = ConfigVersion.objects.filter(kind__in=PRODUCTION_KINDS, number=version).first()
    if target is None:
        raise NotFound(f"No version {version} on this instance")
    fields = signature_input_parse(signature)
    grant = signature_check(signer=user, password=fields["password"], meaning=fields["meaning"],
                            reason=fields["reason"], object_type="config.rollback", object_id=version,
                            content={"version": version, "bundle_sha256": target.bundle_sha256},
                            min_role=Role.ENGINEER, purpose=f"e-signature on a rollback to version {version}")
    with transaction.atomic():
        list(ConfigVersion.objects.select_for_update().filter(kind__in=PRODUCTION_KINDS).order_by("-number")[:1])
        result = config_import(bundle=target.bundle, user=user, source=f"rollback to v{version}",
                               reason=f"rollback to version {version}: {comment}"[:1000])
        signed = signature_record(grant=grant)
        new = _new_version(kind=VersionKind.ROLLBACK, user=user, result=result, deployed_by=grant.signer.username,
                           source=settings.KILN_INSTANCE_NAME, comment=comment, base_version=None,
                           rolled_back_to=version,
                           signature={"signer": grant.signer.username, "printed_name": grant.printed_name,
                                      "meaning": grant.meaning, "reason": grant.reason, "signature_id": signed.pk,
                                      "signed_at": grant.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return {**result, "version": new.number, "rolled_back_to": version}
