import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AutomationRule(_message.Message):
    __slots__ = ("id", "display_name", "description", "event_type", "condition", "actions", "state", "create_time", "update_time", "etag")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[AutomationRule.State]
        ENABLED: _ClassVar[AutomationRule.State]
        DISABLED: _ClassVar[AutomationRule.State]
    STATE_UNSPECIFIED: AutomationRule.State
    ENABLED: AutomationRule.State
    DISABLED: AutomationRule.State
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    description: str
    event_type: str
    condition: str
    actions: _containers.RepeatedCompositeFieldContainer[AutomationAction]
    state: AutomationRule.State
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., event_type: _Optional[str] = ..., condition: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[AutomationAction, _Mapping]]] = ..., state: _Optional[_Union[AutomationRule.State, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class AutomationAction(_message.Message):
    __slots__ = ("assign_owner", "create_task", "send_email", "update_field", "call_webhook")
    ASSIGN_OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TASK_FIELD_NUMBER: _ClassVar[int]
    SEND_EMAIL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_FIELD_NUMBER: _ClassVar[int]
    CALL_WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    assign_owner: AssignOwner
    create_task: CreateTask
    send_email: SendEmail
    update_field: UpdateField
    call_webhook: CallWebhook
    def __init__(self, assign_owner: _Optional[_Union[AssignOwner, _Mapping]] = ..., create_task: _Optional[_Union[CreateTask, _Mapping]] = ..., send_email: _Optional[_Union[SendEmail, _Mapping]] = ..., update_field: _Optional[_Union[UpdateField, _Mapping]] = ..., call_webhook: _Optional[_Union[CallWebhook, _Mapping]] = ...) -> None: ...

class AssignOwner(_message.Message):
    __slots__ = ("owner_id",)
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    def __init__(self, owner_id: _Optional[str] = ...) -> None: ...

class CreateTask(_message.Message):
    __slots__ = ("subject", "body", "due_in_hours", "owner_id")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    DUE_IN_HOURS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    subject: str
    body: str
    due_in_hours: int
    owner_id: str
    def __init__(self, subject: _Optional[str] = ..., body: _Optional[str] = ..., due_in_hours: _Optional[int] = ..., owner_id: _Optional[str] = ...) -> None: ...

class SendEmail(_message.Message):
    __slots__ = ("to", "subject", "text_body", "html_body", "connection_id")
    TO_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TEXT_BODY_FIELD_NUMBER: _ClassVar[int]
    HTML_BODY_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    to: str
    subject: str
    text_body: str
    html_body: str
    connection_id: str
    def __init__(self, to: _Optional[str] = ..., subject: _Optional[str] = ..., text_body: _Optional[str] = ..., html_body: _Optional[str] = ..., connection_id: _Optional[str] = ...) -> None: ...

class UpdateField(_message.Message):
    __slots__ = ("field", "value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    value: str
    def __init__(self, field: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class CallWebhook(_message.Message):
    __slots__ = ("webhook_id",)
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    def __init__(self, webhook_id: _Optional[str] = ...) -> None: ...

class AutomationExecution(_message.Message):
    __slots__ = ("id", "rule_id", "event_id", "event_type", "subject_id", "state", "reason", "causation_chain", "actions", "attempt_count", "create_time", "finish_time", "duration_ms")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[AutomationExecution.State]
        PENDING: _ClassVar[AutomationExecution.State]
        SUCCEEDED: _ClassVar[AutomationExecution.State]
        FAILED: _ClassVar[AutomationExecution.State]
        SKIPPED: _ClassVar[AutomationExecution.State]
    STATE_UNSPECIFIED: AutomationExecution.State
    PENDING: AutomationExecution.State
    SUCCEEDED: AutomationExecution.State
    FAILED: AutomationExecution.State
    SKIPPED: AutomationExecution.State
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_CHAIN_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    rule_id: str
    event_id: str
    event_type: str
    subject_id: str
    state: AutomationExecution.State
    reason: str
    causation_chain: _containers.RepeatedScalarFieldContainer[str]
    actions: _containers.RepeatedCompositeFieldContainer[AutomationActionResult]
    attempt_count: int
    create_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    duration_ms: int
    def __init__(self, id: _Optional[str] = ..., rule_id: _Optional[str] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., subject_id: _Optional[str] = ..., state: _Optional[_Union[AutomationExecution.State, str]] = ..., reason: _Optional[str] = ..., causation_chain: _Optional[_Iterable[str]] = ..., actions: _Optional[_Iterable[_Union[AutomationActionResult, _Mapping]]] = ..., attempt_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ...) -> None: ...

class AutomationActionResult(_message.Message):
    __slots__ = ("type", "outcome", "error", "duration_ms", "result_ref")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[AutomationActionResult.Outcome]
        PENDING: _ClassVar[AutomationActionResult.Outcome]
        SUCCEEDED: _ClassVar[AutomationActionResult.Outcome]
        FAILED: _ClassVar[AutomationActionResult.Outcome]
    OUTCOME_UNSPECIFIED: AutomationActionResult.Outcome
    PENDING: AutomationActionResult.Outcome
    SUCCEEDED: AutomationActionResult.Outcome
    FAILED: AutomationActionResult.Outcome
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_REF_FIELD_NUMBER: _ClassVar[int]
    type: str
    outcome: AutomationActionResult.Outcome
    error: str
    duration_ms: int
    result_ref: str
    def __init__(self, type: _Optional[str] = ..., outcome: _Optional[_Union[AutomationActionResult.Outcome, str]] = ..., error: _Optional[str] = ..., duration_ms: _Optional[int] = ..., result_ref: _Optional[str] = ...) -> None: ...

class CreateAutomationRuleRequest(_message.Message):
    __slots__ = ("automation_rule",)
    AUTOMATION_RULE_FIELD_NUMBER: _ClassVar[int]
    automation_rule: AutomationRule
    def __init__(self, automation_rule: _Optional[_Union[AutomationRule, _Mapping]] = ...) -> None: ...

class GetAutomationRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListAutomationRulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAutomationRulesResponse(_message.Message):
    __slots__ = ("automation_rules", "next_page_token")
    AUTOMATION_RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    automation_rules: _containers.RepeatedCompositeFieldContainer[AutomationRule]
    next_page_token: str
    def __init__(self, automation_rules: _Optional[_Iterable[_Union[AutomationRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAutomationRuleRequest(_message.Message):
    __slots__ = ("id", "automation_rule", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTOMATION_RULE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    automation_rule: AutomationRule
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., automation_rule: _Optional[_Union[AutomationRule, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteAutomationRuleRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class EnableAutomationRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DisableAutomationRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class TestAutomationRuleRequest(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TestAutomationRuleResponse(_message.Message):
    __slots__ = ("matched", "reason", "actions")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    matched: bool
    reason: str
    actions: _containers.RepeatedCompositeFieldContainer[PlannedAction]
    def __init__(self, matched: _Optional[bool] = ..., reason: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[PlannedAction, _Mapping]]] = ...) -> None: ...

class PlannedAction(_message.Message):
    __slots__ = ("type", "description", "error")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    type: str
    description: str
    error: str
    def __init__(self, type: _Optional[str] = ..., description: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class ListAutomationRuleExecutionsRequest(_message.Message):
    __slots__ = ("rule_id", "page_size", "page_token")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    page_size: int
    page_token: str
    def __init__(self, rule_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAutomationExecutionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAutomationExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[AutomationExecution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[AutomationExecution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAutomationExecutionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...
