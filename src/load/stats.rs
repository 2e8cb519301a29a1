//! What a load run counts and measures, and how it is printed.
//!
//! Each endpoint keeps a [`LoadStats`] of its own (plain integers and histograms, no
//! sharing on the hot path) and every [`FLUSH_EVERY`] moves it into its [`StatsSink`]
//! with one uncontended lock. The reporter thread drains the sinks once a second, prints a
//! line from that second's delta and merges it into the run's total.
//!
//! Latencies are in microseconds in HdrHistograms (1 µs .. 120 s, 3 significant digits).
//! Coordinated omission: the generator is open-loop (calls start on a fixed schedule
//! whatever the responses do), and a call's latencies are measured from its *scheduled*
//! start, so a generator that falls behind shows the delay instead of hiding it (wrk2's
//! method). `--record-correct` additionally records with HdrHistogram's
//! `record_correct(value, interval)`, which back-fills the samples a closed-loop tester would
//! have missed behind a slow response; for an open-loop run whose set-up time legitimately
//! exceeds the call interval (ring time) that back-filling distorts the distribution, so it
//! is off by default.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

/// How often an endpoint hands its counters to the reporter (virtual time).
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Highest latency a histogram records (longer ones are clamped): Timer B is 32 s.
const MAX_LATENCY_US: u64 = 120_000_000;

/// Requests whose response times are measured separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Invite,
    Bye,
    Cancel,
    Register,
    Options,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Invite,
        Method::Bye,
        Method::Cancel,
        Method::Register,
        Method::Options,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Method::Invite => "INVITE",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Why a call (or registration, or OPTIONS ping) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailCause {
    /// A final error response to the INVITE/REGISTER/OPTIONS (or to the BYE).
    Status(u16),
    /// No final response before Timer B/F (RFC 3261 §17.1.1.2, §17.1.2.2).
    Timeout,
    /// The UAS rang but did not answer within the no-answer time; we cancelled.
    NoAnswer,
    /// A challenge we could not answer (unknown scheme, or a second challenge after we
    /// sent credentials, i.e. the proxy rejected them).
    AuthRejected,
    /// The run ended (drain time over) before the call finished.
    Unfinished,
    /// Too many calls in progress (`--max-concurrent`): the generator did not start it.
    Overload,
}

impl FailCause {
    pub fn label(self) -> String {
        match self {
            FailCause::Status(c) => c.to_string(),
            FailCause::Timeout => "timeout".to_string(),
            FailCause::NoAnswer => "no-answer".to_string(),
            FailCause::AuthRejected => "auth-rejected".to_string(),
            FailCause::Unfinished => "unfinished".to_string(),
            FailCause::Overload => "local-overload".to_string(),
        }
    }
}

/// What the UAS role saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UasCounters {
    pub invites: u64,
    pub answered: u64,
    pub busy: u64,
    pub unanswered: u64,
    pub cancelled: u64,
    pub acks: u64,
    pub byes: u64,
    /// A final response was retransmitted until Timer H / 64·T1 without an ACK.
    pub ack_timeouts: u64,
    pub options: u64,
    pub other_requests: u64,
}

impl UasCounters {
    fn merge(&mut self, o: &UasCounters) {
        self.invites += o.invites;
        self.answered += o.answered;
        self.busy += o.busy;
        self.unanswered += o.unanswered;
        self.cancelled += o.cancelled;
        self.acks += o.acks;
        self.byes += o.byes;
        self.ack_timeouts += o.ack_timeouts;
        self.options += o.options;
        self.other_requests += o.other_requests;
    }
}

fn new_histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts (low >= 1, high >= 2·low, sigfig <= 5).
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
}

/// Counters and latency histograms of one endpoint, one reporting interval or a whole run.
#[derive(Debug, Clone)]
pub struct LoadStats {
    /// Calls (or registrations / OPTIONS requests) started.
    pub attempted: u64,
    pub succeeded: u64,
    pub failed: BTreeMap<FailCause, u64>,
    /// Requests or responses we sent again because a timer fired (Timer A/E, 2xx/Timer G).
    pub retransmissions_sent: u64,
    /// Duplicates we received: the peer retransmitted because our answer was late or lost.
    pub retransmissions_received: u64,
    /// Datagrams that did not scan as SIP.
    pub malformed: u64,
    /// Responses matching no transaction of ours (late, or from an earlier run).
    pub stray: u64,
    pub uas: UasCounters,
    /// INVITE sent to 200 OK received (includes the UAS's ring time).
    pub setup_us: Histogram<u64>,
    /// REGISTER sent to 200 OK, challenge round trip included.
    pub register_us: Histogram<u64>,
    /// Request sent to its first response (100 Trying for a stateful proxy's INVITE), per
    /// method. Retransmissions do not restart the clock.
    pub response_us: [Histogram<u64>; 5],
}

