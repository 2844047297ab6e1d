"""Helpers for the thin DRF views."""


def validated(serializer_class, data):
    """Validate ``data`` (request.data or request.query_params) with a DRF serializer;
    errors become VALIDATION_ERROR."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
