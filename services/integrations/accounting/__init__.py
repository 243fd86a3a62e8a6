"""Accounting connectors: QuickBooks Online and Xero (issue #7 point 4; docs/adr/0059, 0060).

- `domain`: what an invoice for a won deal or an accepted quote is, money as exact decimals, the
  webhook signatures (pure, no I/O).
- `quickbooks`, `xero`: each vendor's API through the shared HTTP client (connectors/http.py):
  customers both ways, invoices out, payments and invoices in, incremental by cursor.
- `usecases`: the sales-events consumer that invoices, the inbound sync that records payments
  (PaymentReceived) with its cursors, and the public webhook endpoint that asks for a sync.
"""
