from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from amarktai.utils import iso_now
from trading.platforms import PLATFORMS


class PlatformCatalogueView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        platforms = [p.catalogue_entry() for p in PLATFORMS.values()]
        return Response(
            {"platforms": platforms, "total_count": len(platforms), "default": "all", "timestamp": iso_now()}
        )


class ProviderListView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request):
        return Response({"success": True, "providers": [p.provider_entry() for p in PLATFORMS.values()]})
