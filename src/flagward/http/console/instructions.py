"""One line per instruction on the request page.

Stand-in until ``flagward.domain.describe`` lands: the instruction's kind in words and its parameters.
"""

from __future__ import annotations

import json
import re
from typing import Any


def instruction_line(instruction: dict[str, Any]) -> str:
    kind = str(instruction.get("kind", "change"))
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower().capitalize()
    params = {k: v for k, v in instruction.items() if k != "kind"}
    return f"{words}: {json.dumps(params, sort_keys=True)}" if params else words
