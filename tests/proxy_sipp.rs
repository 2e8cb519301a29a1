//! Interoperability with a real SIP stack: sipp callers and callees through the stateful
//! proxy (default router) running on the real runtime, on loopback.
//!
//! Ignored by default (it needs the `sipp` binary and takes a few seconds); run it with
//! `tests/sipp/run.sh` or `cargo test --test proxy_sipp -- --ignored`. Each scenario pair
//! runs a bounded number of calls with bounded timeouts and must end with zero failed calls.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringlet::endpoint::Endpoint;
use ringlet::proxy::{ProxyConfig, RelayToRequestUri, StatefulProxy};
use ringlet::runtime::{Runtime, RuntimeConfig, WorkerInfo};

const CALLS: &str = "10";

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn scenario(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sipp", name]
        .iter()
        .collect();
    p.to_string_lossy().into_owned()
}

/// Wait for `child` at most `limit`; kill it past that. Its exit status code.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_pair(proxy: SocketAddr, uac: &str, uas: &str) {
    let uas_port = free_port();
    let uac_port = free_port();
    let mut callee = Command::new("sipp")
        .args([
            "-sf",
            &scenario(uas),
            "-i",
            "127.0.0.1",
            "-p",
            &uas_port.to_string(),
        ])
        .args(["-m", CALLS, "-timeout", "30s", "-timeout_error", "-nostdin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp (callee) starts");
    std::thread::sleep(Duration::from_millis(300));
    let mut caller = Command::new("sipp")
        .arg(proxy.to_string())
        .args([
            "-sf",
            &scenario(uac),
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port.to_string(),
        ])
        .args(["-key", "uas", &format!("127.0.0.1:{uas_port}"), "-s", "bob"])
        .args([
            "-m",
            CALLS,
            "-r",
            "5",
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp (caller) starts");
    let caller_status = wait_bounded(&mut caller, Duration::from_secs(40));
    let callee_status = wait_bounded(&mut callee, Duration::from_secs(10));
    assert_eq!(
        caller_status,
        Some(0),
        "{uac}: sipp caller reported failed calls (exit {caller_status:?})"
    );
    assert_eq!(
        callee_status,
        Some(0),
        "{uas}: sipp callee reported failed calls (exit {callee_status:?})"
    );
}

#[test]
#[ignore = "needs sipp; run by tests/sipp/run.sh"]
fn sipp_calls_through_the_stateful_proxy() {
    let mut rt = RuntimeConfig::new(vec!["127.0.0.1:0".parse().unwrap()], 1);
    rt.thread_name = "ringlet-sipp".into();
    let handle = Runtime::start(rt, |w: &WorkerInfo| -> Box<dyn Endpoint> {
        let cfg = ProxyConfig {
            listen: w.local_addrs.clone(),
            worker: w.index as u16,
            workers: w.count as u16,
            ..ProxyConfig::default()
        };
        Box::new(StatefulProxy::new(cfg, RelayToRequestUri, Instant::now()))
    })
    .expect("runtime starts");
    let proxy = handle.local_addrs()[0][0];
    let result = std::panic::catch_unwind(|| {
        run_pair(proxy, "uac_call.xml", "uas_call.xml");
        run_pair(proxy, "uac_busy.xml", "uas_busy.xml");
        run_pair(proxy, "uac_cancel.xml", "uas_cancel.xml");
    });
    handle.shutdown(Duration::from_millis(100));
    let _ = handle.join();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
