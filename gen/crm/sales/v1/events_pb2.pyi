import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpportunitySnapshot(_message.Message):
    __slots__ = ("id", "name", "pipeline_id", "stage_id", "stage_name", "stage_category", "amount", "close_date", "contact_id", "account_id", "owner_id", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    STAGE_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    pipeline_id: str
    stage_id: str
    stage_name: str
    stage_category: str
    amount: _money_pb2.Money
    close_date: _date_pb2.Date
    contact_id: str
    account_id: str
    owner_id: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_name: _Optional[str] = ..., stage_category: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., close_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpportunityCreated(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: OpportunitySnapshot
    def __init__(self, opportunity: _Optional[_Union[OpportunitySnapshot, _Mapping]] = ...) -> None: ...

class OpportunityStageChanged(_message.Message):
    __slots__ = ("opportunity", "from_stage_id", "from_stage_name")
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    opportunity: OpportunitySnapshot
    from_stage_id: str
    from_stage_name: str
    def __init__(self, opportunity: _Optional[_Union[OpportunitySnapshot, _Mapping]] = ..., from_stage_id: _Optional[str] = ..., from_stage_name: _Optional[str] = ...) -> None: ...

class OpportunityWon(_message.Message):
    __slots__ = ("opportunity", "reason")
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    opportunity: OpportunitySnapshot
    reason: str
    def __init__(self, opportunity: _Optional[_Union[OpportunitySnapshot, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class OpportunityLost(_message.Message):
    __slots__ = ("opportunity", "reason")
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    opportunity: OpportunitySnapshot
    reason: str
    def __init__(self, opportunity: _Optional[_Union[OpportunitySnapshot, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class QuoteLineSnapshot(_message.Message):
    __slots__ = ("product_id", "sku", "name", "quantity", "unit_price", "discount_percent", "tax_rate_percent", "net_amount", "tax_amount", "total_amount")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    TAX_RATE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    NET_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAX_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    sku: str
    name: str
    quantity: str
    unit_price: _money_pb2.Money
    discount_percent: str
    tax_rate_percent: str
    net_amount: _money_pb2.Money
    tax_amount: _money_pb2.Money
    total_amount: _money_pb2.Money
    def __init__(self, product_id: _Optional[str] = ..., sku: _Optional[str] = ..., name: _Optional[str] = ..., quantity: _Optional[str] = ..., unit_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., discount_percent: _Optional[str] = ..., tax_rate_percent: _Optional[str] = ..., net_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., total_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class QuoteAccepted(_message.Message):
    __slots__ = ("quote_id", "quote_number", "opportunity_id", "contact_id", "account_id", "lines", "net_total", "tax_total", "grand_total", "accept_time")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    NET_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TAX_TOTAL_FIELD_NUMBER: _ClassVar[int]
    GRAND_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIME_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    quote_number: str
    opportunity_id: str
    contact_id: str
    account_id: str
    lines: _containers.RepeatedCompositeFieldContainer[QuoteLineSnapshot]
    net_total: _money_pb2.Money
    tax_total: _money_pb2.Money
    grand_total: _money_pb2.Money
    accept_time: _timestamp_pb2.Timestamp
    def __init__(self, quote_id: _Optional[str] = ..., quote_number: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[QuoteLineSnapshot, _Mapping]]] = ..., net_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., grand_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., accept_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeadSnapshot(_message.Message):
    __slots__ = ("id", "given_name", "family_name", "email", "company", "status", "score", "owner_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    given_name: str
    family_name: str
    email: str
    company: str
    status: str
    score: int
    owner_id: str
    def __init__(self, id: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., email: _Optional[str] = ..., company: _Optional[str] = ..., status: _Optional[str] = ..., score: _Optional[int] = ..., owner_id: _Optional[str] = ...) -> None: ...

class LeadCreated(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: LeadSnapshot
    def __init__(self, lead: _Optional[_Union[LeadSnapshot, _Mapping]] = ...) -> None: ...

class LeadAssigned(_message.Message):
    __slots__ = ("lead", "previous_owner_id", "reason")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    lead: LeadSnapshot
    previous_owner_id: str
    reason: str
    def __init__(self, lead: _Optional[_Union[LeadSnapshot, _Mapping]] = ..., previous_owner_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class LeadScoreThresholdCrossed(_message.Message):
    __slots__ = ("lead", "previous_score", "threshold", "upward")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    UPWARD_FIELD_NUMBER: _ClassVar[int]
    lead: LeadSnapshot
    previous_score: int
    threshold: int
    upward: bool
    def __init__(self, lead: _Optional[_Union[LeadSnapshot, _Mapping]] = ..., previous_score: _Optional[int] = ..., threshold: _Optional[int] = ..., upward: _Optional[bool] = ...) -> None: ...

class LeadConverted(_message.Message):
    __slots__ = ("lead", "contact_id", "account_id", "opportunity_id")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    lead: LeadSnapshot
    contact_id: str
    account_id: str
    opportunity_id: str
    def __init__(self, lead: _Optional[_Union[LeadSnapshot, _Mapping]] = ..., contact_id: _Optional[str] = ..., account_id: _Optional[str] = ..., opportunity_id: _Optional[str] = ...) -> None: ...
