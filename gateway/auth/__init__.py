"""Sender authentication: SPF, DKIM, DMARC, ARC, the Authentication-Results header,
impersonation of the trust's staff and domains, and outbound DKIM signing.

One concern per module; `gateway.checks.auth` and `gateway.checks.impersonation` wire
them into the pipeline. Every DNS lookup goes through `gateway.auth.dns.Resolver`,
which caches by TTL, coalesces concurrent identical queries and reports a timeout or
SERVFAIL as a temporary error (never as "no record").
"""
