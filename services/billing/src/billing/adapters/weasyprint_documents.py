"""Invoice and credit-note PDFs: an HTML template rendered with WeasyPrint."""

from __future__ import annotations

from html import escape

from weasyprint import HTML

from billing.domain.invoicing import CreditNote, Invoice, InvoiceLine

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx",
                "vnd", "vuv", "xaf", "xof", "xpf"}  # fmt: skip

STYLE = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; color: #222; }
h1 { font-size: 18pt; margin: 0 0 4mm; }
table { width: 100%; border-collapse: collapse; margin-top: 6mm; }
th, td { padding: 2mm; border-bottom: 0.3mm solid #ccc; text-align: left; }
td.n, th.n { text-align: right; }
.totals td { border: none; }
.muted { color: #666; }
"""


def money(amount: int, currency: str) -> str:
    """Minor units as text: 4900 EUR → "49.00 EUR" (zero-decimal currencies as they are)."""
    code = currency.upper()
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount:,} {code}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d} {code}"


def _line(line: InvoiceLine, currency: str) -> str:
    return (
        f"<tr><td>{escape(line.description)}</td><td class='n'>{line.quantity}</td>"
        f"<td class='n'>{money(line.unit_amount, currency)}</td>"
        f"<td class='n'>{line.tax_rate_bp / 100:.2f} %</td>"
        f"<td class='n'>{line.credits:,}</td>"
        f"<td class='n'>{money(line.amount, currency)}</td></tr>"
    )


def _billed(invoice: Invoice) -> str:
    parts = [invoice.billing.name, invoice.billing.email, invoice.billing.address]
    return "<br>".join(escape(p) for p in parts if p) or "—"


def invoice_html(invoice: Invoice) -> str:
    c = invoice.currency
    period = ""
    if invoice.period_start and invoice.period_end:
        period = f"<p>Period: {invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}</p>"
    issued = invoice.finalized_at or invoice.created_at
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head>
<body>
<h1>Invoice {escape(invoice.number or "DRAFT")}</h1>
<p class="muted">IGNY8 · issued {issued:%Y-%m-%d} · status {invoice.status.value}</p>
<p><strong>Billed to</strong><br>{_billed(invoice)}</p>
{period}
<table>
<tr><th>Description</th><th class="n">Qty</th><th class="n">Unit price</th><th class="n">Tax</th>
<th class="n">Credits</th><th class="n">Amount</th></tr>
{"".join(_line(line, c) for line in invoice.lines)}
</table>
<table class="totals">
<tr><td class="n">Subtotal</td><td class="n">{money(invoice.subtotal, c)}</td></tr>
<tr><td class="n">Tax</td><td class="n">{money(invoice.tax, c)}</td></tr>
<tr><td class="n"><strong>Total</strong></td><td class="n"><strong>Total due
{money(invoice.total, c)}</strong></td></tr>
<tr><td class="n">Credits bought</td><td class="n">{invoice.credits:,}</td></tr>
</table>
</body></html>"""


def credit_note_html(note: CreditNote, invoice: Invoice) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head>
<body>
<h1>Credit note {escape(note.number)}</h1>
<p class="muted">IGNY8 · issued {note.created_at:%Y-%m-%d} · corrects invoice
{escape(invoice.number or "")}</p>
<p><strong>Billed to</strong><br>{_billed(invoice)}</p>
<table>
<tr><th>Reason</th><th class="n">Amount credited</th></tr>
<tr><td>{escape(note.reason)}</td><td class="n">{money(note.amount, note.currency)}</td></tr>
</table>
<p>{escape(note.memo)}.</p>
</body></html>"""


class WeasyPrintDocumentRenderer:
    def invoice_pdf(self, invoice: Invoice) -> bytes:
        return bytes(HTML(string=invoice_html(invoice)).write_pdf())

    def credit_note_pdf(self, note: CreditNote, invoice: Invoice) -> bytes:
        return bytes(HTML(string=credit_note_html(note, invoice)).write_pdf())