impl Default for LoadStats {
    fn default() -> Self {
        LoadStats {
            attempted: 0,
            succeeded: 0,
            failed: BTreeMap::new(),
            retransmissions_sent: 0,
            retransmissions_received: 0,
            malformed: 0,
            stray: 0,
            uas: UasCounters::default(),
            setup_us: new_histogram(),
            register_us: new_histogram(),
            response_us: std::array::from_fn(|_| new_histogram()),
        }
    }
}

fn record(h: &mut Histogram<u64>, d: Duration, interval: Duration) {
    let v = (d.as_micros() as u64).clamp(1, MAX_LATENCY_US);
    let expected = interval.as_micros() as u64;
    // Values are clamped into the histogram's range, so recording cannot fail.
    let _ = if expected > 0 {
        h.record_correct(v, expected)
    } else {
        h.record(v)
    };
}

impl LoadStats {
    pub fn fail(&mut self, cause: FailCause) {
        *self.failed.entry(cause).or_default() += 1;
    }
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
    pub fn record_setup(&mut self, d: Duration, interval: Duration) {
        record(&mut self.setup_us, d, interval);
    }
    pub fn record_register(&mut self, d: Duration, interval: Duration) {
        record(&mut self.register_us, d, interval);
    }
    pub fn record_response(&mut self, m: Method, d: Duration, interval: Duration) {
        record(&mut self.response_us[m.index()], d, interval);
    }
    pub fn response(&self, m: Method) -> &Histogram<u64> {
        &self.response_us[m.index()]
    }

    pub fn merge(&mut self, o: &LoadStats) {
        self.attempted += o.attempted;
        self.succeeded += o.succeeded;
        for (k, v) in &o.failed {
            *self.failed.entry(*k).or_default() += v;
        }
        self.retransmissions_sent += o.retransmissions_sent;
        self.retransmissions_received += o.retransmissions_received;
        self.malformed += o.malformed;
        self.stray += o.stray;
        self.uas.merge(&o.uas);
        // Same bounds on both sides: add cannot fail.
        let _ = self.setup_us.add(&o.setup_us);
        let _ = self.register_us.add(&o.register_us);
        for (a, b) in self.response_us.iter_mut().zip(&o.response_us) {
            let _ = a.add(b);
        }
    }

    /// Back to zero, keeping the histograms' allocations (an endpoint flushes ten times a
    /// second; re-allocating seven histograms each time would dominate its idle cost).
    pub fn reset(&mut self) {
        self.attempted = 0;
        self.succeeded = 0;
        self.failed.clear();
        self.retransmissions_sent = 0;
        self.retransmissions_received = 0;
        self.malformed = 0;
        self.stray = 0;
        self.uas = UasCounters::default();
        self.setup_us.reset();
        self.register_us.reset();
        for h in &mut self.response_us {
            h.reset();
        }
    }

    /// True when nothing went wrong: no failure and no retransmission either way.
    pub fn clean(&self) -> bool {
        self.failed_total() == 0
            && self.retransmissions_sent == 0
            && self.retransmissions_received == 0
    }

    pub fn is_empty(&self) -> bool {
        self.attempted == 0
            && self.succeeded == 0
            && self.failed.is_empty()
            && self.retransmissions_sent == 0
            && self.retransmissions_received == 0
            && self.malformed == 0
            && self.stray == 0
            && self.uas == UasCounters::default()
            && self.setup_us.is_empty()
            && self.register_us.is_empty()
            && self.response_us.iter().all(|h| h.is_empty())
    }
}

/// Where an endpoint hands its counters; read by the reporter thread.
#[derive(Debug, Default)]
pub struct StatsSink {
    delta: Mutex<LoadStats>,
    /// The endpoint has started everything it will start and everything has ended.
    done: AtomicBool,
}

