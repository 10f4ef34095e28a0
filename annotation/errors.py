"""The campaigns' errors, each with a stable code a client can branch on."""
from __future__ import annotations

from core.errors import Conflict, EarshotError, InvalidInput, NotFound, PermissionDenied, RateLimited


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    default_message = "No such campaign."


class CampaignClosed(EarshotError):
    code = "campaign_closed"
    status = 410
    default_message = "This campaign is not taking answers."


class InviteInvalid(PermissionDenied):
    code = "invite_invalid"
    default_message = "This invite link is not valid for the campaign: ask the study's organiser for a new one."


class ConsentRequired(PermissionDenied):
    code = "consent_required"
    default_message = "Read and accept the study's consent first."


class NotAMember(PermissionDenied):
    code = "not_a_member"
    default_message = "Join the campaign through its invite link first."


class LeaseLost(Conflict):
    code = "lease_lost"
    default_message = "This item is no longer yours (its time ran out or it was skipped): take the next one."


class PairComplete(Conflict):
    code = "pair_complete"
    default_message = "This pair already has all the votes it needs: take the next item."


class CampaignInvalid(InvalidInput):
    code = "campaign_invalid"
    default_message = "The campaign's settings are not valid."


class OverrideInvalid(InvalidInput):
    code = "override_invalid"
    default_message = "Not an override: use include, exclude or automatic."


class ExportInvalid(InvalidInput):
    code = "export_invalid"
    default_message = "The export's settings are not valid."


class ExportFailed(EarshotError):
    code = "export_failed"
    status = 500
    default_message = "The export failed and left nothing behind."


class ExportNotFound(NotFound):
    code = "export_not_found"
    default_message = "No such export."


class BuildRefused(InvalidInput):
    """A campaign build's options or pair list are not valid; `details["lines"]` names each bad line. Nothing was
    written."""

    code = "build_refused"
    default_message = "The campaign's pairs cannot be built from this input."


class CrowdIdTaken(PermissionDenied):
    code = "crowd_id_taken"
    default_message = (
        "This participant id already takes part in the study from a signed-in account, or this browser takes part "
        "as another participant: contact the study's organiser."
    )


class NotCompleted(Conflict):
    code = "not_completed"
    default_message = "You have not finished the study yet: the completion code comes after the last item."


class TooManyNewRaters(RateLimited):
    code = "throttled"
    default_message = "Too many new raters from your address for now: try again later."
