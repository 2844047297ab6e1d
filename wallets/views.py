"""Wallet endpoints: stored API keys (/api/keys...), key test, platform health, balances and transfers. Thin views: the
serializers validate, a service does the work or a selector reads, wallets.payloads shapes the response."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from accounts.permissions import PASSWORD_SESSION, PASSWORD_SESSION_FOR_CHANGES
from amarktai.api import validated
from trading.payloads import order_payload
from trading.serializers import OrderFilterSerializer, PositionListResponseSerializer
from wallets import selectors
from wallets import serializers as s
from wallets.payloads import (
    STATUS_DESCRIPTIONS,
    account_payload,
    credential_payload,
    transfer_payload,
    transfer_requested_payload,
)
from wallets.services import accounts as account_service
from wallets.services import balances, credentials, health, transfers


class KeyListView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES  # exchange credentials: an API key may list, never change them
    serializer_class = s.CredentialCreateSerializer

    def get(self, request):
        provider = request.query_params.get("provider")
        keys = selectors.credentials(request.user, provider)
        return Response({"success": True, "keys": [credential_payload(c) for c in keys]})

    def post(self, request):
        data = validated(s.CredentialCreateSerializer, request.data, labels=s.KEY_LABELS)
        cred = credentials.create_credential(
            request.user,
            data["provider"],
            data["api_key"],
            data.get("api_secret", ""),
            data.get("passphrase", ""),
            data.get("label", ""),
            extra=data.get("extra"),
            testnet=data.get("testnet", False),
            accept_withdraw=data.get("accept_withdraw", False),
        )
        return Response({"success": True, "key": credential_payload(cred)}, status=201)


class KeyDetailView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = s.CredentialUpdateSerializer

    def get(self, request, credential_id):
        cred = selectors.access_credential(request.user, credential_id)
        return Response({"success": True, "key": credential_payload(cred)})

    def patch(self, request, credential_id):
        selectors.access_credential(request.user, credential_id)  # 404 before validating a foreign id's payload
        data = validated(s.CredentialUpdateSerializer, request.data, labels=s.KEY_LABELS)
        cred = credentials.update_credential(request.user, credential_id, **data)
        return Response({"success": True, "key": credential_payload(cred)})

    def delete(self, request, credential_id):
        credentials.delete_credential(request.user, credential_id)
        return Response({"success": True, "message": "API key deleted"})


class KeyTestView(GenericAPIView):
    permission_classes = PASSWORD_SESSION
    serializer_class = s.KeyTestSerializer

    def post(self, request):
        data = validated(s.KeyTestSerializer, request.data, labels=s.KEY_LABELS)
        result = credentials.test_keys(
            request.user,
            data.get("provider"),
            data.get("api_key"),
            data.get("api_secret"),
            data.get("passphrase"),
            data.get("credential_id"),
            extra=data.get("extra"),
            testnet=data.get("testnet", False),
            accept_withdraw=data.get("accept_withdraw", False),
        )
        return Response(
            {
                "success": True,
                "message": "API keys are valid",
                "provider": result["provider"],
                "permissions": result.get("permissions"),
                "account": result.get("account"),
            }
        )


class PlatformHealthView(GenericAPIView):
    def get(self, request):
        return Response({"success": True, **health.platforms_health(request.user)})


class BalancesView(GenericAPIView):
    @extend_schema(responses=s.BalancesResponseSerializer)
    def get(self, request):
        return Response({"success": True, **balances.wallet_balances(request.user)})


TRANSFER_STATUS_DOC = (
    "A transfer is a ledger entry: Amarktai does not move money between exchanges. Statuses (each listed transfer "
    "also carries them as `status_description`): " + " ".join(f"`{k}`: {v}" for k, v in STATUS_DESCRIPTIONS.items())
)


class TransferListView(GenericAPIView):
    @extend_schema(description="The user's transfers, newest first. " + TRANSFER_STATUS_DOC)
    def get(self, request):
        items = [transfer_payload(t) for t in selectors.transfers(request.user)]
        return Response({"success": True, "transfers": items})


class TransferCreateView(GenericAPIView):
    serializer_class = s.TransferSerializer

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        description=(
            "Record a transfer between two of the user's exchanges (pending). Refused when an exchange cannot hold the "
            "currency (ZAR to Binance; GET /api/system/platforms lists each exchange's `currencies`) or the amount is "
            "not free on the source. " + TRANSFER_STATUS_DOC
        ),
    )
    @idempotent
    def post(self, request):
        data = validated(s.TransferSerializer, request.data, labels=s.TRANSFER_LABELS)
        transfer = transfers.request_transfer(
            request.user,
            data["from_provider"],
            data["to_provider"],
            data["amount"],
            data["currency"],
            data.get("reason", ""),
        )
        return Response({"success": True, "transfer": transfer_requested_payload(transfer)})


class TransferCancelView(GenericAPIView):
    """Withdraw a pending transfer request: an amount held on a paper account is free again."""

    @extend_schema(request=None)
    def post(self, request, transfer_id):
        transfers.cancel_transfer(request.user, transfer_id)
        transfer = selectors.access_transfer(request.user, transfer_id)
        return Response({"success": True, "transfer": transfer_payload(transfer)})


class TransferCompleteView(GenericAPIView):
    """Confirm a pending transfer was carried out: on paper accounts the held amount moves to the destination."""

    @extend_schema(request=None)
    def post(self, request, transfer_id):
        transfers.complete_transfer(request.user, transfer_id)
        transfer = selectors.access_transfer(request.user, transfer_id)
        return Response({"success": True, "transfer": transfer_payload(transfer)})


# --- trading accounts (/api/accounts) ------------------------------------------------------------------------------
ACCOUNTS_TAG = ["accounts"]


class AccountListView(GenericAPIView):
    """The user's trading accounts: live (API keys) and paper, several per platform."""

    permission_classes = PASSWORD_SESSION_FOR_CHANGES  # an account holds exchange keys: an API key may only list them
    serializer_class = s.AccountCreateSerializer

    @extend_schema(tags=ACCOUNTS_TAG, parameters=[s.AccountFilterSerializer], responses=s.AccountListResponseSerializer)
    def get(self, request):
        filters = validated(s.AccountFilterSerializer, request.query_params)
        found = selectors.accounts(request.user, filters.get("platform"), filters.get("trading_mode"))
        return Response({"success": True, "accounts": [account_payload(a) for a in found]})

    @extend_schema(
        tags=ACCOUNTS_TAG,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: s.AccountResponseSerializer},
        description="Add an account: paper (a simulated account of its own, opened with `starting_balance` or the "
        "platform's default) or live (its API keys, stored encrypted; test them with POST /api/accounts/{id}/test).",
    )
    @idempotent
    def post(self, request):
        data = validated(s.AccountCreateSerializer, request.data, labels=s.ACCOUNT_LABELS)
        account = account_service.create_account(request.user, **data)
        return Response({"success": True, "account": account_payload(account)}, status=201)


