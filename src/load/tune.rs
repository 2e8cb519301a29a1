//! `ringlet tune`: read the machine, recommend worker cores and kernel settings.
//!
//! Two halves, so the logic is tested without the machine:
//!
//! ```text
//!   read_machine(root) ──► MachineFacts ──► recommend(&facts) ──► Recommendation ──► print
//!   (the only file I/O:    (plain data:      (pure: no I/O)        (plain data)
//!    root/sys, root/proc)   cpus, nodes,
//!                           NICs, sysctls)
//! ```
//!
//! `root` is `/` on a real machine; tests hand it a fake tree holding the same paths.
//!
//! The recommended sysctls are not a second list: they are parsed from
//! `tuning/sysctl.d/90-ringlet.conf` (compiled in), and the comment paragraph above each key
//! is the reason printed for it, so the file an operator installs and the advice of this
//! command cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The sysctl file shipped in `tuning/`, the single source of recommended values.
pub const SYSCTL_CONF: &str = include_str!("../../tuning/sysctl.d/90-ringlet.conf");

/// One logical CPU as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalCpu {
    pub id: u32,
    /// Physical package (socket).
    pub package: u32,
    /// Core id within the package; logical CPUs sharing (package, core) are SMT siblings.
    pub core: u32,
    /// NUMA node, when the kernel exposes one.
    pub node: Option<u32>,
}

/// A network interface backed by a device (virtual ones without queues are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub name: String,
    pub rx_queues: u32,
    pub tx_queues: u32,
    /// NUMA node of the device (`device/numa_node`, -1 or absent means unknown).
    pub node: Option<u32>,
}

/// Everything `recommend` needs to know about the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineFacts {
    /// Online logical CPUs, sorted by id.
    pub cpus: Vec<LogicalCpu>,
    pub nics: Vec<Nic>,
    /// Current value of every key named in [`SYSCTL_CONF`] that exists (whitespace
    /// normalised to single spaces).
    pub sysctls: BTreeMap<String, String>,
    /// Total RAM, when /proc/meminfo was readable.
    pub mem_bytes: Option<u64>,
}

/// A failure to read the machine: which file and why.
#[derive(Debug)]
pub struct TuneError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for TuneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for TuneError {}

