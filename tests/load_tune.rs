//! `ringlet tune` against a fake sysfs/procfs tree: the file reading half, end to end.
use std::fs;
use std::path::{Path, PathBuf};

use ringlet::load::tune::{read_machine, recommend, render};

/// A unique scratch directory under the system temp dir, removed on drop.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ringlet-tune-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        FakeRoot(dir)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    fn mkdir(&self, rel: &str) {
        fs::create_dir_all(self.0.join(rel)).unwrap();
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// 2 sockets x 4 cores x 2 threads, Linux numbering: CPU n and n+8 are siblings,
/// CPUs 0-3,8-11 on node 0; one NIC with 4 queues on node 1; a bridge without a device.
fn two_socket_smt(root: &FakeRoot) {
    root.write("sys/devices/system/cpu/online", "0-15\n");
    for id in 0..16u32 {
        let phys = id % 8;
        root.write(
            &format!("sys/devices/system/cpu/cpu{id}/topology/core_id"),
            &format!("{}\n", phys % 4),
        );
        root.write(
            &format!("sys/devices/system/cpu/cpu{id}/topology/physical_package_id"),
            &format!("{}\n", phys / 4),
        );
    }
    root.write("sys/devices/system/node/node0/cpulist", "0-3,8-11\n");
    root.write("sys/devices/system/node/node1/cpulist", "4-7,12-15\n");
    root.write("sys/class/net/eth0/device/numa_node", "1\n");
    for q in 0..4 {
        root.mkdir(&format!("sys/class/net/eth0/queues/rx-{q}"));
        root.mkdir(&format!("sys/class/net/eth0/queues/tx-{q}"));
    }
    root.mkdir("sys/class/net/br0/queues/rx-0");
    root.mkdir("sys/class/net/lo/queues/rx-0");
    root.write("proc/sys/net/core/rmem_max", "212992\n");
    root.write("proc/sys/net/core/netdev_max_backlog", "300000\n");
    root.write("proc/sys/net/ipv4/udp_mem", "575799\t767734\t1151598\n");
    root.write("proc/sys/vm/swappiness", "60\n");
    root.write(
        "proc/meminfo",
        "MemTotal:       65536000 kB\nMemFree: 1 kB\n",
    );
}

#[test]
fn reads_topology_numa_nics_and_sysctls() {
    let root = FakeRoot::new("read");
    two_socket_smt(&root);
    let facts = read_machine(root.path()).unwrap();
    assert_eq!(facts.cpus.len(), 16);
    assert_eq!(facts.cpus[9].core, 1);
    assert_eq!(facts.cpus[9].package, 0);
    assert_eq!(facts.cpus[12].package, 1);
    assert_eq!(facts.cpus[12].node, Some(1));
    assert_eq!(
        facts.nics.len(),
        1,
        "only eth0 has a device: {:?}",
        facts.nics
    );
    assert_eq!(facts.nics[0].rx_queues, 4);
    assert_eq!(facts.nics[0].node, Some(1));
    assert_eq!(
        facts.sysctls.get("net.ipv4.udp_mem").map(String::as_str),
        Some("575799 767734 1151598")
    );
    assert_eq!(facts.mem_bytes, Some(65_536_000 * 1024));
}

#[test]
fn recommends_workers_irqs_and_sysctl_changes() {
    let root = FakeRoot::new("rec");
    two_socket_smt(&root);
    let facts = read_machine(root.path()).unwrap();
    let rec = recommend(&facts);
    assert!(rec.smt);
    assert_eq!(rec.physical_cores, 8);
    assert_eq!(rec.numa_nodes, 2);
    // Physical core 0 (CPUs 0, 8) to the kernel; one worker per other physical core.
    assert_eq!(rec.worker_cores, vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(rec.irq_cores, vec![9, 10, 11, 12, 13, 14, 15]);
    let advice = |k: &str| rec.sysctls.iter().find(|a| a.key == k).unwrap();
    assert!(!advice("net.core.rmem_max").ok);
    assert!(advice("net.core.netdev_max_backlog").ok);
    assert!(advice("net.ipv4.udp_mem").ok);
    assert!(!advice("vm.swappiness").ok);
    let text = render(&facts, &rec);
    assert!(text.contains("cores = [1, 2, 3, 4, 5, 6, 7]"), "{text}");
    assert!(text.contains("CPUAffinity=1-7"), "{text}");
    assert!(text.contains("irq-pin.sh --cores 9-15"), "{text}");
    assert!(
        text.contains("change  net.core.rmem_max = 67108864    (now 212992)"),
        "{text}"
    );
}

#[test]
fn missing_online_file_names_the_file() {
    let root = FakeRoot::new("missing");
    let err = read_machine(root.path()).unwrap_err();
    assert!(
        err.to_string().contains("devices/system/cpu/online"),
        "{err}"
    );
}

#[test]
fn garbage_topology_is_an_error_not_a_panic() {
    let root = FakeRoot::new("garbage");
    root.write("sys/devices/system/cpu/online", "0\n");
    root.write("sys/devices/system/cpu/cpu0/topology/core_id", "zero\n");
    let err = read_machine(root.path()).unwrap_err();
    assert!(err.to_string().contains("core_id"), "{err}");
    assert!(err.to_string().contains("not a number"), "{err}");
}

#[test]
fn the_real_machine_is_readable() {
    // Whatever this machine is, reading it must work and give at least one worker core.
    let facts = read_machine(Path::new("/")).unwrap();
    let rec = recommend(&facts);
    assert!(!rec.worker_cores.is_empty());
    assert!(rec
        .worker_cores
        .iter()
        .all(|c| facts.cpus.iter().any(|l| l.id == *c)));
}
