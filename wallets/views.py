"""Wallet endpoints: stored API keys (/api/keys...), key test, platform health, balances and transfers. Thin views: the
serializers validate, a service does the work or a selector reads, wallets.payloads shapes the response."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from accounts.permissions import PASSWORD_SESSION, PASSWORD_SESSION_FOR_CHANGES
from amarktai.api import validated
from wallets import selectors
from wallets import serializers as s
from wallets.payloads import STATUS_DESCRIPTIONS, credential_payload, transfer_payload, transfer_requested_payload
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
        )
        return Response({"success": True, "message": "API keys are valid", **result})


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
