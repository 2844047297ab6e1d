"""OpenAPI schema generation: views without a serializer (plain JSON in, contract JSON out) are documented as free-form
objects instead of producing generator warnings."""

from drf_spectacular.openapi import AutoSchema as _AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework.generics import GenericAPIView


class AutoSchema(_AutoSchema):
    def _has_no_serializer(self):
        view = self.view
        return (
            isinstance(view, GenericAPIView)
            and getattr(view, "serializer_class", None) is None
            and type(view).get_serializer_class is GenericAPIView.get_serializer_class
        )

    def get_request_serializer(self):
        if self._has_no_serializer():
            return None
        return super().get_request_serializer()

    def get_response_serializers(self):
        # Responses follow the API contract's JSON envelopes ({"success": true, ...}), not the input serializers.
        return OpenApiTypes.OBJECT

    def get_operation_id(self):
        operation_id = super().get_operation_id()
        # A collection GET and its item GET would both be "<name>_retrieve": name the collection "<name>_list".
        if self.method == "GET" and "{" not in self.path and operation_id.endswith("_retrieve"):
            operation_id = operation_id[: -len("_retrieve")] + "_list"
        return operation_id


from drf_spectacular.extensions import OpenApiAuthenticationExtension  # noqa: E402


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT or API key (amk_...)",
        }
