"""Satisfaction surveys: CSAT after a solve, NPS on request; signed tokens and answer rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import jwt

from crmkit.errors import (
    MULTI_LINE_CONTROL,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Validator,
)
from services.support.domain.tickets import MAX_ID

CSAT, NPS = "CSAT", "NPS"
SCORES = {CSAT: range(1, 6), NPS: range(0, 11)}
VALIDITY = dt.timedelta(days=30)
MAX_COMMENT = 2000
ISSUER, AUDIENCE, ALGORITHM = "crm-support", "crm-survey", "HS256"


@dataclass(frozen=True)
class Answer:
    score: int
    comment: str
    response_time: dt.datetime


@dataclass(frozen=True)
class Survey:
    id: str
    tenant_id: str
    kind: str
    requester_id: str
    ticket_id: str
    agent_id: str
    group_id: str
    create_time: dt.datetime
    expire_time: dt.datetime
    answer: Answer | None = None


@dataclass(frozen=True)
class Claims:
    tenant_id: str
    survey_id: str
    ticket_id: str


def new_survey(
    survey_id: str,
    tenant_id: str,
    kind: str,
    requester_id: str,
    now: dt.datetime,
    ticket_id: str = "",
    agent_id: str = "",
    group_id: str = "",
) -> Survey:
    check = Validator()
    requester_id = check.identifier("requester_id", requester_id, MAX_ID)
    if not requester_id:
        check.add("requester_id", "is required (the contact to ask)")
    if kind not in SCORES:
        check.add("kind", "must be CSAT or NPS")
    check.raise_if_any()
    return Survey(survey_id, tenant_id, kind, requester_id, ticket_id, agent_id, group_id, now, now + VALIDITY)


def sign(survey: Survey, secret: str) -> str:
    """The link token: the survey's tenant, id and ticket, and its expiry, signed with HMAC-SHA256."""
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "tid": survey.tenant_id,
        "sid": survey.id,
        "tkt": survey.ticket_id,
        "iat": int(survey.create_time.timestamp()),
        "exp": int(survey.expire_time.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str, secret: str, now: dt.datetime) -> Claims:
    """The claims of a token this deployment signed; INVALID_ARGUMENT (token) for anything else,
    FAILED_PRECONDITION once it expired."""
    if not token.strip():
        raise InvalidArgument.of([_token_violation("is required")])
    try:
        claims = jwt.decode(
            token.strip(),
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "tid", "sid"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise InvalidArgument.of([_token_violation("is not a valid survey token")]) from None
    tenant, survey_id, ticket_id = claims.get("tid"), claims.get("sid"), claims.get("tkt", "")
    if not all(isinstance(v, str) for v in (tenant, survey_id, ticket_id)) or not tenant or not survey_id:
        raise InvalidArgument.of([_token_violation("is not a valid survey token")])
    if not isinstance(claims["exp"], int) or now.timestamp() >= claims["exp"]:
        raise FailedPrecondition("this survey has expired")
    return Claims(tenant, survey_id, ticket_id)


def answer(survey: Survey, score: int | None, comment: str, now: dt.datetime) -> tuple[Survey, bool]:
    """The survey with its answer, and whether it is new. The same answer again is a retry
    (unchanged, not new); a different one is refused: a survey is answered once."""
    check = Validator()
    allowed = SCORES[survey.kind]
    if score is None:
        check.add("score", "is required")
    elif score not in allowed:
        check.add("score", f"must be {allowed.start} to {allowed.stop - 1} for {survey.kind}")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT or MULTI_LINE_CONTROL.search(comment):
        check.add("comment", f"must be text of at most {MAX_COMMENT} characters")
    check.raise_if_any()
    assert score is not None
    if survey.answer is not None:
        if (survey.answer.score, survey.answer.comment) == (score, comment):
            return survey, False
        raise AlreadyExists(f"survey {survey.id} was already answered")
    if now >= survey.expire_time:
        raise FailedPrecondition("this survey has expired")
    return replace(survey, answer=Answer(score, comment, now)), True


def _token_violation(description: str) -> FieldViolation:
    return FieldViolation("token", description)