impl StatsSink {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Move `local` into the sink, leaving `local` empty.
    pub fn flush(&self, local: &mut LoadStats) {
        if local.is_empty() {
            return;
        }
        // A poisoned lock means a reporter thread panicked; keep counting regardless.
        let mut d = self.delta.lock().unwrap_or_else(|p| p.into_inner());
        d.merge(local);
        local.reset();
    }
    /// Take what was flushed since the last call.
    pub fn take(&self) -> LoadStats {
        let mut d = self.delta.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *d)
    }
    pub fn set_done(&self) {
        self.done.store(true, Ordering::Release);
    }
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// Percentiles of a histogram in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
    fn text(&self, label: &str) -> String {
        format!(
            "  {label:<18} n={:<9} p50={:.3} p90={:.3} p99={:.3} p99.9={:.3} max={:.3} ms",
            self.count, self.p50, self.p90, self.p99, self.p999, self.max
        )
    }
    fn json(&self) -> String {
        format!(
            "{{\"count\":{},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
            self.count, self.p50, self.p90, self.p99, self.p999, self.max
        )
    }
}

/// The whole-run figures besides the counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunFigures {
    /// Offered rate (calls or requests per second).
    pub target_rate: f64,
    /// Completed (succeeded) per second of the placing window.
    pub achieved_rate: f64,
    pub elapsed: Duration,
    /// user + system CPU time of this process, per attempted call.
    pub cpu_us_per_call: f64,
    pub cpu_total: Duration,
}

/// One line per second while running.
pub fn interval_line(second: u64, d: &LoadStats) -> String {
    let setup = Percentiles::of(&d.setup_us);
    let reg = Percentiles::of(&d.register_us);
    let (lat_label, lat) = if reg.count > setup.count {
        ("reg", reg)
    } else {
        ("setup", setup)
    };
    format!(
        "[{second:>4}s] started {:>7}  ok {:>7}  failed {:>5}  retrans {:>4}/{:<4}  {lat_label} p50 {:.2} p99 {:.2} ms",
        d.attempted,
        d.succeeded,
        d.failed_total(),
        d.retransmissions_sent,
        d.retransmissions_received,
        lat.p50,
        lat.p99
    )
}

fn failed_text(s: &LoadStats) -> String {
    if s.failed.is_empty() {
        return "none".to_string();
    }
    s.failed
        .iter()
        .map(|(k, v)| format!("{}={v}", k.label()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The end-of-run report for people.
pub fn report_text(scenario: &str, s: &LoadStats, f: &RunFigures) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {scenario}: {:.1} s, target {:.1}/s, achieved {:.1}/s",
        f.elapsed.as_secs_f64(),
        f.target_rate,
        f.achieved_rate
    );
    let _ = writeln!(
        out,
        "  attempted {}  succeeded {}  failed {} ({})",
        s.attempted,
        s.succeeded,
        s.failed_total(),
        failed_text(s)
    );
    let _ = writeln!(
        out,
        "  retransmissions sent {}  received {}  malformed {}  stray {}",
        s.retransmissions_sent, s.retransmissions_received, s.malformed, s.stray
    );
    let u = &s.uas;
    if u != &UasCounters::default() {
        let _ = writeln!(
            out,
            "  uas: invites {} answered {} busy {} unanswered {} cancelled {} acks {} byes {} ack-timeouts {} options {}",
            u.invites, u.answered, u.busy, u.unanswered, u.cancelled, u.acks, u.byes, u.ack_timeouts, u.options
        );
    }
    if !s.setup_us.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            Percentiles::of(&s.setup_us).text("setup INVITE->200")
        );
    }
    if !s.register_us.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            Percentiles::of(&s.register_us).text("register ->200")
        );
    }
    for m in Method::ALL {
        let h = s.response(m);
        if !h.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                Percentiles::of(h).text(&format!("{} response", m.name()))
            );
        }
    }
    let _ = writeln!(
        out,
        "  cpu {:.3} s total, {:.1} µs per call",
        f.cpu_total.as_secs_f64(),
        f.cpu_us_per_call
    );
    out
}

