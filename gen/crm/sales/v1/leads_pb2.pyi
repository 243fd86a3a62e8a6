import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Lead(_message.Message):
    __slots__ = ("id", "given_name", "family_name", "email", "phone", "company", "title", "source", "country", "industry", "company_size", "custom_attributes", "status", "score", "owner_id", "contact_id", "account_id", "opportunity_id", "create_time", "update_time", "etag", "history")
    ID_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    COMPANY_SIZE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    id: str
    given_name: str
    family_name: str
    email: str
    phone: str
    company: str
    title: str
    source: str
    country: str
    industry: str
    company_size: str
    custom_attributes: _struct_pb2.Struct
    status: str
    score: int
    owner_id: str
    contact_id: str
    account_id: str
    opportunity_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    history: _containers.RepeatedCompositeFieldContainer[LeadHistoryEntry]
    def __init__(self, id: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., company: _Optional[str] = ..., title: _Optional[str] = ..., source: _Optional[str] = ..., country: _Optional[str] = ..., industry: _Optional[str] = ..., company_size: _Optional[str] = ..., custom_attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[str] = ..., score: _Optional[int] = ..., owner_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., history: _Optional[_Iterable[_Union[LeadHistoryEntry, _Mapping]]] = ...) -> None: ...

class LeadHistoryEntry(_message.Message):
    __slots__ = ("time", "kind", "message", "actor", "score_delta", "score")
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    SCORE_DELTA_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    kind: str
    message: str
    actor: str
    score_delta: int
    score: int
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ..., actor: _Optional[str] = ..., score_delta: _Optional[int] = ..., score: _Optional[int] = ...) -> None: ...

class CreateLeadRequest(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ...) -> None: ...

class GetLeadRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListLeadsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    order_by: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListLeadsResponse(_message.Message):
    __slots__ = ("leads", "next_page_token")
    LEADS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    leads: _containers.RepeatedCompositeFieldContainer[Lead]
    next_page_token: str
    def __init__(self, leads: _Optional[_Iterable[_Union[Lead, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateLeadRequest(_message.Message):
    __slots__ = ("id", "lead", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    lead: Lead
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., lead: _Optional[_Union[Lead, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteLeadRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ConvertLeadRequest(_message.Message):
    __slots__ = ("id", "create_account", "create_opportunity", "opportunity_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    create_account: bool
    create_opportunity: bool
    opportunity_name: str
    def __init__(self, id: _Optional[str] = ..., create_account: _Optional[bool] = ..., create_opportunity: _Optional[bool] = ..., opportunity_name: _Optional[str] = ...) -> None: ...

class ConvertLeadResponse(_message.Message):
    __slots__ = ("lead", "contact_id", "account_id", "opportunity_id", "contact_reused", "account_reused")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_REUSED_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_REUSED_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    contact_id: str
    account_id: str
    opportunity_id: str
    contact_reused: bool
    account_reused: bool
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., contact_reused: _Optional[bool] = ..., account_reused: _Optional[bool] = ...) -> None: ...

class WebForm(_message.Message):
    __slots__ = ("id", "name", "public_key", "lead_source", "honeypot_field", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    LEAD_SOURCE_FIELD_NUMBER: _ClassVar[int]
    HONEYPOT_FIELD_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    public_key: str
    lead_source: str
    honeypot_field: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., public_key: _Optional[str] = ..., lead_source: _Optional[str] = ..., honeypot_field: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateWebFormRequest(_message.Message):
    __slots__ = ("web_form",)
    WEB_FORM_FIELD_NUMBER: _ClassVar[int]
    web_form: WebForm
    def __init__(self, web_form: _Optional[_Union[WebForm, _Mapping]] = ...) -> None: ...

class GetWebFormRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteWebFormRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListWebFormsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWebFormsResponse(_message.Message):
    __slots__ = ("web_forms", "next_page_token")
    WEB_FORMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    web_forms: _containers.RepeatedCompositeFieldContainer[WebForm]
    next_page_token: str
    def __init__(self, web_forms: _Optional[_Iterable[_Union[WebForm, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SubmitWebFormRequest(_message.Message):
    __slots__ = ("key", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    key: str
    fields: _containers.ScalarMap[str, str]
    def __init__(self, key: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SubmitWebFormResponse(_message.Message):
    __slots__ = ("received",)
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    received: bool
    def __init__(self, received: _Optional[bool] = ...) -> None: ...

class RuleCondition(_message.Message):
    __slots__ = ("attribute", "values")
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    attribute: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, attribute: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignmentRule(_message.Message):
    __slots__ = ("id", "name", "position", "conditions", "territory", "owner_ids", "capacity_per_owner", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TERRITORY_FIELD_NUMBER: _ClassVar[int]
    OWNER_IDS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_PER_OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    position: int
    conditions: _containers.RepeatedCompositeFieldContainer[RuleCondition]
    territory: str
    owner_ids: _containers.RepeatedScalarFieldContainer[str]
    capacity_per_owner: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., position: _Optional[int] = ..., conditions: _Optional[_Iterable[_Union[RuleCondition, _Mapping]]] = ..., territory: _Optional[str] = ..., owner_ids: _Optional[_Iterable[str]] = ..., capacity_per_owner: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAssignmentRuleRequest(_message.Message):
    __slots__ = ("assignment_rule",)
    ASSIGNMENT_RULE_FIELD_NUMBER: _ClassVar[int]
    assignment_rule: AssignmentRule
    def __init__(self, assignment_rule: _Optional[_Union[AssignmentRule, _Mapping]] = ...) -> None: ...

class GetAssignmentRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListAssignmentRulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAssignmentRulesResponse(_message.Message):
    __slots__ = ("assignment_rules", "next_page_token")
    ASSIGNMENT_RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assignment_rules: _containers.RepeatedCompositeFieldContainer[AssignmentRule]
    next_page_token: str
    def __init__(self, assignment_rules: _Optional[_Iterable[_Union[AssignmentRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteAssignmentRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ScoringRule(_message.Message):
    __slots__ = ("id", "attribute", "value", "points", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    attribute: str
    value: str
    points: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., attribute: _Optional[str] = ..., value: _Optional[str] = ..., points: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateScoringRuleRequest(_message.Message):
    __slots__ = ("scoring_rule",)
    SCORING_RULE_FIELD_NUMBER: _ClassVar[int]
    scoring_rule: ScoringRule
    def __init__(self, scoring_rule: _Optional[_Union[ScoringRule, _Mapping]] = ...) -> None: ...

class GetScoringRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListScoringRulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListScoringRulesResponse(_message.Message):
    __slots__ = ("scoring_rules", "next_page_token")
    SCORING_RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    scoring_rules: _containers.RepeatedCompositeFieldContainer[ScoringRule]
    next_page_token: str
    def __init__(self, scoring_rules: _Optional[_Iterable[_Union[ScoringRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteScoringRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ScoringSettings(_message.Message):
    __slots__ = ("email_opened_points", "email_clicked_points", "form_submitted_points", "half_life_days", "threshold")
    EMAIL_OPENED_POINTS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_CLICKED_POINTS_FIELD_NUMBER: _ClassVar[int]
    FORM_SUBMITTED_POINTS_FIELD_NUMBER: _ClassVar[int]
    HALF_LIFE_DAYS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    email_opened_points: int
    email_clicked_points: int
    form_submitted_points: int
    half_life_days: int
    threshold: int
    def __init__(self, email_opened_points: _Optional[int] = ..., email_clicked_points: _Optional[int] = ..., form_submitted_points: _Optional[int] = ..., half_life_days: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class GetScoringSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateScoringSettingsRequest(_message.Message):
    __slots__ = ("scoring_settings", "update_mask")
    SCORING_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    scoring_settings: ScoringSettings
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, scoring_settings: _Optional[_Union[ScoringSettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...
