"""The payment gateway on Stripe's official SDK (async client, `client.v1.*`).

Every create call carries the idempotency key the caller stored before calling. The secret key
and the webhook secret live in `SecretStr` settings and are never logged or put in errors.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import stripe

from billing.domain.errors import InvalidSignature, PaymentFailed, PaymentProviderUnavailable
from billing.domain.invoicing import Invoice, InvoiceKind
from billing.domain.payments import Payment
from billing.ports import ChargeResult, CheckoutSession, ProviderEvent


class StripePaymentGateway:
    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        tolerance_s: int = 300,
        timeout_s: float = 20.0,
        max_retries: int = 2,
    ) -> None:
        options: dict[str, Any] = {}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(
            secret_key,
            http_client=stripe.HTTPXClient(timeout=timeout_s),
            max_network_retries=max_retries,
            **options,
        )
        self._webhook_secret = webhook_secret
        self._tolerance_s = tolerance_s

    @staticmethod
    def _metadata(payment: Payment, invoice: Invoice) -> dict[str, str]:
        # Webhooks find our payment by this id, whatever order they arrive in.
        return {
            "igny8_payment_id": str(payment.payment_id),
            "igny8_invoice_id": str(invoice.invoice_id),
            "igny8_account_id": str(invoice.account_id),
        }

    async def ensure_customer(
        self, account_id: uuid.UUID, email: str, name: str, idempotency_key: str
    ) -> str:
        params: dict[str, Any] = {"metadata": {"igny8_account_id": str(account_id)}}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        customer = await self._call(self._client.v1.customers.create_async, params, idempotency_key)
        return str(customer.id)

    async def checkout(
        self,
        payment: Payment,
        invoice: Invoice,
        customer_id: str,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        metadata = self._metadata(payment, invoice)
        intent_data: dict[str, Any] = {"metadata": metadata}
        if invoice.kind is InvoiceKind.SUBSCRIPTION:  # so that renewals can charge it later
            intent_data["setup_future_usage"] = "off_session"
        session = await self._call(
            self._client.v1.checkout.sessions.create_async,
            {
                "mode": "payment",
                "customer": customer_id,
                "client_reference_id": str(invoice.invoice_id),
                "success_url": success_url,
                "cancel_url": cancel_url,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": invoice.currency,
                            "unit_amount": invoice.total,
                            "product_data": {"name": f"Invoice {invoice.number}"},
                        },
                    }
                ],
                "metadata": metadata,
                "payment_intent_data": intent_data,
            },
            payment.idempotency_key,
        )
        return CheckoutSession(str(session.id), str(session.url or ""))

    async def charge(
        self, payment: Payment, invoice: Invoice, customer_id: str, payment_method: str | None
    ) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": invoice.total,
            "currency": invoice.currency,
            "customer": customer_id,
            "description": f"Invoice {invoice.number}",
            "metadata": self._metadata(payment, invoice),
        }
        if payment_method:
            params.update(payment_method=payment_method, confirm=True, off_session=True)
        intent = await self._call(
            self._client.v1.payment_intents.create_async, params, payment.idempotency_key
        )
        return ChargeResult(str(intent.id), str(intent.status), intent.client_secret)

    async def refund(self, intent_id: str, amount: int | None, idempotency_key: str) -> str:
        params: dict[str, Any] = {"payment_intent": intent_id}
        if amount is not None:
            params["amount"] = amount
        refund = await self._call(self._client.v1.refunds.create_async, params, idempotency_key)
        return str(refund.id)

    @staticmethod
    async def _call(method: Any, params: dict[str, Any], idempotency_key: str) -> Any:
        try:
            return await method(params, {"idempotency_key": idempotency_key})
        except stripe.CardError as declined:
            # A decline is an outcome, not an outage: it walks dunning (the message is Stripe's
            # text for the customer and carries no secret).
            raise PaymentFailed(declined.user_message or declined.code or "card declined") from None
        except stripe.InvalidRequestError as refused:
            raise PaymentFailed(f"refused by Stripe: {refused.code or 'invalid_request'}") from None
        except stripe.StripeError as outage:  # connection, authentication, rate limit, 5xx
            raise PaymentProviderUnavailable(
                f"Stripe did not answer: {type(outage).__name__}"
            ) from None

    def verify_webhook(self, payload: bytes, signature: str | None) -> ProviderEvent:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, self._tolerance_s
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            raise InvalidSignature("the Stripe-Signature does not verify") from None
        try:
            document = json.loads(payload)
            event_id, event_type = str(document["id"]), str(document["type"])
            obj = document["data"]["object"]
            if not isinstance(obj, dict):
                raise TypeError("data.object is not an object")
        except (ValueError, KeyError, TypeError):
            raise InvalidSignature("a signed body that is not a Stripe event") from None
        return ProviderEvent(event_id, event_type, obj)
