//! `ringlet run` as an operator uses it: the real binary on loopback ports, a table file and
//! a registrations database in a temporary directory. Registrations survive a restart, a
//! table saved while running is picked up, a drain after traffic ends as soon as nothing
//! is in flight, SIGHUP with the embedded demo table says there is nothing to reload.
//!
//! Waits are bounded loops on observable events (log lines, datagrams), never timing
//! assertions.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Any HA1: these tests run with `[auth] enabled = false`, which never checks it.
const HA1: &str = "0123456789abcdef0123456789abcdef";

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringlet-wiring-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `ringlet run`, its stderr lines and the address it listens on.
struct Proxy {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
    /// The lines logged up to and including the "listening" one.
    startup: Vec<String>,
}

impl Proxy {
    /// Start `ringlet run --config <dir>/ringlet.toml` with `dir` as working directory.
    fn start(dir: &Path) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringlet"))
            .args(["run", "--config", "ringlet.toml"])
            .current_dir(dir)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut startup = Vec::new();
        let addr = loop {
            let line = match lines.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("ringlet did not start: {startup:#?}");
                }
            };
            startup.push(line.clone());
            if let Some(rest) = line.split("listening on udp ").nth(1) {
                break rest.split([',', ' ']).next().unwrap().parse().unwrap();
            }
        };
        Proxy {
            child,
            lines,
            addr,
            startup,
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0);
    }

    /// The next log line containing `what`, waiting at most 30 s.
    fn wait_for_line(&self, what: &str) -> String {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                if l.contains(what) {
                    return l;
                }
            }
        }
        panic!("no log line containing {what:?}");
    }

    /// SIGTERM, wait (bounded) for the exit, return the status code and every line logged
    /// since start-up.
    fn stop(mut self) -> (Option<i32>, Vec<String>) {
        self.signal(libc::SIGTERM);
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("ringlet did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut log = self.startup;
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            log.push(l);
        }
        (status.code(), log)
    }
}

/// A UDP socket on loopback playing a phone.
struct Phone {
    sock: UdpSocket,
    addr: SocketAddr,
    seq: u32,
}

impl Phone {
    fn new() -> Phone {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        Phone { sock, addr, seq: 0 }
    }

    /// The next datagram that is not a 100 Trying, or `None` after 10 s of silence.
    fn recv(&self) -> Option<(String, SocketAddr)> {
        let mut buf = [0u8; 65_536];
        loop {
            let (n, from) = self.sock.recv_from(&mut buf).ok()?;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("SIP/2.0 100 ") {
                return Some((text, from));
            }
        }
    }

    /// REGISTER `user@example.test` at this phone's address; the status code answered.
    fn register(&mut self, proxy: SocketAddr, user: &str) -> u16 {
        self.seq += 1;
        let (seq, me) = (self.seq, self.addr);
        let text = format!(
            "REGISTER sip:example.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bKwreg{user}{seq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@example.test>;tag=r{seq}\r\n\
             To: <sip:{user}@example.test>\r\n\
             Call-ID: wiring-reg-{user}-{me}\r\n\
             CSeq: {seq} REGISTER\r\n\
             Contact: <sip:{user}@{me}>\r\n\
             Expires: 3600\r\n\
             Content-Length: 0\r\n\r\n"
        );
        self.sock.send_to(text.as_bytes(), proxy).unwrap();
        let (answer, _) = self.recv().expect("the REGISTER is answered");
        status(&answer)
    }
}

fn status(response: &str) -> u16 {
    response
        .strip_prefix("SIP/2.0 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {response}"))
}

/// A response to `request` (headers copied as RFC 3261 §8.2.6.2 says), with a To tag.
fn answer(request: &str, code: u16, reason: &str) -> String {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for line in request.split("\r\n").skip(1) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" | "t" => {
                out.push_str(line);
                out.push_str(";tag=phone\r\n");
            }
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

fn write_config(dir: &Path, io: &str, extra: &str) {
    let config = format!(
        "listen = [\"127.0.0.1:0\"]\n\
         [runtime]\nworkers = 2\ncores = \"none\"\nio = \"{io}\"\n\
         # Far longer than any test: a drain must end because nothing is in flight.\n\
         drain_ms = 3600000\n\
         {extra}"
    );
    std::fs::write(dir.join("ringlet.toml"), config).unwrap();
}

