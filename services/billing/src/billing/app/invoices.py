"""Invoices: issue (packages, custom lines), finalize with a gapless number, void, store the PDF."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from billing.domain.errors import Conflict, InvalidCommand, UnknownAccount, UnknownInvoice
from billing.domain.invoicing import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    document_number,
)
from billing.ports import BillingProfile, DocumentRenderer, InvoicingUnitOfWork
from igny8.contracts.invoices import InvoiceChanged

UowFactory = Callable[[], InvoicingUnitOfWork]


def default_prefix(account_id: uuid.UUID) -> str:
    return account_id.hex[:6].upper()


async def profile_of(account_id: uuid.UUID, uow: InvoicingUnitOfWork) -> BillingProfile:
    """The account's billing profile, created with defaults on first use."""
    profile = await uow.invoices.ensure_profile(account_id, default_prefix(account_id))
    if profile is None:
        raise UnknownAccount(f"no billing account {account_id}")
    return profile


@dataclass(frozen=True)
class ProfileChange:
    name: str | None = None
    email: str | None = None
    address: str | None = None
    number_prefix: str | None = None
    tax_rate_bp: int | None = None


async def change_profile(
    account_id: uuid.UUID, change: ProfileChange, uow: InvoicingUnitOfWork
) -> BillingProfile:
    profile = await profile_of(account_id, uow)
    updates = {k: v for k, v in vars(change).items() if v is not None}
    prefix = updates.get("number_prefix")
    if prefix is not None and not (
        2 <= len(prefix) <= 12
        and prefix.isascii()
        and prefix.isalnum()
        and prefix == prefix.upper()
    ):
        raise InvalidCommand("a number prefix is 2 to 12 upper-case letters or digits")
    profile = replace(profile, **updates)
    await uow.invoices.save_profile(profile)
    return profile


def invoice_event(invoice: Invoice, at: datetime) -> InvoiceChanged:
    assert invoice.number is not None
    return InvoiceChanged(
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        kind=invoice.kind.value,
        status=invoice.status.value,
        currency=invoice.currency,
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        total=invoice.total,
        credits=invoice.credits,
        subscription_id=invoice.subscription_id,
        at=at,
    )


async def finalize(invoice: Invoice, uow: InvoicingUnitOfWork, now: datetime) -> Invoice:
    """Number a locked draft from the account's counter row, in the caller's transaction."""
    profile = await profile_of(invoice.account_id, uow)
    sequence = await uow.invoices.next_number(invoice.account_id, "invoice", now.year)
    number = document_number(profile.number_prefix, "invoice", now.year, sequence)
    invoice.finalize(number, profile.details, now)
    await uow.invoices.save(invoice)
    await uow.emit("invoice.finalized", invoice_event(invoice, now), invoice.account_id)
    return invoice


async def finalize_invoice(
    invoice_id: uuid.UUID, account_id: uuid.UUID, uow: InvoicingUnitOfWork, now: datetime
) -> Invoice:
    """Idempotent: finalizing an invoice that is already final answers it as it is."""
    invoice = await uow.invoices.get(invoice_id, account_id, lock=True)
    if invoice is None:
        raise UnknownInvoice(f"no invoice {invoice_id}")
    if invoice.status is not InvoiceStatus.DRAFT:
        return invoice
    return await finalize(invoice, uow, now)


async def void_invoice(
    invoice_id: uuid.UUID, account_id: uuid.UUID, uow: InvoicingUnitOfWork, now: datetime
) -> Invoice:
    invoice = await uow.invoices.get(invoice_id, account_id, lock=True)
    if invoice is None:
        raise UnknownInvoice(f"no invoice {invoice_id}")
    was_final = invoice.status is not InvoiceStatus.DRAFT
    invoice.void(now)
    await uow.invoices.save(invoice)
    if was_final:  # a draft has no number and was never announced
        await uow.emit("invoice.voided", invoice_event(invoice, now), account_id)
    return invoice


async def buy_package(
    account_id: uuid.UUID,
    package_code: str,
    uow: InvoicingUnitOfWork,
    now: datetime,
    request_key: str | None = None,
) -> tuple[Invoice, bool]:
    """A finalized invoice for one credit package (paid, it becomes a `paid` grant), and whether
    it was created now: a request retried under the same Idempotency-Key gets the first one."""
    profile = await profile_of(account_id, uow)
    package = await uow.catalogue.latest_package(package_code)
    if package is None or not package.active:
        raise UnknownInvoice(f"no credit package {package_code!r}")
    if request_key is not None:
        await uow.invoices.profile(account_id, lock=True)  # one purchase per account at a time
        earlier = await uow.invoices.by_request_key(account_id, request_key)
        if earlier is not None:
            if earlier.package_id != package.package_id:
                raise Conflict("this Idempotency-Key was used for another purchase")
            return earlier, False
    line = InvoiceLine(
        f"{package.name}: {package.credits:,} credits",
        1,
        package.price,
        profile.tax_rate_bp,
        package.credits,
    )
    invoice = Invoice(
        uuid.uuid4(),
        account_id,
        InvoiceKind.CREDIT_PACKAGE,
        package.currency,
        [line],
        now,
        package_id=package.package_id,
        request_key=request_key,
    )
    await uow.invoices.add(invoice)
    return await finalize(invoice, uow, now), True


@dataclass(frozen=True)
class CustomLine:
    description: str
    quantity: int
    unit_amount: int
    credits: int = 0
    tax_rate_bp: int | None = None
    """None: the account's rate."""


async def create_custom_invoice(
    account_id: uuid.UUID,
    currency: str,
    lines: list[CustomLine],
    uow: InvoicingUnitOfWork,
    now: datetime,
) -> Invoice:
    """A draft with lines written by hand (platform_admin); finalized separately."""
    profile = await profile_of(account_id, uow)
    invoice = Invoice(
        uuid.uuid4(),
        account_id,
        InvoiceKind.CUSTOM,
        currency,
        [
            InvoiceLine(
                line.description,
                line.quantity,
                line.unit_amount,
                profile.tax_rate_bp if line.tax_rate_bp is None else line.tax_rate_bp,
                line.credits,
            )
            for line in lines
        ],
        now,
    )
    await uow.invoices.add(invoice)
    return invoice


async def store_documents(
    invoice_id: uuid.UUID, uow_factory: UowFactory, renderer: DocumentRenderer
) -> bool:
    """Render and store the PDFs of a final invoice and its credit notes that lack one.

    Rendering runs in a thread outside any transaction (it takes a moment and must not hold the
    numbering lock); storing is once per document, so two racing renders store one.
    """
    async with uow_factory() as uow:
        invoice = await uow.invoices.get(invoice_id)
        if invoice is None or invoice.status is InvoiceStatus.DRAFT:
            return False
        missing_invoice = not await uow.invoices.has_document(invoice_id)
        notes = [
            n
            for n in await uow.invoices.credit_notes(invoice_id)
            if not await uow.invoices.has_document(n.credit_note_id)
        ]
    rendered: list[tuple[uuid.UUID, str, bytes]] = []
    if missing_invoice:
        pdf = await asyncio.to_thread(renderer.invoice_pdf, invoice)
        rendered.append((invoice_id, "invoice", pdf))
    for note in notes:
        pdf = await asyncio.to_thread(renderer.credit_note_pdf, note, invoice)
        rendered.append((note.credit_note_id, "credit_note", pdf))
    if rendered:
        async with uow_factory() as uow:
            for document_id, kind, pdf in rendered:
                await uow.invoices.store_document(document_id, invoice.account_id, kind, pdf)
            await uow.commit()
    return bool(rendered)
