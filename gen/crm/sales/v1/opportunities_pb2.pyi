import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Opportunity(_message.Message):
    __slots__ = ("id", "name", "account_id", "contact_id", "pipeline_id", "stage_id", "amount", "close_date", "owner_id", "close_reason", "stage_name", "stage_category", "probability", "forecast_category", "stage_enter_time", "create_time", "update_time", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    STAGE_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    FORECAST_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STAGE_ENTER_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    account_id: str
    contact_id: str
    pipeline_id: str
    stage_id: str
    amount: _money_pb2.Money
    close_date: _date_pb2.Date
    owner_id: str
    close_reason: str
    stage_name: str
    stage_category: str
    probability: int
    forecast_category: str
    stage_enter_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., account_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., close_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., owner_id: _Optional[str] = ..., close_reason: _Optional[str] = ..., stage_name: _Optional[str] = ..., stage_category: _Optional[str] = ..., probability: _Optional[int] = ..., forecast_category: _Optional[str] = ..., stage_enter_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class StageHistoryEntry(_message.Message):
    __slots__ = ("from_stage_id", "to_stage_id", "to_stage_name", "enter_time", "leave_time", "actor", "reason")
    FROM_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    ENTER_TIME_FIELD_NUMBER: _ClassVar[int]
    LEAVE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_stage_id: str
    to_stage_id: str
    to_stage_name: str
    enter_time: _timestamp_pb2.Timestamp
    leave_time: _timestamp_pb2.Timestamp
    actor: str
    reason: str
    def __init__(self, from_stage_id: _Optional[str] = ..., to_stage_id: _Optional[str] = ..., to_stage_name: _Optional[str] = ..., enter_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., leave_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateOpportunityRequest(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: Opportunity
    def __init__(self, opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class GetOpportunityRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListOpportunitiesRequest(_message.Message):
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

class ListOpportunitiesResponse(_message.Message):
    __slots__ = ("opportunities", "next_page_token")
    OPPORTUNITIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    opportunities: _containers.RepeatedCompositeFieldContainer[Opportunity]
    next_page_token: str
    def __init__(self, opportunities: _Optional[_Iterable[_Union[Opportunity, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateOpportunityRequest(_message.Message):
    __slots__ = ("id", "opportunity", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    opportunity: Opportunity
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., opportunity: _Optional[_Union[Opportunity, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteOpportunityRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ListStageHistoryRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListStageHistoryResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[StageHistoryEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[StageHistoryEntry, _Mapping]]] = ...) -> None: ...

class GetSalesForecastRequest(_message.Message):
    __slots__ = ("period", "pipeline_id", "owner_id", "close_date_from", "close_date_to", "stale_days")
    class Period(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PERIOD_UNSPECIFIED: _ClassVar[GetSalesForecastRequest.Period]
        MONTH: _ClassVar[GetSalesForecastRequest.Period]
        QUARTER: _ClassVar[GetSalesForecastRequest.Period]
    PERIOD_UNSPECIFIED: GetSalesForecastRequest.Period
    MONTH: GetSalesForecastRequest.Period
    QUARTER: GetSalesForecastRequest.Period
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSE_DATE_FROM_FIELD_NUMBER: _ClassVar[int]
    CLOSE_DATE_TO_FIELD_NUMBER: _ClassVar[int]
    STALE_DAYS_FIELD_NUMBER: _ClassVar[int]
    period: GetSalesForecastRequest.Period
    pipeline_id: str
    owner_id: str
    close_date_from: str
    close_date_to: str
    stale_days: int
    def __init__(self, period: _Optional[_Union[GetSalesForecastRequest.Period, str]] = ..., pipeline_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., close_date_from: _Optional[str] = ..., close_date_to: _Optional[str] = ..., stale_days: _Optional[int] = ...) -> None: ...

class ForecastRow(_message.Message):
    __slots__ = ("period", "owner_id", "pipeline_id", "currency_code", "open_count", "open_amount", "weighted_amount", "pipeline_amount", "best_case_amount", "commit_amount", "closed_amount", "won_count", "lost_count", "win_rate", "average_deal_size", "average_sales_cycle_days")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    OPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPEN_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BEST_CASE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WON_COUNT_FIELD_NUMBER: _ClassVar[int]
    LOST_COUNT_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_DEAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_SALES_CYCLE_DAYS_FIELD_NUMBER: _ClassVar[int]
    period: str
    owner_id: str
    pipeline_id: str
    currency_code: str
    open_count: int
    open_amount: _money_pb2.Money
    weighted_amount: _money_pb2.Money
    pipeline_amount: _money_pb2.Money
    best_case_amount: _money_pb2.Money
    commit_amount: _money_pb2.Money
    closed_amount: _money_pb2.Money
    won_count: int
    lost_count: int
    win_rate: float
    average_deal_size: _money_pb2.Money
    average_sales_cycle_days: float
    def __init__(self, period: _Optional[str] = ..., owner_id: _Optional[str] = ..., pipeline_id: _Optional[str] = ..., currency_code: _Optional[str] = ..., open_count: _Optional[int] = ..., open_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., weighted_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., pipeline_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., best_case_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., commit_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., closed_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., won_count: _Optional[int] = ..., lost_count: _Optional[int] = ..., win_rate: _Optional[float] = ..., average_deal_size: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., average_sales_cycle_days: _Optional[float] = ...) -> None: ...

class StageConversion(_message.Message):
    __slots__ = ("pipeline_id", "stage_id", "stage_name", "entered", "advanced", "conversion_rate")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    ADVANCED_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_RATE_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    stage_id: str
    stage_name: str
    entered: int
    advanced: int
    conversion_rate: float
    def __init__(self, pipeline_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., stage_name: _Optional[str] = ..., entered: _Optional[int] = ..., advanced: _Optional[int] = ..., conversion_rate: _Optional[float] = ...) -> None: ...

class AtRiskDeal(_message.Message):
    __slots__ = ("opportunity_id", "name", "owner_id", "reasons")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    name: str
    owner_id: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, opportunity_id: _Optional[str] = ..., name: _Optional[str] = ..., owner_id: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class SalesForecast(_message.Message):
    __slots__ = ("rows", "stage_conversions", "at_risk")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    STAGE_CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    AT_RISK_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[ForecastRow]
    stage_conversions: _containers.RepeatedCompositeFieldContainer[StageConversion]
    at_risk: _containers.RepeatedCompositeFieldContainer[AtRiskDeal]
    def __init__(self, rows: _Optional[_Iterable[_Union[ForecastRow, _Mapping]]] = ..., stage_conversions: _Optional[_Iterable[_Union[StageConversion, _Mapping]]] = ..., at_risk: _Optional[_Iterable[_Union[AtRiskDeal, _Mapping]]] = ...) -> None: ...
