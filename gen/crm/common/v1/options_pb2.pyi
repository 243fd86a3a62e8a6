from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
REQUIRED_SCOPE_FIELD_NUMBER: _ClassVar[int]
required_scope: _descriptor.FieldDescriptor
DEADLINE_SECONDS_FIELD_NUMBER: _ClassVar[int]
deadline_seconds: _descriptor.FieldDescriptor
RATE_CLASS_FIELD_NUMBER: _ClassVar[int]
rate_class: _descriptor.FieldDescriptor
PUBLIC_FIELD_NUMBER: _ClassVar[int]
public: _descriptor.FieldDescriptor
STREAM_CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
stream_content_type: _descriptor.FieldDescriptor
FORWARD_HEADERS_FIELD_NUMBER: _ClassVar[int]
forward_headers: _descriptor.FieldDescriptor
WRITE_SCOPE_FIELD_NUMBER: _ClassVar[int]
write_scope: _descriptor.FieldDescriptor
BACKEND_FIELD_NUMBER: _ClassVar[int]
backend: _descriptor.FieldDescriptor
