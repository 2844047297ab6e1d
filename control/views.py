from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.admin_api import AdminView
from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from amarktai.api import validated
from amarktai.utils import iso_now
from bots import trading_switch
from control import portability, services
from control.serializers import ConfigImportSerializer, SystemControlSerializer, TradingStopSerializer


# ------------------------------------------------------------------ the user's kill switch
class TradingStopView(GenericAPIView):
    serializer_class = TradingStopSerializer

    @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request):
        data = validated(TradingStopSerializer, request.data)
        result = trading_switch.stop_trading(request.user, close_positions=data["close_positions"])
        return Response({"success": True, "message": "Trading stopped", "trading": result})


class TradingStartView(GenericAPIView):
    @extend_schema(request=None, parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request):
        result = trading_switch.start_trading(request.user)
        return Response({"success": True, "message": "Trading started", "trading": result})


class TradingStatusView(GenericAPIView):
    def get(self, request):
        return Response(
            {
                "success": True,
                "trading": trading_switch.status(request.user),
                "system": services.system_status(request.user),
                "timestamp": iso_now(),
            }
        )


# ------------------------------------------------------------------ system control (admins)
class SystemControlView(AdminView):
    serializer_class = SystemControlSerializer
    action = ""

    def post(self, request):
        data = validated(SystemControlSerializer, request.data)
        state = services.control_system(request.user, self.action, data["reason"])
        return Response({"success": True, "action": self.action, "system": state, "timestamp": iso_now()})


# ------------------------------------------------------------------ configuration
class ConfigView(GenericAPIView):
    def get(self, request):
        return Response({"success": True, "config": services.full_config(request.user)})


class ConfigSectionView(GenericAPIView):
    @extend_schema(request=None)
    def get(self, request, section):
        return Response({"success": True, "section": section, "values": services.section_values(request.user, section)})

    @extend_schema(request={"application/json": {"type": "object", "additionalProperties": True}})
    def put(self, request, section):
        values = services.update_section(request.user, section, request.data)
        return Response({"success": True, "section": section, "values": values})


class ConfigExportView(GenericAPIView):
    @extend_schema(request=None)
    def post(self, request):
        return Response({"success": True, "document": portability.export_document(request.user)})


class ConfigImportView(GenericAPIView):
    serializer_class = ConfigImportSerializer

    def post(self, request):
        data = validated(ConfigImportSerializer, request.data)
        result = portability.import_document(request.user, data["document"], dry_run=data["dry_run"])
        return Response({"success": True, **result})
