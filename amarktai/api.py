"""Helpers for the thin DRF views, and the strict number fields every serializer uses."""

import re

from rest_framework import serializers

# The largest integer a query parameter may carry (offsets, limits): far past any real page, far below what the
# database's integer columns overflow at (99999999999999999999 used to reach the SQL and come back as a 500).
QUERY_INT_MAX = 2**31 - 1

# ASCII only. Python's int() and Decimal() also take "1_000", surrounding whitespace and the digits of other scripts
# (Arabic-Indic, fullwidth), and so do DRF's IntegerField and DecimalField: an amount must be written the one plain way.
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def validated(serializer_class, data, labels=None):
    """Validate ``data`` (request.data or request.query_params) with a DRF serializer;
    errors become VALIDATION_ERROR. ``labels`` ({field: "Words a person reads"}) keeps field keys out of the message
    (they stay in ``details``): "Amount: A valid number is required." rather than "amount: ..."."""
    serializer = serializer_class(data=data)
    if labels is None:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    if not serializer.is_valid():
        from amarktai.errors import ValidationFailed

        details = {
            key: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for key, msgs in serializer.errors.items()
        }
        field, messages = next(iter(details.items()))
        label = labels.get(field)
        raise ValidationFailed(f"{label}: {messages[0]}" if label else messages[0], details=details)
    return serializer.validated_data


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that takes a JSON integer or a string of ASCII digits (optionally signed), nothing else: no
    booleans, underscores, whitespace or non-ASCII digits."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and not _INTEGER.fullmatch(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """A DecimalField that takes a JSON number or a plain ASCII decimal string ("12", "-0.5", ".5", "1E-8"), nothing
    else: no booleans, underscores, whitespace, non-ASCII digits, NaN or Infinity."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and not _DECIMAL.fullmatch(data)):
            self.fail("invalid")
        return super().to_internal_value(data)