fn read_trimmed(path: &Path) -> Result<String, TuneError> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| TuneError {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn read_optional(path: &Path) -> Result<Option<String>, TuneError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TuneError {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

fn parse_u32(path: &Path, text: &str) -> Result<u32, TuneError> {
    text.trim().parse().map_err(|_| TuneError {
        path: path.to_path_buf(),
        reason: format!("not a number: {text:?}"),
    })
}

/// Parse a kernel CPU list ("0-3,8,10-11") into ids.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bad = || format!("bad CPU list element {part:?}");
        match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.parse().map_err(|_| bad())?;
                let hi: u32 = hi.parse().map_err(|_| bad())?;
                if hi < lo || hi - lo > 65_536 {
                    return Err(bad());
                }
                out.extend(lo..=hi);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

/// Format ids as a kernel CPU list with ranges ("0-3,8").
pub fn format_cpu_list(ids: &[u32]) -> String {
    let mut sorted: Vec<u32> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Read the facts from `root` (`/` on a real machine).
pub fn read_machine(root: &Path) -> Result<MachineFacts, TuneError> {
    let sys = root.join("sys");
    let cpu_dir = sys.join("devices/system/cpu");
    let online_path = cpu_dir.join("online");
    let online = read_trimmed(&online_path)?;
    let ids = parse_cpu_list(&online).map_err(|reason| TuneError {
        path: online_path.clone(),
        reason,
    })?;

    // NUMA: node<N>/cpulist; absent on kernels without NUMA support.
    let mut node_of: BTreeMap<u32, u32> = BTreeMap::new();
    let node_dir = sys.join("devices/system/node");
    if let Ok(entries) = fs::read_dir(&node_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(n) = name
                .strip_prefix("node")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let list_path = entry.path().join("cpulist");
            let Some(list) = read_optional(&list_path)? else {
                continue;
            };
            let cpus = parse_cpu_list(&list).map_err(|reason| TuneError {
                path: list_path.clone(),
                reason,
            })?;
            for c in cpus {
                node_of.insert(c, n);
            }
        }
    }

    let mut cpus = Vec::with_capacity(ids.len());
    for id in ids {
        let topo = cpu_dir.join(format!("cpu{id}/topology"));
        let core_path = topo.join("core_id");
        let pkg_path = topo.join("physical_package_id");
        // Without topology (some containers), every CPU counts as its own core.
        let core = match read_optional(&core_path)? {
            Some(t) => parse_u32(&core_path, &t)?,
            None => id,
        };
        let package = match read_optional(&pkg_path)? {
            Some(t) => parse_u32(&pkg_path, &t)?,
            None => 0,
        };
        cpus.push(LogicalCpu {
            id,
            package,
            core,
            node: node_of.get(&id).copied(),
        });
    }
    cpus.sort_by_key(|c| c.id);

    let mut nics = Vec::new();
    let net_dir = sys.join("class/net");
    if let Ok(entries) = fs::read_dir(&net_dir) {
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
            .collect();
        names.sort();
        for (name, path) in names {
            // Loopback and purely virtual interfaces (bridges, ifb, veth without a device)
            // take no NIC interrupts.
            if name == "lo" || !path.join("device").exists() {
                continue;
            }
            let (mut rx, mut tx) = (0, 0);
            if let Ok(queues) = fs::read_dir(path.join("queues")) {
                for q in queues.flatten() {
                    let q = q.file_name().to_string_lossy().to_string();
                    if q.starts_with("rx-") {
                        rx += 1;
                    } else if q.starts_with("tx-") {
                        tx += 1;
                    }
                }
            }
            let numa_path = path.join("device/numa_node");
            let node = read_optional(&numa_path)?
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|n| u32::try_from(n).ok());
            nics.push(Nic {
                name,
                rx_queues: rx,
                tx_queues: tx,
                node,
            });
        }
    }

    let mut sysctls = BTreeMap::new();
    for rec in recommended_sysctls() {
        let path = root.join("proc/sys").join(rec.key.replace('.', "/"));
        if let Some(v) = read_optional(&path)? {
            sysctls.insert(rec.key.clone(), normalise(&v));
        }
    }

    let meminfo = root.join("proc/meminfo");
    let mem_bytes = read_optional(&meminfo)?.and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });

    Ok(MachineFacts {
        cpus,
        nics,
        sysctls,
        mem_bytes,
    })
}

fn normalise(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A key of the shipped sysctl file with its value and the comment paragraph above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlRecommendation {
    pub key: String,
    pub value: String,
    /// `-key = value` in the file: the key may not exist on this kernel (module not loaded).
    pub optional: bool,
    pub reason: String,
}

/// Parse [`SYSCTL_CONF`]: each key gets the comment paragraph that precedes it (keys in one
/// paragraph share it; a blank line ends a paragraph).
pub fn recommended_sysctls() -> Vec<SysctlRecommendation> {
    parse_sysctl_conf(SYSCTL_CONF)
}

/// The parser behind [`recommended_sysctls`] (public for tests of other files).
pub fn parse_sysctl_conf(text: &str) -> Vec<SysctlRecommendation> {
    let mut out = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    let mut comment_closed = false; // a key was seen since the comment started
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            // A blank line ends a comment paragraph: the next comment starts a new one
            // (the file's header paragraphs are not the reason for its first key).
            comment_closed = true;
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if comment_closed {
                comment.clear();
                comment_closed = false;
            }
            // Section rulers ("--- socket buffers ---") are headings, not reasons.
            if !c.starts_with("---") && !c.is_empty() {
                comment.push(c.to_string());
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let (key, optional) = match key.strip_prefix('-') {
            Some(k) => (k, true),
            None => (key, false),
        };
        comment_closed = true;
        out.push(SysctlRecommendation {
            key: key.to_string(),
            value: normalise(value),
            optional,
            reason: comment.join(" "),
        });
    }
    out
}

/// How a current value is judged against the recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Every number at least the recommended one (buffer sizes, backlogs, limits).
    AtLeast,
    /// Every number at most the recommended one (timeouts, swappiness).
    AtMost,
    /// A range "low high" that must contain the recommended range.
    Contains,
    /// Exactly the recommended value (switches).
    Equal,
}

