"""The vector items flagward's REST API refuses to create, by file and item, with the refusal's gist.

They are malformed on purpose (the vectors check that SDKs survive bad data that reached them), and
flagward validates what it stores, as LaunchDarkly's API does, so it never serves them; or they need a
value the API does not let anyone set (a segment's salt is chosen by the server).
"""

from __future__ import annotations

_TYPES = ("any", "bool", "double", "int", "string")

LEFT_OUT: dict[str, dict[str, str]] = {
    "server-side-eval/errors.yml": {
        **{
            f"flags/{where}-variation-too-high-{t}": "needs at least two variations"  # one variation; index 1 used
            for where in ("fallthrough", "off", "rule-match", "target-match")
            for t in _TYPES
        },
        **{
            f"flags/{where}-variation-too-low-{t}": "must be the index of one of"  # a negative index
            for where in ("fallthrough", "off", "rule-match", "target-match")
            for t in _TYPES
        },
    },
    "server-side-eval/errors-bad-attribute-reference.yml": {"flags/test-flag": "attribute is required"},
    "server-side-eval/prerequisites.yml": {
        "flags/flag-with-prereq-cycle-at-deeper-level-3": "form a cycle",
        "flags/flag-with-prereq-cycle-at-top-level-3": "form a cycle",
        "flags/flag-with-unknown-prereq": "does not exist",
    },
    "server-side-eval/rule-match.yml": {
        "flags/flag-with-unknown-operator-in-first-rule": "is not a known operator",
    },
    "server-side-eval/segment-match.yml": {
        "flags/flag-using-unknown-segment": "does not exist",
        "segments/segment3": "salt cannot be set",
    },
    "server-side-eval/variation-value-types.yml": {
        "flags/off-flag": "duplicates another variation",
        "flags/on-flag": "duplicates another variation",
    },
}
