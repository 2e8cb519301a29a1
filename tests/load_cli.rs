//! The `ringlet load`, `ringlet tune` and tuning/irq-pin.sh commands as an operator runs them.
use std::fs;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;

fn ringlet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringlet"))
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn json_u64(json: &str, key: &str) -> u64 {
    let k = format!("\"{key}\":");
    let start = json
        .find(&k)
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
        + k.len();
    json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn load_json_reports_the_counts() {
    let port = free_port();
    let out = ringlet()
        .args([
            "load",
            "--scenario",
            "call",
            "--json",
            "--quiet",
            "--rate",
            "100",
            "--count",
            "20",
        ])
        .args([
            "--busy",
            "0.1",
            "--proxy",
            &format!("127.0.0.1:{port}"),
            "--uas",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Exit status 1: some calls failed (the 486 share), as sipp does.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    assert_eq!(json_u64(&stdout, "attempted"), 20);
    assert_eq!(json_u64(&stdout, "succeeded"), 18);
    assert_eq!(json_u64(&stdout, "486"), 2);
    assert_eq!(json_u64(&stdout, "invites"), 20);
}

#[test]
fn load_refuses_non_loopback_and_bad_values() {
    for (args, why) in [
        (vec!["--proxy", "192.0.2.1:5060"], "not a loopback address"),
        (vec!["--rate", "0"], "--rate must be positive"),
        (
            vec!["--busy", "0.7", "--unanswered", "0.5"],
            "must not exceed 1",
        ),
        (
            vec!["--users", "/nonexistent/users.txt"],
            "/nonexistent/users.txt",
        ),
    ] {
        let out = ringlet().arg("load").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn load_names_the_line_of_a_bad_user_file() {
    let dir = std::env::temp_dir().join(format!("ringlet-load-cli-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.txt");
    fs::write(&file, "alice 127.0.0.1 secret\nbob 127.0.0.1\n").unwrap();
    let out = ringlet()
        .args(["load", "--scenario", "register", "--users"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users.txt:2: expected 3 fields"), "{err}");
}

#[test]
fn tune_reads_a_fake_root() {
    let dir = std::env::temp_dir().join(format!("ringlet-tune-cli-{}", std::process::id()));
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w("sys/devices/system/cpu/online", "0-3\n");
    for id in 0..4 {
        w(
            &format!("sys/devices/system/cpu/cpu{id}/topology/core_id"),
            &format!("{id}\n"),
        );
    }
    w("proc/sys/net/core/rmem_max", "212992\n");
    let out = ringlet()
        .args(["tune", "--root"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&dir);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("machine: 4 logical CPUs, 4 physical cores (no SMT)"),
        "{text}"
    );
    assert!(text.contains("cores = [1, 2, 3]"), "{text}");
    assert!(
        text.contains("change  net.core.rmem_max = 67108864    (now 212992)"),
        "{text}"
    );
}

/// tuning/irq-pin.sh against a fake /sys and /proc (SYSFS, PROCFS): a 4-queue NIC whose
/// rx/tx vectors per queue share a core, its config vector left alone.
#[test]
fn irq_pin_spreads_queue_vectors_and_skips_config() {
    let dir = std::env::temp_dir().join(format!("ringlet-irq-pin-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w("sys/devices/system/cpu/online", "0-1\n");
    let mut interrupts = String::from("           CPU0       CPU1\n");
    w("sys/devices/pci0/msi_irqs/40", "");
    interrupts.push_str(" 40:  0 0 PCI-MSIX 0-edge virtio0-config\n");
    for q in 0..4 {
        for (k, name) in [(0, "input"), (1, "output")] {
            let irq = 41 + 2 * q + k;
            w(&format!("sys/devices/pci0/msi_irqs/{irq}"), "");
            w(&format!("proc/irq/{irq}/smp_affinity_list"), "0-1\n");
            interrupts.push_str(&format!(
                " {irq}:  0 0 PCI-MSIX {q}-edge virtio0-{name}.{q}\n"
            ));
        }
    }
    w("proc/interrupts", &interrupts);
    fs::create_dir_all(dir.join("sys/class/net/eth0")).unwrap();
    fs::create_dir_all(dir.join("sys/devices/pci0/virtio0")).unwrap();
    std::os::unix::fs::symlink(
        dir.join("sys/devices/pci0/virtio0"),
        dir.join("sys/class/net/eth0/device"),
    )
    .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tuning/irq-pin.sh");
    let run = |dry: bool| {
        let mut c = Command::new("bash");
        c.arg(&script)
            .env("SYSFS", dir.join("sys"))
            .env("PROCFS", dir.join("proc"));
        if dry {
            c.arg("--dry-run");
        }
        c.output().unwrap()
    };
    let dry = run(true);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(!text.contains("config"), "{text}");
    assert_eq!(text.lines().count(), 1 + 8, "{text}");
    assert_eq!(
        fs::read_to_string(dir.join("proc/irq/43/smp_affinity_list")).unwrap(),
        "0-1\n",
        "dry run writes nothing"
    );
    let real = run(false);
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let aff = |irq: u32| {
        fs::read_to_string(dir.join(format!("proc/irq/{irq}/smp_affinity_list"))).unwrap()
    };
    // Queue q on core q mod 2, both of its vectors.
    assert_eq!((aff(41), aff(42)), ("0\n".into(), "0\n".into()));
    assert_eq!((aff(43), aff(44)), ("1\n".into(), "1\n".into()));
    assert_eq!((aff(45), aff(47)), ("0\n".into(), "1\n".into()));
    let _ = fs::remove_dir_all(&dir);
}
