//! The real binary: start on a loopback port, SIGHUP reloads, SIGTERM drains and exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Start `ringlet run` with `config`; return the child, its stderr lines, and the address
/// from its "listening on udp ..." line.
fn spawn(
    config: &str,
    name: &str,
) -> (
    Child,
    mpsc::Receiver<String>,
    std::net::SocketAddr,
    Vec<String>,
) {
    let dir = std::env::temp_dir().join(format!("ringlet-signals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringlet"))
        .args(["run", "--config"])
        .arg(&path)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the proxy logs its listen address");
        if let Some(rest) = line.split("listening on udp ").nth(1) {
            break rest.split([',', ' ']).next().unwrap().parse().unwrap();
        }
        seen.push(line);
    };
    (child, rx, addr, seen)
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0);
}

/// Wait for the child to exit, bounded so a hung child fails the test instead of hanging it.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("ringlet did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn collect(rx: &mpsc::Receiver<String>) -> Vec<String> {
    let mut v = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        v.push(l);
    }
    v
}

#[test]
fn sigterm_drains_and_exits_zero_on_both_backends() {
    for io in ["poll", "uring"] {
        if io == "uring" && std::env::var_os("RINGLET_TEST_NO_URING").is_some() {
            continue;
        }
        let config = format!("listen = [\"127.0.0.1:0\"]\n[runtime]\nworkers = 2\ncores = \"none\"\nio = \"{io}\"\ndrain_ms = 2000\n");
        let (mut child, rx, addr, startup) = spawn(&config, &format!("term-{io}.toml"));
        assert!(addr.ip().is_loopback());
        // The proxy answers an OPTIONS for itself.
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let me = c.local_addr().unwrap();
        let options = format!(
            "OPTIONS sip:{addr} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKsig1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:{addr}>\r\n\
             Call-ID: sig-{io}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        c.send_to(options.as_bytes(), addr).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = c.recv_from(&mut buf).expect("OPTIONS answered");
        assert!(
            buf[..n].starts_with(b"SIP/2.0 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        signal(&child, libc::SIGHUP);
        signal(&child, libc::SIGTERM);
        let status = wait_exit(&mut child);
        let log = collect(&rx);
        assert_eq!(status.code(), Some(0), "{io}: {log:#?}");
        assert!(
            log.iter().any(|l| l.contains("SIGHUP")),
            "{io}: reload hook ran: {log:#?}"
        );
        assert!(
            log.iter().any(|l| l.contains("signal 15")),
            "{io}: {log:#?}"
        );
        assert!(log.iter().any(|l| l.contains("stopped")), "{io}: {log:#?}");
        // The final counters: the one OPTIONS in, its answer out.
        assert!(
            log.iter().any(|l| l.contains("stopped:")
                && l.contains("datagrams_in=1 ")
                && l.contains("datagrams_out=1 ")),
            "{io}: {log:#?}"
        );
        let workers = startup
            .iter()
            .filter(|l| l.contains("worker ") && l.contains("127.0.0.1:"))
            .count();
        assert_eq!(
            workers, 2,
            "{io}: one start-up line per worker: {startup:#?}"
        );
    }
}
