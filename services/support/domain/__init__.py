"""Support's business rules, pure Python without I/O: one module per concern.

tickets (fields, lifecycle, etags), routing (who gets a ticket), business_hours and sla
(deadlines in business time), knowledge (article search input), surveys (CSAT/NPS tokens and
answers), metrics (figures from ticket facts).
"""
