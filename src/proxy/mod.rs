//! The proxy core: RFC 3261 §16 on top of the §17 transactions, and the hooks where routing
//! decisions plug in.
//!
//! | file               | owns                                                          |
//! |--------------------|---------------------------------------------------------------|
//! | `stateful.rs`      | [`StatefulProxy`]: the [`crate::endpoint::Endpoint`] a worker runs |
//! | `router.rs`        | [`Router`], [`RouteDecision`], [`Target`], the failure route  |
//! | `transaction.rs`   | one proxied transaction: server side, branches, best response |
//! | `best_response.rs` | §16.7 step 6: which final response wins                       |
//! | `compose.rs`       | writing forwarded requests, responses, CANCEL and ACK         |
//! | `splice.rs`        | the edit list those writers use                               |
//! | `locality.rs`      | "is this URI us", next hop without DNS                        |
//! | `config.rs`        | [`ProxyConfig`]                                               |
//! | `stats.rs`         | [`ProxyStats`]                                                |

pub mod best_response;
mod compose;
pub mod config;
pub mod locality;
pub mod provider;
pub mod router;
mod splice;
pub mod stateful;
pub mod stateless;
pub mod stats;
mod transaction;

pub use config::ProxyConfig;
pub use locality::{Locality, NextHopError};
pub use router::{
    Failure, FailureDecision, RelayToRequestUri, Reply, RequestInfo, RouteDecision, Router, Target,
};
pub use stateful::StatefulProxy;
pub use stats::ProxyStats;
