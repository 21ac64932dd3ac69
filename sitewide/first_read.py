"""A request's first query, when it is a read, stands in for the connection's health check.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of a request on
a connection kept from an earlier one. A page served from memory needs one query of its
own (the seats it shows, or the cache's generations), so the check would double its round
trips. Instead that read is the check: when the connection turns out broken (PostgreSQL
restarted meanwhile), it is closed and the read repeated on a new one, which is what the
check would have done. Only statements that may run twice: reads, and the rate limit's
count of a post (``sitewide.ratelimit``; on a connection that broke while it ran, one
attempt may be counted twice, which harms nobody).
"""

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, transaction


def checked_read(read, using=DEFAULT_DB_ALIAS):
    """``read()``, standing in for the health check of `using`'s connection if it is due."""
    connection = transaction.get_connection(using)
    checking = _stands_in_for_health_check(connection)
    try:
        return read()
    except (OperationalError, InterfaceError):
        if not checking:
            raise
        connection.close()  # broken since its last request: read on a new one
        return read()


def _stands_in_for_health_check(connection):
    """Whether the next query is the first on a connection kept from an earlier request,
    outside a transaction, that Django would health-check first. If so, it will not: the
    caller's read is the check."""
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return False
    connection.health_check_done = True
    return True