/// The comparison for a key: most settings are capacities where more is fine.
pub fn comparison_for(key: &str) -> Comparison {
    match key {
        "vm.swappiness"
        | "net.ipv4.tcp_keepalive_time"
        | "net.ipv4.tcp_keepalive_intvl"
        | "net.ipv4.tcp_keepalive_probes"
        | "net.netfilter.nf_conntrack_udp_timeout"
        | "net.netfilter.nf_conntrack_udp_timeout_stream" => Comparison::AtMost,
        "net.ipv4.ip_local_port_range" => Comparison::Contains,
        "net.ipv4.tcp_tw_reuse" | "kernel.sched_autogroup_enabled" => Comparison::Equal,
        _ => Comparison::AtLeast,
    }
}

fn numbers(v: &str) -> Option<Vec<u64>> {
    v.split_whitespace().map(|n| n.parse().ok()).collect()
}

/// Whether `current` satisfies `recommended` under `cmp`.
pub fn satisfies(cmp: Comparison, current: &str, recommended: &str) -> bool {
    let (Some(cur), Some(rec)) = (numbers(current), numbers(recommended)) else {
        return normalise(current) == normalise(recommended);
    };
    if cur.len() != rec.len() {
        return false;
    }
    match cmp {
        Comparison::AtLeast => cur.iter().zip(&rec).all(|(c, r)| c >= r),
        Comparison::AtMost => cur.iter().zip(&rec).all(|(c, r)| c <= r),
        Comparison::Equal => cur == rec,
        Comparison::Contains => cur.len() == 2 && cur[0] <= rec[0] && cur[1] >= rec[1],
    }
}

/// Advice on one sysctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlAdvice {
    pub key: String,
    /// None: the key does not exist on this kernel.
    pub current: Option<String>,
    pub recommended: String,
    pub ok: bool,
    pub reason: String,
}

/// What `ringlet tune` recommends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// Logical CPUs for Ringlet's workers (`cores` in ringlet.toml, CPUAffinity in the unit).
    pub worker_cores: Vec<u32>,
    /// Logical CPUs for NIC queue interrupts (`tuning/irq-pin.sh --cores`).
    pub irq_cores: Vec<u32>,
    /// Why the split is what it is, one sentence per line.
    pub core_reasons: Vec<String>,
    pub sysctls: Vec<SysctlAdvice>,
    pub physical_cores: usize,
    pub smt: bool,
    pub numa_nodes: usize,
}

