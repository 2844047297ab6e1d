from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from amarktai.api import validated
from market import selectors, services
from market.payloads import instrument_payload
from market.serializers import InstrumentCreateSerializer, InstrumentUpdateSerializer


class InstrumentListView(GenericAPIView):
    """The user's watch list."""

    serializer_class = InstrumentCreateSerializer

    def get(self, request):
        items = [instrument_payload(i) for i in selectors.instruments(request.user)]
        return Response({"success": True, "instruments": items, "total": len(items)})

    def post(self, request):
        data = validated(InstrumentCreateSerializer, request.data)
        instrument = services.create_instrument(request.user, **data)
        return Response({"success": True, "instrument": instrument_payload(instrument)}, status=201)


class InstrumentDetailView(GenericAPIView):
    serializer_class = InstrumentUpdateSerializer

    def get_object(self):
        # DRF's OPTIONS metadata asks for the object of a PUT view: the user's own, or a 404.
        return selectors.access_instrument(self.request.user, self.kwargs["instrument_id"])

    def put(self, request, instrument_id):
        changes = validated(InstrumentUpdateSerializer, request.data)
        instrument = services.update_instrument(request.user, instrument_id, dict(changes))
        return Response({"success": True, "instrument": instrument_payload(instrument)})

    def delete(self, request, instrument_id):
        services.delete_instrument(request.user, instrument_id)
        return Response({"success": True, "message": "Instrument removed from your watch list"})
