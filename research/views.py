"""Backtest endpoints (/api/backtests): thin; a serializer validates, research.services acts, research.selectors
reads, research.payloads shapes the answer."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from amarktai.api import validated
from research import selectors, services
from research import serializers as s
from research.payloads import backtest_payload


class BacktestListView(GenericAPIView):
    serializer_class = s.BacktestCreateSerializer

    @extend_schema(parameters=[s.BacktestListSerializer])
    def get(self, request):
        filters = validated(s.BacktestListSerializer, request.query_params)
        rows = selectors.backtests(request.user, filters["limit"])
        return Response({"success": True, "backtests": [backtest_payload(b, with_result=False) for b in rows]})

    # A retried POST with the same Idempotency-Key answers the first run instead of starting (and counting) another.
    @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @idempotent
    def post(self, request):
        data = validated(s.BacktestCreateSerializer, request.data)
        backtest = services.create_backtest(request.user, data)
        return Response({"success": True, "backtest": backtest_payload(backtest)}, status=202)


class BacktestDetailView(GenericAPIView):
    def get(self, request, backtest_id):
        backtest = selectors.access_backtest(request.user, backtest_id)
        return Response({"success": True, "backtest": backtest_payload(backtest)})

    def delete(self, request, backtest_id):
        backtest = services.cancel_backtest(request.user, backtest_id)
        return Response({"success": True, "backtest": backtest_payload(backtest, with_result=False)})