/// Replace the table the way deploy tools do: write a temporary file, rename it over.
fn save_table(dir: &Path, users: &[&str]) {
    let mut text = String::from("domain example.test\n");
    for u in users {
        text.push_str(&format!("user {u}@example.test md5={HA1}\n"));
    }
    let tmp = dir.join("provider.table.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("provider.table")).unwrap();
}

/// The config of a provider on a table file, without digest, with a registrations file.
fn provider_config(dir: &Path) {
    write_config(
        dir,
        "poll",
        "[files]\ntable = \"provider.table\"\n\
         [auth]\nenabled = false\n\
         [registrar]\ndb_path = \"registrations.db\"\nbatch_interval_ms = 100\n",
    );
}

fn stopped_line(log: &[String]) -> &str {
    log.iter()
        .find(|l| l.contains("stopped:"))
        .unwrap_or_else(|| panic!("no final counters: {log:#?}"))
}

#[test]
fn registrations_survive_a_restart() {
    let dir = temp_dir("restart");
    save_table(&dir, &["alice", "bob"]);
    provider_config(&dir);

    // First run: bob's phone registers.
    let proxy = Proxy::start(&dir);
    assert!(
        proxy
            .startup
            .iter()
            .any(|l| l.contains("registrations.db: 0 bindings restored")),
        "{:#?}",
        proxy.startup
    );
    let mut bob = Phone::new();
    assert_eq!(bob.register(proxy.addr, "bob"), 200);
    let (code, log) = proxy.stop();
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("registrations saved: 1 AoRs, 1 bindings")),
        "{log:#?}"
    );
    assert!(!stopped_line(&log).contains("drain_expired"), "{log:#?}");

    // Second run, on another port: bob is still registered, an INVITE reaches his phone.
    let proxy = Proxy::start(&dir);
    assert!(
        proxy
            .startup
            .iter()
            .any(|l| l.contains("registrations.db: 1 bindings restored")),
        "{:#?}",
        proxy.startup
    );
    let alice = Phone::new();
    let (a, p) = (alice.addr, proxy.addr);
    let invite = format!(
        "INVITE sip:bob@example.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {a};branch=z9hG4bKwinv1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\n\
         To: <sip:bob@example.test>\r\n\
         Call-ID: wiring-call-1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{a}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    alice.sock.send_to(invite.as_bytes(), p).unwrap();
    let (forwarded, from) = bob.recv().expect("the INVITE reaches bob's phone");
    let expected = format!("INVITE sip:bob@{} SIP/2.0\r\n", bob.addr);
    assert!(forwarded.starts_with(&expected), "{forwarded}");
    assert_eq!(from.ip(), p.ip());
    // Bob is busy: the 486 goes back to alice, and the call is over.
    bob.sock
        .send_to(answer(&forwarded, 486, "Busy Here").as_bytes(), from)
        .unwrap();
    let (to_alice, _) = alice.recv().expect("alice gets the final response");
    assert_eq!(status(&to_alice), 486, "{to_alice}");
    let (code, log) = proxy.stop();
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(!stopped_line(&log).contains("drain_expired"), "{log:#?}");
}

#[test]
fn a_table_saved_while_running_is_picked_up() {
    let dir = temp_dir("watch");
    save_table(&dir, &["alice"]);
    provider_config(&dir);
    let proxy = Proxy::start(&dir);
    assert!(
        proxy.startup.iter().any(|l| l.contains("watching")),
        "{:#?}",
        proxy.startup
    );
    let mut carol = Phone::new();
    assert_eq!(
        carol.register(proxy.addr, "carol"),
        404,
        "not in the table yet"
    );

    save_table(&dir, &["alice", "carol"]);
    proxy.wait_for_line("provider.table loaded");
    // The reload is published right after that line; a REGISTER may still race it, so
    // retry a bounded number of times (each a new transaction).
    let mut code = 0;
    for _ in 0..50 {
        code = carol.register(proxy.addr, "carol");
        if code == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(code, 200, "carol can register after the table was saved");
    let (code, log) = proxy.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn drain_after_traffic_ends_when_nothing_is_in_flight_and_demo_reload_says_so() {
    for io in ["poll", "uring"] {
        if io == "uring" && std::env::var_os("RINGLET_TEST_NO_URING").is_some() {
            continue;
        }
        // No [files] and no [registrar]: the embedded demo table, and the default
        // registrations file in the working directory (what a fresh clone gets).
        let dir = temp_dir(&format!("drain-{io}"));
        write_config(&dir, io, "");
        let proxy = Proxy::start(&dir);
        assert!(
            dir.join("ringlet-registrations.db").exists(),
            "default database in the working directory"
        );
        proxy.signal(libc::SIGHUP);
        proxy.wait_for_line("the embedded demo table is in use; nothing to reload");

        // One OPTIONS for the proxy itself: its transaction completes at once but stays
        // for Timer K, which must not hold the drain.
        let phone = Phone::new();
        let (me, p) = (phone.addr, proxy.addr);
        let options = format!(
            "OPTIONS sip:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKwopt1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:{p}>\r\n\
             Call-ID: wiring-drain-{io}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        phone.sock.send_to(options.as_bytes(), p).unwrap();
        let (reply, _) = phone.recv().expect("OPTIONS answered");
        assert_eq!(status(&reply), 200, "{reply}");

        let (code, log) = proxy.stop();
        assert_eq!(code, Some(0), "{io}: {log:#?}");
        let stopped = stopped_line(&log);
        assert!(stopped.contains("datagrams_in=1 "), "{io}: {stopped}");
        assert!(
            !stopped.contains("drain_expired"),
            "{io}: the drain ended because nothing was in flight: {stopped}"
        );
    }
}
