"""The fake-user pool: cohorts of registered fake users, leased one run at a time.

The ``users:`` section's models live with the config (``livesite.config.users``: the core loads and
validates them); this service runs them: :class:`UserPool` leases users through the store's lease
table, :mod:`.provision` registers and removes provisioned users, :mod:`.accounts` keeps their
credentials in a 0600 file, never in the store.
"""

from livesite.config.users import Cohort, CohortAttributes, ListedUser, UsersSettings
from livesite.users.accounts import Account, read_accounts
from livesite.users.pool import KIND, Leased, NoFreeUser, UserPool, identity_for
from livesite.users.provision import Outcome, cleanup, provision

__all__ = [
    "KIND",
    "Account",
    "Cohort",
    "CohortAttributes",
    "Leased",
    "ListedUser",
    "NoFreeUser",
    "Outcome",
    "UserPool",
    "UsersSettings",
    "cleanup",
    "identity_for",
    "provision",
    "read_accounts",
]
