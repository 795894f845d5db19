"""Settlements: every Amazon payout reconciled to the cent, and books an accountant can import.

    parsing.py  Amazon's settlement report read as a stream, into sums (pure)
    rules.py    categories, the control total, each order's money, matching documents (pure)
    journal.py  the seller's account mapping and the summary journal entries (pure)
    exports.py  the journal as CSV, Xero, QuickBooks Online and FEC files (pure)
"""
