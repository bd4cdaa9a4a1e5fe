"""The distributor network, one concern per module:

- `tree`: the team tree (materialized paths, subtrees, ancestors, rewriting a subtree)
- `team`: reading a team (who may ask, sizes, per-depth counts, members)
- `program`: the program's configuration and staff edits to it
- `customers`: a customer's current binding and purchase figures
- `access`: who may see a distributor or an application, and which fields
- `applications`: applying, purchase thresholds, review
- `placement`: joining the tree on approval, staff moves (both re-evaluate grades)
- `status`: distributor states
- `listing`: lists of distributors and applications

This facade re-exports the lower-level names other domains read (the tree, the program, a
customer's binding). It deliberately leaves out `applications` and `placement`: they build on
`services.grade`, which itself builds on `tree`, so importing them here would make the package
import itself through grade.
"""

from services.network.customers import active_binding
from services.network.program import default_program, get_program
from services.network.team import depth_counts
from services.network.tree import (
    ancestors,
    ancestors_for_commission,
    distributor_for_user,
    in_subtree,
    path_ids,
    require_own_distributor,
    rewrite_subtree,
)

__all__ = [
    "active_binding",
    "ancestors",
    "ancestors_for_commission",
    "default_program",
    "depth_counts",
    "distributor_for_user",
    "get_program",
    "in_subtree",
    "path_ids",
    "require_own_distributor",
    "rewrite_subtree",
]