/// The end-of-run report for scripts (one JSON object, no trailing newline).
pub fn report_json(scenario: &str, s: &LoadStats, f: &RunFigures) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"scenario\":\"{scenario}\",\"elapsed_s\":{:.3},\"target_rate\":{:.3},\"achieved_rate\":{:.3},\
         \"attempted\":{},\"succeeded\":{},\"failed\":{},\"failed_by_cause\":{{",
        f.elapsed.as_secs_f64(),
        f.target_rate,
        f.achieved_rate,
        s.attempted,
        s.succeeded,
        s.failed_total()
    );
    let causes: Vec<String> = s
        .failed
        .iter()
        .map(|(k, v)| format!("\"{}\":{v}", k.label()))
        .collect();
    out.push_str(&causes.join(","));
    let u = &s.uas;
    let _ = write!(
        out,
        "}},\"retransmissions_sent\":{},\"retransmissions_received\":{},\"malformed\":{},\"stray\":{},\
         \"uas\":{{\"invites\":{},\"answered\":{},\"busy\":{},\"unanswered\":{},\"cancelled\":{},\"acks\":{},\
         \"byes\":{},\"ack_timeouts\":{},\"options\":{}}},",
        s.retransmissions_sent,
        s.retransmissions_received,
        s.malformed,
        s.stray,
        u.invites,
        u.answered,
        u.busy,
        u.unanswered,
        u.cancelled,
        u.acks,
        u.byes,
        u.ack_timeouts,
        u.options
    );
    let _ = write!(
        out,
        "\"setup\":{},\"register\":{},\"response\":{{",
        Percentiles::of(&s.setup_us).json(),
        Percentiles::of(&s.register_us).json()
    );
    let per: Vec<String> = Method::ALL
        .iter()
        .filter(|m| !s.response(**m).is_empty())
        .map(|m| {
            format!(
                "\"{}\":{}",
                m.name(),
                Percentiles::of(s.response(*m)).json()
            )
        })
        .collect();
    out.push_str(&per.join(","));
    let _ = write!(
        out,
        "}},\"cpu_s\":{:.3},\"cpu_us_per_call\":{:.3}}}",
        f.cpu_total.as_secs_f64(),
        f.cpu_us_per_call
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counters_and_histograms() {
        let mut a = LoadStats {
            attempted: 2,
            ..Default::default()
        };
        a.fail(FailCause::Status(486));
        a.record_setup(Duration::from_millis(3), Duration::ZERO);
        let mut b = LoadStats {
            attempted: 3,
            ..Default::default()
        };
        b.fail(FailCause::Status(486));
        b.fail(FailCause::Timeout);
        b.record_setup(Duration::from_millis(5), Duration::ZERO);
        a.merge(&b);
        assert_eq!(a.attempted, 5);
        assert_eq!(a.failed.get(&FailCause::Status(486)), Some(&2));
        assert_eq!(a.failed_total(), 3);
        assert_eq!(a.setup_us.len(), 2);
        assert!(!a.clean());
    }

    #[test]
    fn record_correct_fills_in_behind_a_stall() {
        let mut s = LoadStats::default();
        // One 100 ms response while calls were due every 10 ms: the 9 calls that would
        // have waited behind it are added (90, 80, ... 10 ms).
        s.record_setup(Duration::from_millis(100), Duration::from_millis(10));
        assert_eq!(s.setup_us.len(), 10);
        let mut plain = LoadStats::default();
        plain.record_setup(Duration::from_millis(100), Duration::ZERO);
        assert_eq!(plain.setup_us.len(), 1);
    }

    #[test]
    fn sink_moves_and_empties() {
        let sink = StatsSink::new();
        let mut local = LoadStats {
            succeeded: 4,
            ..Default::default()
        };
        sink.flush(&mut local);
        assert!(local.is_empty());
        assert_eq!(sink.take().succeeded, 4);
        assert!(sink.take().is_empty());
        assert!(!sink.is_done());
        sink.set_done();
        assert!(sink.is_done());
    }

    #[test]
    fn json_report_is_one_object_with_the_counts() {
        let mut s = LoadStats {
            attempted: 10,
            succeeded: 9,
            ..Default::default()
        };
        s.fail(FailCause::Status(486));
        s.record_response(Method::Invite, Duration::from_micros(1500), Duration::ZERO);
        let f = RunFigures {
            target_rate: 10.0,
            achieved_rate: 9.0,
            elapsed: Duration::from_secs(1),
            cpu_us_per_call: 5.0,
            cpu_total: Duration::from_millis(1),
        };
        let j = report_json("call", &s, &f);
        assert!(j.starts_with('{') && j.ends_with('}'));
        assert!(
            j.contains(
                "\"attempted\":10,\"succeeded\":9,\"failed\":1,\"failed_by_cause\":{\"486\":1}"
            ),
            "{j}"
        );
        assert!(
            j.contains("\"INVITE\":{\"count\":1,\"p50_ms\":1.500"),
            "{j}"
        );
        let t = report_text("call", &s, &f);
        assert!(t.contains("failed 1 (486=1)"), "{t}");
    }
}
