"""Invoices: gapless numbers under concurrency and rollbacks, lines/tax/totals, void rules, PDFs."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid

import pytest
import sqlalchemy as sa
from billing_driver import Billing, FixedClock
from payments_driver import (
    as_admin,
    as_user,
    billing_app,
    open_account,
    outbox_types,
    pdf_text,
    put_package,
)

from billing.adapters.sqlalchemy_audit import audit
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import invoices as invoicing
from billing.domain.errors import InvoiceStateError

pytestmark = pytest.mark.integration


class ForcedRollback(Exception):
    pass


async def test_numbers_stay_gapless_and_unique_under_concurrent_finalization_with_rollbacks(
    billing: Billing,
):
    account = await billing.open()
    now = billing.clock.now()
    drafts = []
    async with BillingUnitOfWork(billing.sessions) as uow:
        for i in range(30):
            line = invoicing.CustomLine(f"Consulting {i}", 1, 1000 + i)
            drafts.append(
                (await invoicing.create_custom_invoice(account, "eur", [line], uow, now)).invoice_id
            )
        await uow.commit()
    rng = random.Random(7)

    async def finalize(invoice_id: uuid.UUID, fail: bool) -> None:
        async with BillingUnitOfWork(billing.sessions) as uow:
            await invoicing.finalize_invoice(invoice_id, account, uow, now)
            await asyncio.sleep(rng.random() / 100)  # hold the counter row while others queue
            if fail:
                raise ForcedRollback
            await uow.commit()

    doomed = set(rng.sample(drafts, 12))
    first = await asyncio.gather(
        *(finalize(i, i in doomed) for i in drafts), return_exceptions=True
    )
    assert sum(isinstance(r, ForcedRollback) for r in first) == 12
    assert not [r for r in first if r is not None and not isinstance(r, ForcedRollback)]
    await asyncio.gather(*(finalize(i, False) for i in doomed))

    async with BillingUnitOfWork(billing.sessions) as uow:
        numbers = [(await uow.invoices.get(i)).number for i in drafts]
        prefix = (await uow.invoices.profile(account)).number_prefix
    year = now.year
    assert sorted(numbers) == [f"{prefix}-{year}-{n:06d}" for n in range(1, 31)]
    assert await billing.violations() == {}

    # The audit would see a gap: renumber one invoice inside a transaction that is rolled back.
    async with billing.engine.connect() as conn:
        await conn.execute(
            sa.text("UPDATE invoices SET number = :n WHERE invoice_id = :i"),
            {"n": f"{prefix}-{year}-000031", "i": drafts[0]},
        )
        found = await audit(conn)
        await conn.rollback()
    assert list(found) == [
        "invoice or credit-note numbers with gaps or duplicates (per account, series and year)"
    ]


async def test_a_paid_invoice_cannot_be_voided_and_an_open_one_can(billing: Billing):
    account = await billing.open()
    now = billing.clock.now()
    async with BillingUnitOfWork(billing.sessions) as uow:
        paid = await invoicing.create_custom_invoice(
            account, "usd", [invoicing.CustomLine("Setup", 1, 5000)], uow, now
        )
        await invoicing.finalize_invoice(paid.invoice_id, account, uow, now)
        other = await invoicing.create_custom_invoice(
            account, "usd", [invoicing.CustomLine("Setup", 1, 5000)], uow, now
        )
        await invoicing.finalize_invoice(other.invoice_id, account, uow, now)
        locked = await uow.invoices.get(paid.invoice_id, lock=True)
        locked.mark_paid(now)
        await uow.invoices.save(locked)
        await uow.commit()
    async with BillingUnitOfWork(billing.sessions) as uow:
        with pytest.raises(InvoiceStateError):
            await invoicing.void_invoice(paid.invoice_id, account, uow, now)
    async with BillingUnitOfWork(billing.sessions) as uow:
        voided = await invoicing.void_invoice(other.invoice_id, account, uow, now)
        await uow.commit()
    assert voided.status.value == "void"
    assert "invoice.voided" in await outbox_types(billing.engine, account)


async def test_package_invoice_has_tax_per_line_totals_and_a_readable_stored_pdf(
    billing_db, engine, stripe_mock
):
    clock = FixedClock()
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account = await open_account(client)
        code = f"pack-{uuid.uuid4().hex[:6]}"
        await put_package(client, code, price=4900, credits=1000)
        profile = await client.put(
            f"/accounts/{account}/billing-profile",
            json={"name": "Acme GmbH", "email": "billing@acme.test", "address": "1 Main St",
                  "number_prefix": "ACME", "tax_rate_bp": 1900},
            headers=as_admin(account),
        )  # fmt: skip
        assert profile.status_code == 200, profile.text
        bought = await client.post(
            f"/accounts/{account}/package-purchases", json={"package": code},
            headers=as_user(account),
        )  # fmt: skip
        assert bought.status_code == 201, bought.text
        invoice = bought.json()
        assert invoice["status"] == "open"
        assert invoice["number"] == f"ACME-{clock.now().year}-000001"
        assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (4900, 931, 5831)
        assert invoice["lines"][0]["tax_rate_bp"] == 1900
        assert invoice["credits"] == 1000
        assert invoice["billing"]["email"] == "billing@acme.test"

        pdf = await client.get(
            f"/accounts/{account}/invoices/{invoice['invoice_id']}/pdf", headers=as_user(account)
        )
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["x-checksum-sha256"] == hashlib.sha256(pdf.content).hexdigest()
        text = pdf_text(pdf.content)
        assert invoice["number"] in text
        assert f"Pack {code}: 1,000 credits" in text
        assert "Total due" in text and "58.31 EUR" in text
        assert "Acme GmbH" in text

        stranger = uuid.uuid4()
        for path in ("", "/pdf"):
            answer = await client.get(
                f"/accounts/{stranger}/invoices/{invoice['invoice_id']}{path}",
                headers=as_user(stranger),
            )
            assert answer.status_code == 404
            answer = await client.get(
                f"/accounts/{account}/invoices/{invoice['invoice_id']}{path}",
                headers=as_user(stranger),
            )
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "resource_missing", answer.text
        listed = await client.get(f"/accounts/{account}/invoices?limit=1", headers=as_user(account))
        assert [i["invoice_id"] for i in listed.json()["items"]] == [invoice["invoice_id"]]
        assert "invoice.finalized" in await outbox_types(engine, account)


async def test_custom_invoices_are_admin_only_and_numbered_only_when_finalized(
    billing_db, engine, stripe_mock
):
    clock = FixedClock()
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account = await open_account(client)
        body = {"currency": "eur", "lines": [
            {"description": "Migration work", "quantity": 3, "unit_amount": 2500, "credits": 0},
            {"description": "Bonus credits", "quantity": 1, "unit_amount": 0, "credits": 500,
             "tax_rate_bp": 0},
        ]}  # fmt: skip
        refused = await client.post(
            f"/accounts/{account}/invoices", json=body, headers=as_user(account)
        )
        assert refused.status_code == 403
        draft = await client.post(
            f"/accounts/{account}/invoices", json=body, headers=as_admin(account)
        )
        assert draft.status_code == 201, draft.text
        draft = draft.json()
        assert (draft["status"], draft["number"], draft["total"]) == ("draft", None, 7500)
        no_pdf = await client.get(
            f"/accounts/{account}/invoices/{draft['invoice_id']}/pdf", headers=as_user(account)
        )
        assert no_pdf.status_code == 404
        final = await client.post(
            f"/accounts/{account}/invoices/{draft['invoice_id']}/finalize",
            headers=as_admin(account),
        )
        assert final.status_code == 200, final.text
        assert final.json()["number"].endswith("-000001")
        bad = await client.post(
            f"/accounts/{account}/invoices",
            json={"currency": "euro", "lines": []},
            headers=as_admin(account),
        )
        assert bad.status_code == 422


async def test_a_purchase_retried_under_its_idempotency_key_gets_the_first_invoice(
    billing_db, engine, stripe_mock
):
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account = await open_account(client)
        code, other = f"pack-{uuid.uuid4().hex[:6]}", f"pack-{uuid.uuid4().hex[:6]}"
        await put_package(client, code, price=900, credits=100)
        await put_package(client, other, price=1900, credits=300)
        headers = {**as_user(account), "Idempotency-Key": "click-1"}
        path = f"/accounts/{account}/package-purchases"
        answers = await asyncio.gather(
            *(client.post(path, json={"package": code}, headers=headers) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
        assert len({a.json()["invoice_id"] for a in answers}) == 1
        clash = await client.post(path, json={"package": other}, headers=headers)
        assert clash.status_code == 409
        listed = await client.get(f"/accounts/{account}/invoices", headers=as_user(account))
        assert len(listed.json()["items"]) == 1


async def test_the_invoice_list_pages_like_every_list_with_has_more(
    billing_db, engine, stripe_mock
):
    """`has_more` beside `next_cursor`, as the ledger's transactions answer (it was missing)."""
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account = await open_account(client)
        code = f"pack-{uuid.uuid4().hex[:6]}"
        await put_package(client, code, price=900, credits=100)
        bought = []
        for _ in range(3):
            answer = await client.post(
                f"/accounts/{account}/package-purchases",
                json={"package": code},
                headers=as_user(account),
            )
            assert answer.status_code == 201, answer.text
            bought.append(answer.json()["invoice_id"])
        path = f"/accounts/{account}/invoices"
        first = (await client.get(f"{path}?limit=2", headers=as_user(account))).json()
        assert first["has_more"] is True and first["next_cursor"]
        rest = await client.get(
            path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=as_user(account)
        )
        assert rest.status_code == 200, rest.text
        assert rest.json()["has_more"] is False and rest.json()["next_cursor"] is None
        listed = [i["invoice_id"] for i in first["items"] + rest.json()["items"]]
        assert sorted(listed) == sorted(bought) and len(set(listed)) == 3
        whole = (await client.get(path, headers=as_user(account))).json()
        assert whole["has_more"] is False and len(whole["items"]) == 3
        bad = await client.get(path, params={"cursor": "not-a-cursor"}, headers=as_user(account))
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["request_id"]
