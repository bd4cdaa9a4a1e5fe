"""Limits the law and the platforms put on a distribution scheme, whatever a program says.

Commission is paid on sales of goods only and on at most three levels of a team: a fourth
level is what turns a distribution scheme into an illegal pyramid under Chinese rules, so no
setting, product override or staff action may go past it.
"""

from __future__ import annotations

MAX_COMMISSION_TIERS = 3
