//! Counters of one worker's proxy core: plain integers, summed by the management API on read.

/// What one [`super::StatefulProxy`] has seen and done since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProxyStats {
    pub requests: u64,
    pub responses: u64,
    /// Datagrams that did not parse (answered 400 when possible, else dropped).
    pub malformed: u64,
    /// Requests refused by §16.3 validation (400, 416, 420, 482, 483).
    pub rejected: u64,
    pub loops: u64,
    /// Server transactions created.
    pub transactions: u64,
    /// Requests refused with 503 because the table was full.
    pub table_full: u64,
    /// Request or response retransmissions absorbed or answered from the transaction.
    pub retransmissions: u64,
    /// Requests forwarded without a transaction (2xx ACK, unmatched CANCEL).
    pub stateless_requests: u64,
    /// Responses forwarded without a transaction (late 2xx, RFC 6026).
    pub stateless_responses: u64,
    /// Responses handed to the worker that owns their branch.
    pub handoffs: u64,
    /// Responses dropped (not ours, stale, malformed).
    pub dropped_responses: u64,
    /// Branches that ended with Timer C.
    pub timer_c_fired: u64,
    /// CANCELs received that matched a transaction.
    pub cancels: u64,
}
