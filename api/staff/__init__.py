"""What helpline staff do, for the staff's REST API, their page and the ``amaan`` CLI alike.

``accounts`` (accounts, keys, grants), ``budgets`` (limits, caps and the overview),
``records`` (the ledger, the audit log and its verification) and ``publications`` (the staff
side of published extracts). Every change is audited in the transaction of the change itself,
with who made it; the caller's session dependency commits. Results are typed (dataclasses
holding ``privacy.Epsilon``): each interface formats them for itself.
"""
