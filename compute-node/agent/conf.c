/*
 * conf.c - stratus-node's configuration keys (common/config.h: a file,
 * STRATUS_NODE_<KEY> environment variables, --set) and the host capacity
 * detected when capacity.* is 0, and the tunnel IP / underlay device when
 * network.* leaves them empty.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static const st_config_key keys[] = {
    {"node.name", "", "this node's name, as registered in the gateway; default: hostname"},
    {"node.credential", "",
     "this node's one credential for the gateway, billing and the image"
     " service (`stratus-gateway node-add NAME`, POST /v1/nodes)"},
    {"gateway.url", "http://127.0.0.1:8080", "the gateway's base URL"},
    {"images.url", "http://127.0.0.1:9292", "the image service's API base URL"},
    {"images.data_url", "http://127.0.0.1:9293", "the image service's data listener base URL"},
    {"billing.url", "http://127.0.0.1:8083", "billing's base URL"},
    {"state_dir", "/var/lib/stratus/node", "instances, cached images, the metering spool"},
    {"driver", "vmm", "vmm (stratus-vmm) or libvirt"},
    {"vmm.path", ND_DEFAULT_VMM_PATH, "the stratus-vmm binary"},
    {"vmm.log_level", "info", "the VMMs' log level"},
    {"vmm.stop_timeout_ms", "60000",
     "a stop presses the power button and waits this long for the guest, then forces it"},
    {"jail.enabled", "auto",
     "run each stratus-vmm in a jail (own uid, mount and pid namespace): true, false, or auto"
     " (on when a trial jail runs here; otherwise off, with a warning)"},
    {"jail.uid_base", "400000", "the first uid (and gid) of the range jailed VMMs get"},
    {"jail.uid_count", "65536", "how many uids the range holds (one per instance on this host)"},
    {"cgroup.enabled", "auto",
     "a cgroup (v2, or v1 where cpu and memory are bound to v1) per instance with its flavor's CPU "
     "weight and memory limit: true, false, or"
     " auto (on when cgroup.parent can get the cpu and memory controllers)"},
    {"cgroup.parent", "/sys/fs/cgroup/stratus",
     "where instance cgroups are made (created when missing): a cgroup v2 directory, or on a"
     " v1 host the same name in the v1 cpu and memory hierarchies (<cpu mount>/stratus)"},
    {"cgroup.memory_overhead_mib", "64",
     "memory.max (v1: memory.limit_in_bytes) is the guest's RAM plus this"},
    {"cgroup.cpu_max", "none",
     "cap besides the weight: none, vcpus (one host CPU per vCPU) or share (vCPUs divided by"
     " the overcommit ratio capacity.vcpus / host CPUs)"},
    {"vm.cmdline", "console=ttyS0", "kernel command line every instance starts with"},
    {"vm.firmware", "/usr/share/seabios/bios.bin",
     "the BIOS that boots disk images with their own bootloader (Debian's seabios); the"
     " heartbeat says whether it is there, and only then are such images placed here"},
    {"disk.rbd_pool", "images",
     "Ceph pool of the image store's images (its store.rbd_pool): an instance whose disk_backend"
     " is rbd gets a copy-on-write clone disk-<instance id> of img-<sha256>@base there"},
    {"disk.rbd_conf", "", "ceph.conf for those disks (empty: librados' default)"},
    {"disk.rbd_client", "", "Ceph client id (empty: librados' default, admin)"},
    {"vm.shared_disk_dir", "",
     "a directory every host mounts at the same path (NFS, CephFS): each instance's disk is"
     " made there as <id>.qcow2, so a live migration finds it on the target (the gateway's"
     " instances.shared_storage); empty: disks stay in the instance directory"},
    {"migration.address", "",
     "the address an incoming VMM listens on for a live migration; empty: network.tunnel_ip,"
     " else 127.0.0.1"},
    {"migration.ports", "49152-49215", "the TCP ports incoming VMMs listen on, FIRST-LAST"},
    {"libvirt.uri", "qemu:///system", "libvirt connection URI (driver = libvirt)"},
    {"capacity.vcpus", "0", "vCPUs offered; 0: the host's CPUs"},
    {"capacity.memory_mib", "0", "memory offered, MiB; 0: the host's RAM less 1 GiB"},
    {"capacity.disk_gib", "0", "disk offered, GiB; 0: free space under state_dir"},
    {"sriov.sysfs_root", "",
     "where SR-IOV VFs are counted for the scheduler (/sys on a host); empty: report none"
     " (stratus-vmm cannot pass a VF through yet: see network/README.md)"},
    {"interval.heartbeat_ms", "5000", "heartbeat period"},
    {"fence.timeout", "20",
     "seconds without a heartbeat the gateway took before every guest is force-stopped and none"
     " started until it takes one again (fence.c); keep it under the gateway's nodes.down_after"
     " + evacuate.fence_margin less a force stop; 0: no fence"},
    {"interval.reconcile_ms", "500",
     "how often the node reconciles its VMs with the desired set, fetching it (unchanged: a"
     " 304) unless the long-poll holds"},
    {"interval.resync_ms", "10000",
     "while the desired set's long-poll holds, how often it is fetched anyway (a full resync,"
     " as a kubelet's relist); orders come by the long-poll meanwhile"},
    {"interval.longpoll_s", "25",
     "the desired set's long-poll: the gateway holds it this long unless the set changes, which "
     "starts a fetch at once (0: off, polling only)"},
    {"interval.meter_ms", "10000", "how often counters are sampled for billing"},
    {"interval.console_ms", "1000", "how often console tails are checked and pushed"},
    {"interval.spool_retry_ms", "5000", "retry period while billing is unreachable"},
    {"interval.image_gc_ms", "600000", "how often unused cached images are looked for"},
    {"spool.max_mib", "256",
     "metering batches kept while billing is away; the oldest beyond"
     " this are dropped (0: no bound)"},
    {"images.cache_keep_s", "86400",
     "an image no instance uses is removed this long after its"
     " last launch"},
    {"console.max_kib", "64", "console tail pushed to the gateway, KiB"},
    {"agent.threads", "8", "worker threads for blocking work (uv thread pool)"},
    {"security.drop_caps", "true", "drop capabilities the agent does not need at start-up"},
    {"state.fsync", "true", "fsync instance records and spooled samples"},
    {"network.enabled", "auto",
     "drive tenant networks (bridges, VXLAN, taps, nftables, dnsmasq):"
     " true, false, or auto (on when the data plane can be opened)"},
    {"network.underlay_dev", "", "the device VXLAN runs over; empty: the one holding tunnel_ip"},
    {"network.tunnel_ip", "",
     "this node's VXLAN endpoint (IPv4), told to the gateway; empty: the"
     " address this host reaches gateway.url from"},
    {"network.external_interface", "",
     "the uplink to the external networks (a dedicated device, no address of its own):"
     " this node then hosts routers and floating IPs; empty: none"},
    {"network.netns_dir", "", "where router namespaces are bound; empty: /run/netns"},
    {"network.state_dir", "", "dnsmasq configs, leases and pid files; empty: <state_dir>/net"},
    {"network.dnsmasq", "", "the dnsmasq program; empty: dnsmasq from PATH"},
    {"network.metadata_port", "8775",
     "the metadata service's local port (tcp to 169.254.169.254:80 arriving on a"
     " network's bridge is redirected to it); 0: no metadata service"},
    {"network.port_kind", "tap",
     "tap: a tap per virtio port, for the VMM; veth: a veth whose peer (eth0, eth1, ... in"
     " NIC order) goes into the namespace <network.guest_netns_dir>/<instance id>, where a"
     " namespace plays the guest (tests, demos; no VM uses the port)"},
    {"network.guest_netns_dir", "/run/netns",
     "with network.port_kind = veth: where the guests' namespaces are (ip netns add)"},
    {"interval.network_ms", "10000",
     "the data plane is converged this often even when the"
     " desired set is unchanged (a wiped host heals)"},
    {"log.level", "info", "debug, info, warn or error (SIGHUP applies a change)"},
    {"log.file", "", "append log lines to this file, reopened on SIGHUP; empty: stderr"},
    {"http.listen", "", "address for /healthz and /metrics (host:port); empty: not served"},
    {"http.port_file", "", "write the bound port here (for http.listen host:0)"},
    {0},
};

long long nd_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void detect(nd_conf *c)
{
    if (c->vcpus <= 0)
        c->vcpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (c->memory_mib <= 0) {
        long long mib = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) >> 20;
        c->memory_mib = mib > 2048 ? mib - 1024 : mib / 2;
    }
    if (c->disk_gib <= 0) {
        struct statvfs v;
        c->disk_gib = statvfs(c->state_dir, &v) == 0
                          ? (long long)((unsigned long long)v.f_bavail * v.f_frsize >> 30)
                          : 0;
    }
}

st_config *nd_conf_load(int argc, char **argv, nd_conf *c)
{
    static char **rest;
    int rest_n = 0;
    st_config *cfg =
        st_config_from_args(argc, argv, "stratus-node", "STRATUS_NODE_", keys, &rest, &rest_n);
    memset(c, 0, sizeof *c);
    /* one command word at most: teardown-network (main.c) */
    if (rest_n > 1 || (rest_n == 1 && strcmp(rest[0], "teardown-network") != 0)) {
        fprintf(stderr,
                "stratus-node: unknown argument '%s' (try --help; the one command is"
                " teardown-network)\n",
                rest[rest_n > 1 && !strcmp(rest[0], "teardown-network") ? 1 : 0]);
        exit(2);
    }
    c->command = rest_n ? rest[0] : NULL;
    c->node_name = st_config_str(cfg, "node.name");
    c->credential = st_config_str(cfg, "node.credential");
    c->gw_url = st_config_str(cfg, "gateway.url");
    c->img_url = st_config_str(cfg, "images.url");
    c->img_data_url = st_config_str(cfg, "images.data_url");
    c->bill_url = st_config_str(cfg, "billing.url");
    c->state_dir = st_config_str(cfg, "state_dir");
    c->driver = st_config_str(cfg, "driver");
    c->vmm_path = st_config_str(cfg, "vmm.path");
    c->vmm_log_level = st_config_str(cfg, "vmm.log_level");
    c->stop_timeout_ms = st_config_int(cfg, "vmm.stop_timeout_ms");
    c->cmdline = st_config_str(cfg, "vm.cmdline");
    c->firmware = st_config_str(cfg, "vm.firmware");
    c->rbd_pool = st_config_str(cfg, "disk.rbd_pool");
    c->rbd_conf = st_config_str(cfg, "disk.rbd_conf");
    c->rbd_client = st_config_str(cfg, "disk.rbd_client");
    c->shared_disk_dir = st_config_str(cfg, "vm.shared_disk_dir");
    c->mig_address = st_config_str(cfg, "migration.address");
    const char *ports = st_config_str(cfg, "migration.ports");
    char *dash = NULL;
    c->mig_port_lo = strtol(ports, &dash, 10);
    c->mig_port_hi = dash && *dash == '-' ? strtol(dash + 1, NULL, 10) : 0;
    c->jail_enabled = st_config_str(cfg, "jail.enabled");
    c->jail_uid_base = st_config_int(cfg, "jail.uid_base");
    c->jail_uid_count = st_config_int(cfg, "jail.uid_count");
    c->cg_enabled = st_config_str(cfg, "cgroup.enabled");
    c->cg_parent = st_config_str(cfg, "cgroup.parent");
    c->cg_overhead_mib = st_config_int(cfg, "cgroup.memory_overhead_mib");
    c->cg_cpu_max = st_config_str(cfg, "cgroup.cpu_max");
    c->libvirt_uri = st_config_str(cfg, "libvirt.uri");
    c->vcpus = st_config_int(cfg, "capacity.vcpus");
    c->memory_mib = st_config_int(cfg, "capacity.memory_mib");
    c->disk_gib = st_config_int(cfg, "capacity.disk_gib");
    c->hb_ms = st_config_int(cfg, "interval.heartbeat_ms");
    c->fence_timeout_ms = st_config_int(cfg, "fence.timeout") * 1000;
    c->reconcile_ms = st_config_int(cfg, "interval.reconcile_ms");
    c->longpoll_s = st_config_int(cfg, "interval.longpoll_s");
    c->resync_ms = st_config_int(cfg, "interval.resync_ms");
    if (c->longpoll_s > 60)
        c->longpoll_s = 60; /* the gateway's bound */
    c->meter_ms = st_config_int(cfg, "interval.meter_ms");
    c->console_ms = st_config_int(cfg, "interval.console_ms");
    c->spool_retry_ms = st_config_int(cfg, "interval.spool_retry_ms");
    c->image_gc_ms = st_config_int(cfg, "interval.image_gc_ms");
    c->image_keep_s = st_config_int(cfg, "images.cache_keep_s");
    c->spool_max_mib = st_config_int(cfg, "spool.max_mib");
    c->console_kib = st_config_int(cfg, "console.max_kib");
    c->threads = st_config_int(cfg, "agent.threads");
    c->drop_caps = st_config_bool(cfg, "security.drop_caps");
    c->state_fsync = st_config_bool(cfg, "state.fsync");
    c->net_enabled = st_config_str(cfg, "network.enabled");
    snprintf(c->underlay_dev, sizeof c->underlay_dev, "%s",
             st_config_str(cfg, "network.underlay_dev"));
    snprintf(c->tunnel_ip, sizeof c->tunnel_ip, "%s", st_config_str(cfg, "network.tunnel_ip"));
    snprintf(c->external_if, sizeof c->external_if, "%s",
             st_config_str(cfg, "network.external_interface"));
    snprintf(c->netns_dir, sizeof c->netns_dir, "%s", st_config_str(cfg, "network.netns_dir"));
    snprintf(c->sriov_sysfs, sizeof c->sriov_sysfs, "%s", st_config_str(cfg, "sriov.sysfs_root"));
    const char *nsd = st_config_str(cfg, "network.state_dir");
    if (*nsd)
        snprintf(c->net_state_dir, sizeof c->net_state_dir, "%s", nsd);
    else
        snprintf(c->net_state_dir, sizeof c->net_state_dir, "%s/net", c->state_dir);
    c->dnsmasq = st_config_str(cfg, "network.dnsmasq");
    c->md_port = st_config_int(cfg, "network.metadata_port");
    c->port_kind = st_config_str(cfg, "network.port_kind");
    c->guest_netns_dir = st_config_str(cfg, "network.guest_netns_dir");
    c->net_ms = st_config_int(cfg, "interval.network_ms");
    if (c->net_ms < 100)
        c->net_ms = 100;
    if (strcmp(c->net_enabled, "false") != 0)
        nd_net_detect(c);
    if (c->hb_ms < 100)
        c->hb_ms = 100;
    if (c->reconcile_ms < 50)
        c->reconcile_ms = 50;
    if (c->meter_ms < 100)
        c->meter_ms = 100;
    if (c->console_ms < 50)
        c->console_ms = 50;
    if (c->spool_retry_ms < 100)
        c->spool_retry_ms = 100;
    if (c->image_gc_ms < 100)
        c->image_gc_ms = 100;
    if (c->image_keep_s < 0)
        c->image_keep_s = 0;
    if (c->console_kib < 1 || c->console_kib > 1024)
        c->console_kib = 64;
    if (c->threads < 2 || c->threads > 128)
        c->threads = 8;
    if (c->mig_port_lo < 1 || c->mig_port_hi > 65535 || c->mig_port_lo > c->mig_port_hi) {
        fprintf(stderr, "stratus-node: migration.ports must be FIRST-LAST within 1-65535\n");
        exit(2);
    }
    detect(c);
    return cfg;
}
