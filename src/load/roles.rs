//! One worker's load endpoint: the UAC role, the UAS role, or both in one process.
//!
//! A datagram is scanned once; requests go to the UAS role and responses to the UAC role
//! (a UAC never receives requests in these scenarios, a UAS never receives responses).

use std::time::Instant;

use super::scan;
use super::uac::UacEndpoint;
use super::uas::UasEndpoint;
use crate::endpoint::{Endpoint, Incoming, Outbox};

pub struct LoadEndpoint {
    pub uac: Option<UacEndpoint>,
    pub uas: Option<UasEndpoint>,
}

impl LoadEndpoint {
    /// The UAC role (if any) has placed and ended all its calls.
    pub fn uac_done(&self) -> bool {
        self.uac.as_ref().map_or(true, UacEndpoint::is_done)
    }

    /// Hand the UAS's counters to its sink (the UAC flushes itself when done).
    pub fn flush(&mut self) {
        if let Some(uas) = &mut self.uas {
            uas.flush();
        }
    }
}

impl Endpoint for LoadEndpoint {
    fn on_datagram(&mut self, now: Instant, incoming: Incoming<'_>, out: &mut Outbox) {
        match scan::scan(incoming.bytes) {
            Ok(view) => match view.start {
                scan::StartLine::Request { .. } => match &mut self.uas {
                    Some(uas) => uas.handle(now, &incoming, &view, out),
                    None => {
                        if let Some(uac) = &mut self.uac {
                            uac.handle(now, &incoming, &view, out);
                        }
                    }
                },
                scan::StartLine::Response { .. } => match &mut self.uac {
                    Some(uac) => uac.handle(now, &incoming, &view, out),
                    None => {
                        if let Some(uas) = &mut self.uas {
                            uas.handle(now, &incoming, &view, out);
                        }
                    }
                },
            },
            Err(_) => {
                if let Some(uac) = &mut self.uac {
                    uac.count_malformed();
                } else if let Some(uas) = &mut self.uas {
                    uas.count_malformed();
                }
            }
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(uac) = &mut self.uac {
            if uac.next_timeout().is_some_and(|t| t <= now) {
                uac.on_timeout(now, out);
            }
        }
        if let Some(uas) = &mut self.uas {
            if uas.next_timeout().is_some_and(|t| t <= now) {
                uas.on_timeout(now, out);
            }
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        let a = self.uac.as_ref().and_then(Endpoint::next_timeout);
        let b = self.uas.as_ref().and_then(Endpoint::next_timeout);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
