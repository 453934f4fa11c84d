"""Errors the Raft core raises, split by whose fault they are.

``ProposalRefused`` and its subclasses are the caller's ordinary business: the
proposal was not taken (wrong node, a change already pending, ...) and nothing
changed, so the caller may retry elsewhere or later. ``StorageError`` subclasses
are part of the storage contract: every ``Storage`` raises exactly these.
``InvariantViolation`` means a bug or corrupt storage: the core refuses to go on
rather than risk replicating a wrong log.
"""

from __future__ import annotations

from mesh.raft.types import NodeId


class RaftError(Exception):
    """Base class of everything the Raft core raises on purpose."""


class ProposalRefused(RaftError):
    """A proposal (or a leader transfer) was not accepted; the log is unchanged."""


class NotLeader(ProposalRefused):
    """This node is not the leader. ``leader_id`` is the leader it knows of, or None."""

    def __init__(self, leader_id: NodeId | None, *, reason: str = "not leader") -> None:
        self.leader_id = leader_id
        self.reason = reason
        super().__init__(f"{reason} (known leader: {leader_id if leader_id else 'none'})")


class LeadershipTransferring(ProposalRefused):
    """The leader is handing over to ``to``; proposals wait for the new leader."""

    def __init__(self, to: NodeId) -> None:
        self.to = to
        super().__init__(f"leadership transfer to {to} in progress")


class ConfChangePending(ProposalRefused):
    """A membership change at ``pending_index`` is not committed yet; one at a time."""

    def __init__(self, pending_index: int) -> None:
        self.pending_index = pending_index
        super().__init__(f"a membership change is still pending at index {pending_index}")


class ConfChangeTooEarly(ProposalRefused):
    """The leader has not yet committed an entry of its own term.

    Until it has, a single-server change could be decided under a configuration
    the previous leader was about to replace (the 2015 single-server change bug).
    """

    def __init__(self, term_start_index: int, commit: int) -> None:
        self.term_start_index = term_start_index
        self.commit = commit
        super().__init__(
            f"leader has not committed its first entry yet "
            f"(index {term_start_index}, commit {commit}); retry shortly"
        )


class InvalidConfChange(ProposalRefused):
    """The change makes no sense against the current configuration."""


class InvalidTransfer(ProposalRefused):
    """Leadership cannot be transferred to that node."""


class StorageError(RaftError):
    """Base of the errors every ``Storage`` implementation raises."""


class CompactedError(StorageError):
    """The requested index is at or below the snapshot: the entry is gone."""


class UnavailableError(StorageError):
    """The requested index is beyond the last stored entry."""


class SnapshotOutOfDate(StorageError):
    """A snapshot older than (or equal to) the one already stored was offered."""


class InvariantViolation(RaftError):
    """A Raft invariant broke: a bug, or storage that lost acknowledged data."""
