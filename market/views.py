from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from amarktai.api import validated
from market import indices, quotes, scan, selectors, services
from market.payloads import instrument_payload
from market.serializers import (
    DepthQuerySerializer,
    DepthResponseSerializer,
    IndicesResponseSerializer,
    InstrumentCreateSerializer,
    InstrumentUpdateSerializer,
    MarketSerializer,
    OhlcvQuerySerializer,
    OhlcvResponseSerializer,
    QuoteResponseSerializer,
    ScanResponseSerializer,
)


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


class QuoteView(GenericAPIView):
    """The latest ticker of one market: from the shared market-data cache when fresh, else fetched once (and cached)."""

    @extend_schema(parameters=[MarketSerializer], responses=QuoteResponseSerializer)
    def get(self, request):
        query = validated(MarketSerializer, request.query_params)
        return Response({"success": True, "quote": quotes.quote(query["exchange"], query["symbol"])})


class DepthView(GenericAPIView):
    """The top order-book levels of one market (the simulated feed: the synthetic book paper orders fill against)."""

    @extend_schema(parameters=[DepthQuerySerializer], responses=DepthResponseSerializer)
    def get(self, request):
        query = validated(DepthQuerySerializer, request.query_params)
        return Response({"success": True, "depth": quotes.depth(query["exchange"], query["symbol"], query["limit"])})


class OhlcvView(GenericAPIView):
    """Closed candles of one market, oldest first, for charts."""

    @extend_schema(parameters=[OhlcvQuerySerializer], responses=OhlcvResponseSerializer)
    def get(self, request):
        query = validated(OhlcvQuerySerializer, request.query_params)
        data = quotes.ohlcv(query["exchange"], query["symbol"], query["timeframe"], query["limit"])
        return Response({"success": True, **data})


class IndicesView(GenericAPIView):
    """The platform's reference indices, computed from the cached tickers (never waits for an exchange)."""

    @extend_schema(responses=IndicesResponseSerializer)
    def get(self, request):
        return Response({"success": True, "indices": indices.compute()})


class ScanView(GenericAPIView):
    """The latest market scan (every strategy over the watched markets, ranked by confidence), as cached by the
    periodic scan: never waits for an exchange."""

    @extend_schema(responses=ScanResponseSerializer)
    def get(self, request):
        latest = scan.latest()
        return Response(
            {
                "success": True,
                "scanned_at": latest["scanned_at"],
                "timeframe": latest["timeframe"],
                "markets_scanned": latest["markets_scanned"],
                "opportunities": latest["opportunities"],
            }
        )
