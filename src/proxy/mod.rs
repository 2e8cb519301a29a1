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

//!
//! # Plugging routing in
//!
//! ```text
//!   struct MyRouter { .. }
//!   impl Router for MyRouter {
//!       fn route(&mut self, now, req: &Message, info: &RequestInfo) -> RouteDecision {
//!           // REGISTER, location lookup, aliases, gateways...
//!           RouteDecision::Relay(vec![Target::uri("sip:bob@192.0.2.7:5060").with_q(1000),
//!                                     Target::uri("sip:bob@192.0.2.8").with_q(500)])
//!           // or RouteDecision::Respond(Reply::new(404, "Not Found").with_header("..."))
//!       }
//!       fn failure_route(&mut self, now, req, f: &Failure) -> FailureDecision {
//!           // f.code (best so far, 408 on timeout), f.branch_codes, f.attempts, f.txn
//!           FailureDecision::Relay(vec![Target::uri("sip:vm@192.0.2.9")])  // or Forward / Respond
//!       }
//!       fn resolve(&mut self, host: &[u8], port: u16) -> Option<SocketAddr> { None } // static names
//!       fn transaction_ended(&mut self, txn: u64) {}                            // per-txn state
//!   }
//!   let cfg = ProxyConfig { listen: worker.local_addrs.clone(), worker: i as u16,
//!                           workers: n as u16, branch_salt, ..ProxyConfig::default() };
//!   let core: Box<dyn Endpoint> = Box::new(StatefulProxy::new(cfg, MyRouter { .. }, now));
//! ```
//!
//! Equal q targets fork in parallel, lower q groups are tried in turn when every branch of
//! the group failed; the failure route runs once nothing is left (not after a CANCEL, nor
//! after a 2xx), and may start more branches in the same transaction.

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