/// Decide worker and IRQ cores and judge the sysctls.  Pure.
pub fn recommend(facts: &MachineFacts) -> Recommendation {
    // Group logical CPUs into physical cores: (package, core) -> sorted sibling ids.
    let mut physical: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    for c in &facts.cpus {
        physical.entry((c.package, c.core)).or_default().push(c.id);
    }
    let mut cores: Vec<Vec<u32>> = physical.into_values().collect();
    for siblings in &mut cores {
        siblings.sort_unstable();
    }
    // Order physical cores by their first logical CPU so "core 0" is the one holding CPU 0.
    cores.sort_by_key(|s| s[0]);
    let smt = cores.iter().any(|s| s.len() > 1);
    let nodes: BTreeSet<u32> = facts.cpus.iter().filter_map(|c| c.node).collect();
    let max_rx = facts.nics.iter().map(|n| n.rx_queues).max().unwrap_or(0);

    let mut reasons = Vec::new();
    let mut worker_cores = Vec::new();
    let mut irq_cores = Vec::new();
    let n = cores.len();
    if n == 0 {
        reasons.push("no online CPUs found: nothing to recommend".to_string());
    } else if n < 4 {
        // Too few cores to set any aside: every core runs a worker, and the NIC queues
        // interrupt on the same cores (spread, so softirq work is shared).
        worker_cores = cores.iter().map(|s| s[0]).collect();
        irq_cores = worker_cores.clone();
        reasons.push(format!(
            "{n} physical core(s): too few to reserve any, one worker on each; NIC interrupts share them"
        ));
    } else {
        // Reserve the first physical core(s) for the kernel (timers, RCU, housekeeping)
        // and the NIC interrupts: one per 8 worker cores, at least one.
        let reserve = n.div_ceil(9).max(1);
        let (reserved, workers) = cores.split_at(reserve);
        worker_cores = workers.iter().map(|s| s[0]).collect();
        if smt {
            // The sibling thread of a worker core shares its L1/L2: softirq work done there
            // leaves the packet in the cache the worker reads it from.
            irq_cores = workers.iter().filter_map(|s| s.get(1).copied()).collect();
            reasons.push(format!(
                "{n} physical cores with SMT: one worker per physical core (first thread), \
                 NIC interrupts on the sibling threads of worker cores, core(s) {} left to the kernel",
                format_cpu_list(&reserved.iter().flatten().copied().collect::<Vec<_>>())
            ));
        } else {
            irq_cores = reserved.iter().map(|s| s[0]).collect();
            reasons.push(format!(
                "{n} physical cores without SMT: {reserve} reserved for the kernel and NIC interrupts, \
                 workers on the other {}",
                workers.len()
            ));
        }
    }
    if smt && n < 4 {
        reasons.push(
            "SMT siblings are not given workers: two workers on one physical core \
                      compete for its execution units and each runs slower than alone"
                .to_string(),
        );
    }
    if nodes.len() > 1 {
        let nic_nodes: BTreeSet<u32> = facts.nics.iter().filter_map(|n| n.node).collect();
        reasons.push(format!(
            "{} NUMA nodes; NIC(s) on node(s) {:?}: workers on the NIC's node avoid a cross-node \
             hop per packet, the location table is shared by all",
            nodes.len(),
            nic_nodes
        ));
    }
    if max_rx > 0 && !irq_cores.is_empty() {
        if (max_rx as usize) < irq_cores.len() {
            reasons.push(format!(
                "the NIC has {max_rx} receive queue(s), fewer than {} interrupt core(s): \
                 raise them with `ethtool -L <if> combined {}` if the driver allows",
                irq_cores.len(),
                irq_cores.len()
            ));
        } else {
            reasons.push(format!(
                "the NIC has {max_rx} receive queue(s) for {} interrupt core(s)",
                irq_cores.len()
            ));
        }
    }

    let mem_pages = facts.mem_bytes.map(|b| b / 4096);
    let mut sysctls = Vec::new();
    for rec in recommended_sysctls() {
        let mut recommended = rec.value.clone();
        let mut reason = rec.reason.clone();
        // udp_mem is sized for >= 16 GiB of RAM: never recommend more than a quarter of it.
        if rec.key == "net.ipv4.udp_mem" {
            if let (Some(pages), Some(vals)) = (mem_pages, numbers(&rec.value)) {
                let cap = pages / 4;
                if vals.iter().any(|v| *v > cap) {
                    let top = vals[vals.len() - 1].max(1);
                    let scaled: Vec<String> =
                        vals.iter().map(|v| (v * cap / top).to_string()).collect();
                    recommended = scaled.join(" ");
                    reason.push_str(" (scaled to a quarter of this machine's RAM)");
                }
            }
        }
        let current = facts.sysctls.get(&rec.key).cloned();
        let ok = match &current {
            Some(cur) => satisfies(comparison_for(&rec.key), cur, &recommended),
            None => rec.optional,
        };
        sysctls.push(SysctlAdvice {
            key: rec.key,
            current,
            recommended,
            ok,
            reason,
        });
    }

    Recommendation {
        worker_cores,
        irq_cores,
        core_reasons: reasons,
        sysctls,
        physical_cores: n,
        smt,
        numa_nodes: nodes.len().max(1),
    }
}

