from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from amarktai.api import validated
from amarktai.csvstream import csv_response
from trading import selectors, services
from trading.payloads import CSV_COLUMNS, order_payload, trade_csv_row, trade_list_row_payload
from trading.serializers import (
    OrderCreateSerializer,
    OrderFilterSerializer,
    OrderModifySerializer,
    PositionListResponseSerializer,
    RoundTripFilterSerializer,
    TradeExportSerializer,
    TradeListResponseSerializer,
    TradeListSerializer,
)


class FirstRenderer(DefaultContentNegotiation):
    """Ignore ``?format=``: on the export it names the file format, not one of DRF's renderers (errors stay JSON)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class TradeListView(GenericAPIView):
    @extend_schema(
        parameters=[TradeListSerializer],
        responses=TradeListResponseSerializer,
        description="The user's trades, newest first. `total` counts every match. Page with `offset`, or (cheaper "
        "however deep) pass the previous page's `next_cursor` as `cursor`; `next_cursor` is null on the last page.",
    )
    def get(self, request):
        filters = validated(TradeListSerializer, request.query_params)
        trades, total, next_cursor = selectors.trades_page(request.user, **filters)
        return Response(
            {
                "success": True,
                "trades": [trade_list_row_payload(t) for t in trades],
                "total": total,
                "next_cursor": next_cursor,
            }
        )


class RoundTripListView(GenericAPIView):
    @extend_schema(parameters=[RoundTripFilterSerializer])
    def get(self, request):
        filters = validated(RoundTripFilterSerializer, request.query_params)
        trips, total = selectors.round_trips_page(request.user, **filters)
        return Response({"success": True, "round_trips": trips, "total": total})


class TradeExportView(GenericAPIView):
    content_negotiation_class = FirstRenderer

    @extend_schema(
        parameters=[TradeExportSerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="Every trade matching the filters as a CSV file (streamed; newest first; a header row).",
    )
    def get(self, request):
        filters = validated(TradeExportSerializer, request.query_params)
        filters.pop("format")
        trades = selectors.filtered_trades(request.user, **filters)
        return csv_response(
            "amarktai-trades.csv", CSV_COLUMNS, (trade_csv_row(t) for t in trades.iterator(chunk_size=2000))
        )


class PositionListView(GenericAPIView):
    @extend_schema(responses=PositionListResponseSerializer)
    def get(self, request):
        return Response({"success": True, **selectors.positions_report(request.user)})


class OrderListView(GenericAPIView):
    serializer_class = OrderCreateSerializer

    def get(self, request):
        filters = validated(OrderFilterSerializer, request.query_params)
        orders, total = selectors.orders_page(request.user, **filters)
        children = selectors.children_of(orders)
        payloads = [order_payload(o, children=children.get(str(o.pk))) for o in orders]
        return Response({"success": True, "orders": payloads, "total": total})

    @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request):
        data = validated(OrderCreateSerializer, request.data)
        order = services.manual_order(request.user, **data)
        return Response({"success": True, "order": order_payload(order)}, status=201)


class OrderDetailView(GenericAPIView):
    serializer_class = OrderModifySerializer

    def get(self, request, order_id):
        order = selectors.access_order(request.user, order_id)
        return Response({"success": True, "order": order_payload(order, children=selectors.order_children(order))})

    def patch(self, request, order_id):
        data = validated(OrderModifySerializer, request.data)
        order = services.modify_user_order(request.user, order_id, data.get("amount"), data.get("price"))
        return Response({"success": True, "order": order_payload(order)})


class OrderCancelView(GenericAPIView):
    def post(self, request, order_id):
        order = services.cancel_user_order(request.user, order_id)
        return Response({"success": True, "order": order_payload(order)})
