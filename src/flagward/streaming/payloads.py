"""Domain objects -> SDK JSON. The representation itself is pure domain code
(``flagward.domain.sdk_items``): the approval gate judges a change by it, so SDK delivery and the gate
can never disagree about what an SDK is served."""

from flagward.domain.sdk_items import SdkItem, flag_item, segment_item, tombstone

__all__ = ["SdkItem", "flag_item", "segment_item", "tombstone"]