class AccountDetailView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES
    serializer_class = s.AccountUpdateSerializer

    @extend_schema(tags=ACCOUNTS_TAG, responses=s.AccountResponseSerializer)
    def get(self, request, account_id):
        account = selectors.access_account(request.user, account_id)
        return Response({"success": True, "account": account_payload(account)})

    @extend_schema(
        tags=ACCOUNTS_TAG,
        responses=s.AccountResponseSerializer,
        description="Rename the account; a live account's keys may change too (its health is then untested).",
    )
    def patch(self, request, account_id):
        selectors.access_account(request.user, account_id)  # 404 before validating a foreign id's payload
        data = validated(s.AccountUpdateSerializer, request.data, labels=s.ACCOUNT_LABELS)
        account = account_service.update_account(request.user, account_id, **data)
        return Response({"success": True, "account": account_payload(account)})

    @extend_schema(
        tags=ACCOUNTS_TAG,
        responses=s.MessageResponseSerializer,
        description="Delete the account (a paper account's balances with it). 409 while it has open orders or open "
        "positions. Its filled orders and trades stay in the history.",
    )
    def delete(self, request, account_id):
        account_service.delete_account(request.user, account_id)
        return Response({"success": True, "message": "Account deleted"})


class AccountTestView(GenericAPIView):
    permission_classes = PASSWORD_SESSION_FOR_CHANGES

    @extend_schema(
        tags=ACCOUNTS_TAG,
        request=None,
        responses=s.AccountTestResponseSerializer,
        description="Test the connection: a live account's keys through the exchange (an authenticated call), a paper "
        "account's own book. The outcome is recorded as the account's `health`; a failed test answers 200 with "
        "`ok: false` and the reason in `message`.",
    )
    def post(self, request, account_id):
        result = account_service.check_connection(request.user, account_id)
        account = selectors.access_account(request.user, account_id)
        return Response({"success": True, **result, "account": account_payload(account)})


class AccountFundsView(GenericAPIView):
    @extend_schema(
        tags=ACCOUNTS_TAG,
        responses=s.AccountFundsResponseSerializer,
        description="The account's balances as its exchange (or its paper book) reports them, and their total value.",
    )
    def get(self, request, account_id):
        return Response({"success": True, **account_service.account_funds(request.user, account_id)})


class AccountPositionsView(GenericAPIView):
    @extend_schema(
        tags=ACCOUNTS_TAG,
        responses=PositionListResponseSerializer,
        description="The open positions on the account, as GET /api/positions shows them.",
    )
    def get(self, request, account_id):
        return Response({"success": True, **account_service.account_positions(request.user, account_id)})


class AccountOrdersView(GenericAPIView):
    serializer_class = s.AccountOrderSerializer

    @extend_schema(tags=ACCOUNTS_TAG, parameters=[OrderFilterSerializer], responses=s.AccountOrdersResponseSerializer)
    def get(self, request, account_id):
        filters = validated(OrderFilterSerializer, request.query_params)
        orders, children, total = account_service.account_orders(request.user, account_id, **filters)
        payloads = [order_payload(o, children=children.get(str(o.pk))) for o in orders]
        return Response({"success": True, "account_id": str(account_id), "orders": payloads, "total": total})

    @extend_schema(
        tags=ACCOUNTS_TAG,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: s.AccountOrderResponseSerializer},
        description="Place an order on this account: a paper account's own book, a live account's keys (only in the "
        "live modes). As POST /api/orders otherwise.",
    )
    @idempotent
    def post(self, request, account_id):
        selectors.access_account(request.user, account_id)  # 404 before validating a foreign id's payload
        data = validated(s.AccountOrderSerializer, request.data)
        order = account_service.place_account_order(request.user, account_id, **data)
        return Response({"success": True, "order": order_payload(order)}, status=201)
