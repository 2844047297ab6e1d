"""OPTIONS responses that never fail on views without an input serializer.

(No import of rest_framework.generics here: DRF's APIView loads this class while it is itself being imported.)
"""

from rest_framework.metadata import SimpleMetadata


class ApiMetadata(SimpleMetadata):
    """Name, description and methods; field descriptions only where a view has an input serializer."""

    def determine_actions(self, request, view):
        if hasattr(view, "get_serializer") and getattr(view, "serializer_class", None) is None:
            return {}
        return super().determine_actions(request, view)
