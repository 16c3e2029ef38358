"""Typed errors of the SMART app, each rendered once as an HTML page (see `views.handle_smart_error`).

Every page says what went wrong and what to do next (usually: relaunch the app
from the patient's chart). All values are HTML-escaped by Jinja; nothing here
is ever used to build a redirect.
"""

from __future__ import annotations

RELAUNCH = "Close this window and open the app again from the patient's chart."


class SmartError(Exception):
    """An error page: HTTP status, a short title, an explanation and the next step."""

    def __init__(self, status: int, code: str, title: str, message: str, next_step: str = RELAUNCH) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code  # stable, for tests and logs
        self.title = title
        self.message = message
        self.next_step = next_step

    @classmethod
    def unknown_iss(cls, iss: str) -> SmartError:
        return cls(
            400,
            "unknown_iss",
            "This FHIR server is not registered",
            f"The app was launched from {iss!r}, which is not on this installation's list of FHIR servers.",
            "Launch the app from a registered EHR, or ask your administrator to register this server.",
        )

    @classmethod
    def missing_launch_params(cls, missing: list[str]) -> SmartError:
        return cls(
            400,
            "missing_launch_parameters",
            "The launch is incomplete",
            "The EHR did not send " + " and ".join(missing) + ", which an EHR launch needs.",
        )

    @classmethod
    def discovery(cls, iss: str, why: str) -> SmartError:
        return cls(
            502,
            "discovery_failed",
            "The EHR's sign-in settings could not be read",
            f"Reading the SMART configuration of {iss} failed: {why}.",
            "Try again in a minute. If it keeps failing, tell your EHR administrator.",
        )

    @classmethod
    def client_auth_unsupported(cls, iss: str, ours: str, theirs: str, change: str) -> SmartError:
        """The server says it will refuse how we authenticate: stopped before the user signs in in vain."""
        return cls(
            502,
            "client_auth_unsupported",
            "The app's sign-in settings do not match the EHR's",
            f"This app is set up to authenticate to {iss} with {ours}, "
            f"but the EHR's SMART configuration accepts only these {theirs}.",
            f"Tell your EHR administrator, who should {change}",
        )

    @classmethod
    def bad_state(cls) -> SmartError:
        return cls(
            400,
            "invalid_state",
            "This sign-in could not be completed",
            "The sign-in response is unknown, has expired, was already used, "
            "or was started in another browser window.",
        )

    @classmethod
    def no_browser_cookie(cls) -> SmartError:
        return cls(
            400,
            "missing_browser_cookie",
            "This sign-in could not be completed",
            "Your browser did not send back the cookie this app set when it started the sign-in "
            "(some browsers block cookies for apps embedded in the EHR).",
        )

    @classmethod
    def authorization_denied(cls, error: str, description: str | None) -> SmartError:
        detail = f" ({description})" if description else ""
        return cls(
            403,
            "authorization_denied",
            "Access was not granted",
            f"The EHR's authorization server answered {error!r}{detail}. The app cannot show this patient.",
        )

    @classmethod
    def issuer_mismatch(cls) -> SmartError:
        return cls(
            400,
            "issuer_mismatch",
            "This sign-in could not be completed",
            "The sign-in response names a different authorization server than the one the app contacted.",
        )

    @classmethod
    def token_failed(cls, why: str) -> SmartError:
        return cls(
            502, "token_request_failed", "Sign-in failed", f"The EHR did not issue an access token: {why}."
        )

    @classmethod
    def no_patient(cls) -> SmartError:
        return cls(
            400,
            "no_patient_in_context",
            "No patient selected",
            "The EHR did not say which patient the app is for. "
            "This app only works for one patient at a time.",
            "Open a patient's chart and launch the app from there.",
        )

    @classmethod
    def invalid_patient(cls) -> SmartError:
        return cls(
            502,
            "invalid_patient_id",
            "The patient could not be opened",
            "The EHR named the patient with an id that is not a valid FHIR id, "
            "so the app cannot read this patient's record.",
            "Tell your EHR administrator. You can try opening the app again from the patient's chart.",
        )

    @classmethod
    def id_token_invalid(cls, why: str) -> SmartError:
        return cls(
            502, "id_token_invalid", "Sign-in failed", f"The EHR's identity token was not valid: {why}."
        )

    @classmethod
    def session_expired(cls) -> SmartError:
        return cls(
            401,
            "session_expired",
            "This app session has ended",
            "The session has expired, or this page belongs to another browser window.",
        )

    @classmethod
    def fhir_unauthorized(cls) -> SmartError:
        return cls(
            401,
            "fhir_unauthorized",
            "The EHR no longer accepts this session",
            "The FHIR server refused the app's access token, even after renewing it.",
        )

    @classmethod
    def fhir_forbidden(cls) -> SmartError:
        return cls(
            403,
            "fhir_forbidden",
            "Not allowed",
            "The FHIR server refused this request for the current user and patient.",
            "Ask your EHR administrator about the app's permissions, then relaunch from the chart.",
        )

    @classmethod
    def fhir_unavailable(cls, why: str) -> SmartError:
        return cls(
            502,
            "fhir_unavailable",
            "The EHR's data service is not answering",
            f"Reading the patient's data failed: {why}.",
            "Use Refresh to try again in a minute. If it keeps failing, relaunch from the chart.",
        )
