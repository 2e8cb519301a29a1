#!/usr/bin/env bash
# irq-pin.sh: spread a NIC's queue interrupts over CPU cores, one queue per core.
#
# Why: Ringlet runs one worker per core, each with its own SO_REUSEPORT socket.  If all
# receive queues interrupt on core 0 (or irqbalance moves them around under load), one core
# does every softirq and the workers on it fall behind.  Pinning queue i to core i keeps the
# softirq of a packet on the core that will most likely read it and spreads kernel work.
#
# Usage: irq-pin.sh [--dry-run] [--cores LIST] [IFACE...]
#   IFACE      interfaces to pin (default: every interface with a device, except lo)
#   --cores    CPU list to spread over, e.g. "0-7" or "0,2,4,6" (default: online CPUs)
#   --dry-run  print what would be written, change nothing
#
# Prints one line per IRQ: interface, irq number, name, old and new CPU list.
# Stop irqbalance first (systemctl disable --now irqbalance) or it will undo this.
#
# Environment (for tests): SYSFS (default /sys), PROCFS (default /proc).
set -euo pipefail

SYSFS=${SYSFS:-/sys}
PROCFS=${PROCFS:-/proc}
dry_run=0
cores_arg=""
ifaces=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --cores) shift; cores_arg=${1:?--cores needs a list} ;;
        --cores=*) cores_arg=${1#--cores=} ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "irq-pin: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) ifaces+=("$1") ;;
    esac
    shift
done

# Expand a CPU list such as "0-3,8,10-11" into one number per line.
expand_cpulist() {
    local part lo hi
    local IFS=,
    for part in $1; do
        part=${part// /}
        [ -z "$part" ] && continue
        if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
            lo=${BASH_REMATCH[1]}; hi=${BASH_REMATCH[2]}
            seq "$lo" "$hi"
        elif [[ $part =~ ^[0-9]+$ ]]; then
            echo "$part"
        else
            echo "irq-pin: bad CPU list element '$part'" >&2
            exit 2
        fi
    done
}

if [ -z "$cores_arg" ]; then
    cores_arg=$(cat "$SYSFS/devices/system/cpu/online")
fi
mapfile -t cores < <(expand_cpulist "$cores_arg")
if [ "${#cores[@]}" -eq 0 ]; then
    echo "irq-pin: no cores to spread over" >&2
    exit 2
fi

if [ "${#ifaces[@]}" -eq 0 ]; then
    for dev in "$SYSFS"/class/net/*; do
        name=${dev##*/}
        [ "$name" = lo ] && continue
        [ -e "$dev/device" ] || continue   # virtual interfaces (bridges, ifb) have no IRQs
        ifaces+=("$name")
    done
fi

if [ "$dry_run" -eq 0 ] && command -v pgrep >/dev/null && pgrep -x irqbalance >/dev/null; then
    echo "irq-pin: warning: irqbalance is running and will move these IRQs again" >&2
fi

# IRQ name as /proc/interrupts shows it (last column), or "?".
irq_name() {
    awk -v irq="$1:" '$1 == irq { print $NF; found = 1 } END { if (!found) print "?" }' \
        "$PROCFS/interrupts"
}

# The MSI IRQs of an interface, queue interrupts only, in queue order.  Physical NICs list
# them under device/msi_irqs; virtio NICs under the PCI parent of the virtio device.  When
# neither exists (legacy INTx), fall back to /proc/interrupts lines naming the interface.
queue_irqs() {
    local ifc=$1 dev dir irq name
    dev=$(readlink -f "$SYSFS/class/net/$ifc/device" 2>/dev/null || true)
    dir=""
    if [ -n "$dev" ] && [ -d "$dev/msi_irqs" ]; then
        dir="$dev/msi_irqs"
    elif [ -n "$dev" ] && [ -d "$dev/../msi_irqs" ]; then
        dir="$dev/../msi_irqs"
    fi
    if [ -n "$dir" ]; then
        for irq in $(ls "$dir" | sort -n); do
            name=$(irq_name "$irq")
            # Configuration / link-state / async-event vectors carry no packets.
            case "$name" in
                *config*|*-async*|*-fdir*|*-misc*|*-event*|*-link*|*-reporting*|*-stats*) continue ;;
            esac
            echo "$irq $name"
        done
    else
        awk -v ifc="$ifc" '$1 ~ /^[0-9]+:$/ && index($NF, ifc) { sub(":", "", $1); print $1, $NF }' \
            "$PROCFS/interrupts"
    fi
}

printf '%-10s %6s %-28s %-10s %s\n' IFACE IRQ NAME OLD NEW
status=0
for ifc in "${ifaces[@]}"; do
    if [ ! -e "$SYSFS/class/net/$ifc" ]; then
        echo "irq-pin: no such interface: $ifc" >&2
        status=1
        continue
    fi
    i=0
    found=0
    while read -r irq name; do
        [ -z "$irq" ] && continue
        found=1
        # Queue number from the name ("eth0-TxRx-3", "virtio2-input.3", "mlx5_comp3"), so
        # that the rx and tx vectors of one queue land on the same core; else count.
        if [[ $name =~ ([0-9]+)$ ]]; then q=${BASH_REMATCH[1]}; else q=$i; fi
        cpu=${cores[$((q % ${#cores[@]}))]}
        i=$((i + 1))
        aff="$PROCFS/irq/$irq/smp_affinity_list"
        old=$(cat "$aff" 2>/dev/null || echo "?")
        if [ "$dry_run" -eq 1 ]; then
            new="$cpu (dry run)"
        elif echo "$cpu" > "$aff" 2>/dev/null; then
            new=$(cat "$aff")
        else
            # Some IRQs are managed by the kernel (EIO) and cannot be moved from user space.
            new="unchanged: kernel refused"
            status=1
        fi
        printf '%-10s %6s %-28s %-10s %s\n' "$ifc" "$irq" "$name" "$old" "$new"
    done < <(queue_irqs "$ifc")
    if [ "$found" -eq 0 ]; then
        echo "irq-pin: $ifc: no queue IRQs found" >&2
    fi
done
exit "$status"
