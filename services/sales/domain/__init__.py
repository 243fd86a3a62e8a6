"""Sales' business rules, pure Python without I/O: one module per concern.

leads (fields, status lifecycle, etags), assignment (which rep gets a new lead), scoring
(attribute and engagement points with decay, threshold crossings), web_forms (public submissions);
pipelines, opportunities, forecasts and quotes (money, stage rules, pricing).
"""
