"""The catalogue: each change of a plan or package is a new version under the same code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from billing.domain.subscriptions import CreditPackage, Interval, Plan
from billing.ports import InvoicingUnitOfWork


@dataclass(frozen=True)
class Offer:
    code: str
    name: str
    price: int
    currency: str
    credits: int
    active: bool = True


async def put_plan(offer: Offer, interval: Interval, uow: InvoicingUnitOfWork) -> Plan:
    """Invoices already issued keep pointing at the version they were issued from."""
    latest = await uow.catalogue.latest_plan(offer.code)
    plan = Plan(
        uuid.uuid4(),
        offer.code,
        (latest.version + 1) if latest else 1,
        offer.name,
        interval,
        offer.price,
        offer.currency.lower(),
        offer.credits,
        offer.active,
    )
    await uow.catalogue.add_plan(plan)
    return plan


async def put_package(offer: Offer, uow: InvoicingUnitOfWork) -> CreditPackage:
    latest = await uow.catalogue.latest_package(offer.code)
    package = CreditPackage(
        uuid.uuid4(),
        offer.code,
        (latest.version + 1) if latest else 1,
        offer.name,
        offer.price,
        offer.currency.lower(),
        offer.credits,
        offer.active,
    )
    await uow.catalogue.add_package(package)
    return package
