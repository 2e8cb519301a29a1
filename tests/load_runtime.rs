//! `ringlet load` on the real runtime over loopback: UAC and UAS in one process, the UAC
//! sending straight to the UAS (no proxy in between). Bounded: a few dozen calls.
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use ringlet::config::IoBackendChoice;
use ringlet::load::run::{run_once, Roles, RunPlan};
use ringlet::load::stats::FailCause;
use ringlet::load::uac::{Scenario, SipTimers};
use ringlet::load::users::User;

/// A loopback UDP port that was free a moment ago.
fn free_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

fn plan(scenario: Scenario, uas: SocketAddr, io: IoBackendChoice) -> RunPlan {
    RunPlan {
        scenario,
        roles: Roles::Both,
        proxy: uas,
        uas_addr: uas,
        target: format!("sip:uas@{uas}"),
        uac_local: "127.0.0.1:0".parse().unwrap(),
        ports_per_worker: 4,
        workers: 2,
        cores: None,
        io,
        rate: 200.0,
        duration: Duration::from_secs(10),
        count: 40,
        max_concurrent: 10_000,
        ring: Duration::from_millis(5),
        hold: Duration::from_millis(5),
        no_answer: Duration::from_millis(200),
        busy_share: 0.25,
        no_answer_share: 0.25,
        users: Arc::from(Vec::<User>::new()),
        identity: ("load".into(), "127.0.0.1".into()),
        expires: 60,
        drain: Duration::from_secs(5),
        timers: SipTimers::default(),
        record_correct: false,
        progress: false,
    }
}

fn calls_through(io: IoBackendChoice) {
    let uas = free_port();
    let r = run_once(&plan(Scenario::Call, uas, io)).unwrap();
    let s = &r.stats;
    assert_eq!(s.attempted, 40);
    assert_eq!(s.succeeded, 20, "{:?}", s.failed);
    assert_eq!(s.failed.get(&FailCause::Status(486)), Some(&10));
    assert_eq!(s.failed.get(&FailCause::NoAnswer), Some(&10));
    assert_eq!(s.uas.invites, 40);
    assert_eq!((s.uas.answered, s.uas.busy, s.uas.cancelled), (20, 10, 10));
    assert_eq!(s.uas.acks, 40);
    assert_eq!(s.uas.byes, 20);
    assert_eq!(s.setup_us.len(), 20);
    assert_eq!(s.malformed, 0);
}

#[test]
fn calls_over_loopback_with_the_poll_backend() {
    calls_through(IoBackendChoice::Poll);
}

#[test]
fn calls_over_loopback_with_the_default_backend() {
    calls_through(IoBackendChoice::Auto);
}

#[test]
fn options_over_loopback() {
    let uas = free_port();
    let r = run_once(&RunPlan {
        count: 30,
        ..plan(Scenario::Options, uas, IoBackendChoice::Auto)
    })
    .unwrap();
    assert_eq!((r.stats.attempted, r.stats.succeeded), (30, 30));
    assert_eq!(r.stats.uas.options, 30);
}
