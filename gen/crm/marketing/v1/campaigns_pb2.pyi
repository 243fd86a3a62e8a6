import datetime

from crm.common.v1 import options_pb2 as _options_pb2
from crm.common.v1 import redirect_pb2 as _redirect_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Campaign(_message.Message):
    __slots__ = ("id", "name", "status", "segment_id", "template_id", "from_address", "subject", "connection_id", "send_rate_per_minute", "cost", "schedule_time", "start_time", "finish_time", "create_time", "update_time", "etag")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Campaign.Status]
        DRAFT: _ClassVar[Campaign.Status]
        SCHEDULED: _ClassVar[Campaign.Status]
        SENDING: _ClassVar[Campaign.Status]
        SENT: _ClassVar[Campaign.Status]
        CANCELLED: _ClassVar[Campaign.Status]
    STATUS_UNSPECIFIED: Campaign.Status
    DRAFT: Campaign.Status
    SCHEDULED: Campaign.Status
    SENDING: Campaign.Status
    SENT: Campaign.Status
    CANCELLED: Campaign.Status
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SEND_RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: Campaign.Status
    segment_id: str
    template_id: str
    from_address: str
    subject: str
    connection_id: str
    send_rate_per_minute: int
    cost: _money_pb2.Money
    schedule_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[Campaign.Status, str]] = ..., segment_id: _Optional[str] = ..., template_id: _Optional[str] = ..., from_address: _Optional[str] = ..., subject: _Optional[str] = ..., connection_id: _Optional[str] = ..., send_rate_per_minute: _Optional[int] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., schedule_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class CreateCampaignRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class GetCampaignRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListCampaignsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCampaignsResponse(_message.Message):
    __slots__ = ("campaigns", "next_page_token")
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaigns: _containers.RepeatedCompositeFieldContainer[Campaign]
    next_page_token: str
    def __init__(self, campaigns: _Optional[_Iterable[_Union[Campaign, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCampaignRequest(_message.Message):
    __slots__ = ("id", "campaign", "update_mask")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    id: str
    campaign: Campaign
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, id: _Optional[str] = ..., campaign: _Optional[_Union[Campaign, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteCampaignRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ScheduleCampaignRequest(_message.Message):
    __slots__ = ("id", "schedule_time", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    schedule_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., schedule_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class CancelCampaignRequest(_message.Message):
    __slots__ = ("id", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    etag: str
    def __init__(self, id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class CampaignMessage(_message.Message):
    __slots__ = ("id", "contact_id", "email", "status", "reason", "render_error", "error", "subject", "sent_time", "first_open_time", "first_click_time", "bounce_time", "unsubscribe_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RENDER_ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SENT_TIME_FIELD_NUMBER: _ClassVar[int]
    FIRST_OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    FIRST_CLICK_TIME_FIELD_NUMBER: _ClassVar[int]
    BOUNCE_TIME_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    contact_id: str
    email: str
    status: str
    reason: str
    render_error: str
    error: str
    subject: str
    sent_time: _timestamp_pb2.Timestamp
    first_open_time: _timestamp_pb2.Timestamp
    first_click_time: _timestamp_pb2.Timestamp
    bounce_time: _timestamp_pb2.Timestamp
    unsubscribe_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., contact_id: _Optional[str] = ..., email: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., render_error: _Optional[str] = ..., error: _Optional[str] = ..., subject: _Optional[str] = ..., sent_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_click_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bounce_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unsubscribe_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCampaignMessagesRequest(_message.Message):
    __slots__ = ("id", "page_size", "page_token", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    page_size: int
    page_token: str
    status: str
    def __init__(self, id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListCampaignMessagesResponse(_message.Message):
    __slots__ = ("messages", "next_page_token")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[CampaignMessage]
    next_page_token: str
    def __init__(self, messages: _Optional[_Iterable[_Union[CampaignMessage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCampaignAnalyticsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CampaignAnalytics(_message.Message):
    __slots__ = ("campaign_id", "recipients", "skipped", "render_failed", "failed", "sent", "delivered", "bounced", "unique_opens", "unique_clicks", "click_through_rate", "unsubscribes", "conversions", "attributed_revenue", "cost", "roi")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    RENDER_FAILED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    BOUNCED_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_OPENS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CLICKS_FIELD_NUMBER: _ClassVar[int]
    CLICK_THROUGH_RATE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBES_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTED_REVENUE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    recipients: int
    skipped: int
    render_failed: int
    failed: int
    sent: int
    delivered: int
    bounced: int
    unique_opens: int
    unique_clicks: int
    click_through_rate: float
    unsubscribes: int
    conversions: int
    attributed_revenue: _containers.RepeatedCompositeFieldContainer[_money_pb2.Money]
    cost: _money_pb2.Money
    roi: float
    def __init__(self, campaign_id: _Optional[str] = ..., recipients: _Optional[int] = ..., skipped: _Optional[int] = ..., render_failed: _Optional[int] = ..., failed: _Optional[int] = ..., sent: _Optional[int] = ..., delivered: _Optional[int] = ..., bounced: _Optional[int] = ..., unique_opens: _Optional[int] = ..., unique_clicks: _Optional[int] = ..., click_through_rate: _Optional[float] = ..., unsubscribes: _Optional[int] = ..., conversions: _Optional[int] = ..., attributed_revenue: _Optional[_Iterable[_Union[_money_pb2.Money, _Mapping]]] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., roi: _Optional[float] = ...) -> None: ...

class TrackOpenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class TrackClickRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class GetUnsubscribePageRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class UnsubscribeRequest(_message.Message):
    __slots__ = ("token", "list_unsubscribe")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIST_UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    token: str
    list_unsubscribe: str
    def __init__(self, token: _Optional[str] = ..., list_unsubscribe: _Optional[str] = ...) -> None: ...

class UnsubscribeResponse(_message.Message):
    __slots__ = ("unsubscribed",)
    UNSUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    unsubscribed: bool
    def __init__(self, unsubscribed: _Optional[bool] = ...) -> None: ...