/// Render the recommendation for an operator.
pub fn render(facts: &MachineFacts, rec: &Recommendation) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let mem = facts
        .mem_bytes
        .map(|b| format!(", {:.1} GiB RAM", b as f64 / (1u64 << 30) as f64))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "machine: {} logical CPUs, {} physical cores ({}), {} NUMA node(s){mem}",
        facts.cpus.len(),
        rec.physical_cores,
        if rec.smt { "SMT" } else { "no SMT" },
        rec.numa_nodes
    );
    for nic in &facts.nics {
        let node = nic
            .node
            .map(|n| format!(", NUMA node {n}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "nic: {} {} rx / {} tx queues{node}",
            nic.name, nic.rx_queues, nic.tx_queues
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "# ringlet.toml");
    let list: Vec<String> = rec.worker_cores.iter().map(|c| c.to_string()).collect();
    let _ = writeln!(s, "[runtime]");
    let _ = writeln!(s, "workers = {}", rec.worker_cores.len());
    let _ = writeln!(s, "cores = [{}]", list.join(", "));
    for r in &rec.core_reasons {
        let _ = writeln!(s, "#   {r}");
    }
    let _ = writeln!(
        s,
        "# ringlet.service: CPUAffinity={}",
        format_cpu_list(&rec.worker_cores)
    );
    if !rec.irq_cores.is_empty() {
        let _ = writeln!(
            s,
            "# NIC interrupts:  tuning/irq-pin.sh --cores {}",
            format_cpu_list(&rec.irq_cores)
        );
    }
    let _ = writeln!(s);
    let to_change = rec.sysctls.iter().filter(|a| !a.ok).count();
    let _ = writeln!(
        s,
        "# sysctls: {to_change} of {} differ from tuning/sysctl.d/90-ringlet.conf",
        rec.sysctls.len()
    );
    for a in &rec.sysctls {
        let cur = a.current.as_deref().unwrap_or("(absent)");
        if a.ok {
            let _ = writeln!(s, "ok      {} = {}", a.key, cur);
        } else {
            let _ = writeln!(s, "change  {} = {}    (now {})", a.key, a.recommended, cur);
            let _ = writeln!(s, "        why: {}", a.reason);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(id: u32, package: u32, core: u32, node: u32) -> LogicalCpu {
        LogicalCpu {
            id,
            package,
            core,
            node: Some(node),
        }
    }

    #[test]
    fn cpu_lists_round_trip() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n").unwrap(),
            vec![0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(format_cpu_list(&[11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert!(parse_cpu_list("0-x").is_err());
        assert!(parse_cpu_list("5-2").is_err());
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn shipped_conf_gives_every_key_a_reason() {
        let recs = recommended_sysctls();
        assert!(recs.len() >= 15, "only {} keys parsed", recs.len());
        for r in &recs {
            assert!(!r.reason.is_empty(), "{} has no why-comment", r.key);
            assert!(!r.value.is_empty(), "{} has no value", r.key);
        }
        let rmem = recs.iter().find(|r| r.key == "net.core.rmem_max").unwrap();
        assert_eq!(rmem.value, "67108864");
        assert!(rmem.reason.contains("SO_RCVBUF"));
        let ct = recs
            .iter()
            .find(|r| r.key == "net.netfilter.nf_conntrack_max")
            .unwrap();
        assert!(ct.optional);
    }

    #[test]
    fn paragraph_binds_to_following_keys_only() {
        let recs = parse_sysctl_conf(
            "# --- head ---\n# first why\na.b = 1\na.c = 2\n\n# second why\nd.e = 3 4\n",
        );
        assert_eq!(recs[0].reason, "first why");
        assert_eq!(recs[1].reason, "first why");
        assert_eq!(recs[2].reason, "second why");
        assert_eq!(recs[2].value, "3 4");
    }

    #[test]
    fn comparisons() {
        assert!(satisfies(Comparison::AtLeast, "67108864", "67108864"));
        assert!(!satisfies(Comparison::AtLeast, "212992", "8388608"));
        assert!(satisfies(
            Comparison::AtLeast,
            "300000 600000 1200000",
            "262144 524288 1048576"
        ));
        assert!(!satisfies(
            Comparison::AtLeast,
            "300000 100 1200000",
            "262144 524288 1048576"
        ));
        assert!(satisfies(Comparison::AtMost, "1", "1"));
        assert!(!satisfies(Comparison::AtMost, "60", "1"));
        assert!(satisfies(Comparison::Contains, "1024 65535", "1024 65535"));
        assert!(!satisfies(
            Comparison::Contains,
            "32768 60999",
            "1024 65535"
        ));
        assert!(!satisfies(Comparison::Equal, "2", "1"));
        assert_eq!(comparison_for("vm.swappiness"), Comparison::AtMost);
        assert_eq!(comparison_for("net.core.rmem_max"), Comparison::AtLeast);
    }

    #[test]
    fn two_cores_all_run_workers() {
        let facts = MachineFacts {
            cpus: vec![cpu(0, 0, 0, 0), cpu(1, 0, 1, 0)],
            ..Default::default()
        };
        let rec = recommend(&facts);
        assert_eq!(rec.worker_cores, vec![0, 1]);
        assert_eq!(rec.irq_cores, vec![0, 1]);
        assert!(!rec.smt);
    }

    #[test]
    fn smt_machine_puts_workers_on_first_threads_and_irqs_on_siblings() {
        // 8 physical cores, siblings numbered id and id+8 (the common Linux enumeration).
        let cpus: Vec<LogicalCpu> = (0..16).map(|id| cpu(id, 0, id % 8, 0)).collect();
        let facts = MachineFacts {
            cpus,
            nics: vec![Nic {
                name: "eth0".into(),
                rx_queues: 8,
                tx_queues: 8,
                node: Some(0),
            }],
            ..Default::default()
        };
        let rec = recommend(&facts);
        assert!(rec.smt);
        assert_eq!(rec.physical_cores, 8);
        // Core 0 (CPUs 0 and 8) left to the kernel; workers on 1..7; IRQs on 9..15.
        assert_eq!(rec.worker_cores, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(rec.irq_cores, vec![9, 10, 11, 12, 13, 14, 15]);
    }

    #[test]
    fn large_machine_without_smt_reserves_one_core_per_eight() {
        let cpus: Vec<LogicalCpu> = (0..32)
            .map(|id| cpu(id, id / 16, id % 16, id / 16))
            .collect();
        let facts = MachineFacts {
            cpus,
            nics: vec![Nic {
                name: "eth0".into(),
                rx_queues: 2,
                tx_queues: 2,
                node: Some(1),
            }],
            ..Default::default()
        };
        let rec = recommend(&facts);
        assert_eq!(rec.irq_cores, vec![0, 1, 2, 3]);
        assert_eq!(rec.worker_cores, (4..32).collect::<Vec<u32>>());
        assert_eq!(rec.numa_nodes, 2);
        assert!(
            rec.core_reasons.iter().any(|r| r.contains("ethtool -L")),
            "{:?}",
            rec.core_reasons
        );
    }

    #[test]
    fn sysctl_advice_flags_small_buffers_and_accepts_larger() {
        let mut facts = MachineFacts {
            cpus: vec![cpu(0, 0, 0, 0)],
            ..Default::default()
        };
        facts
            .sysctls
            .insert("net.core.rmem_max".into(), "212992".into());
        facts
            .sysctls
            .insert("net.core.wmem_max".into(), "134217728".into());
        let rec = recommend(&facts);
        let get = |k: &str| rec.sysctls.iter().find(|a| a.key == k).unwrap().clone();
        assert!(!get("net.core.rmem_max").ok);
        assert!(get("net.core.wmem_max").ok);
        // Absent optional key (conntrack not loaded) is fine; absent mandatory key is not.
        assert!(get("net.netfilter.nf_conntrack_max").ok);
        assert!(!get("net.core.netdev_max_backlog").ok);
    }

    #[test]
    fn udp_mem_is_scaled_to_small_ram() {
        let facts = MachineFacts {
            cpus: vec![cpu(0, 0, 0, 0)],
            mem_bytes: Some(2 << 30),
            ..Default::default()
        };
        let rec = recommend(&facts);
        let a = rec
            .sysctls
            .iter()
            .find(|a| a.key == "net.ipv4.udp_mem")
            .unwrap();
        let vals = numbers(&a.recommended).unwrap();
        // 2 GiB = 524288 pages; a quarter is 131072.
        assert_eq!(vals[2], 131072);
        assert!(vals[0] <= vals[1] && vals[1] <= vals[2]);
    }
}
