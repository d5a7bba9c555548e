"""Staff reports of offensive mail (policy 2.1.3): the report address and what follows.

Mail to `[reports] address` from a member of staff (through the academy mail server) is
not delivered: `extract` finds the reported message in it (attached, ARF, or forwarded
inline), `link` finds the copy the gateway itself saw, and `intake` runs it through the
checks, stores the report, alerts the reviewers and thanks the reporter.
"""
