//! Separate hosts on one machine for fault tests: every `cairn node` and the
//! gateway of a [`crate::Cluster`] runs in its own Linux network namespace with its
//! own address, wired to a bridge in a hub namespace; the test process reaches them
//! through a veth of the host's namespace. Partitions are iptables DROP rules in a
//! host's namespace (silent loss, as a cut cable or a dead switch port gives).
//! Needs root, `ip` (iproute2) and `iptables`; [`Hosts::create`] panics with the
//! reason when they are missing, so a fault run never passes by skipping.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// One machine of a test cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Gateway,
    Node(u64),
}

/// The namespaces of one cluster: `cairnfK-hub` (the bridge), `cairnfK-gw`,
/// `cairnfK-nID`, addresses 10.213.K.0/24 (the test process is .1, the gateway .2,
/// node ID .(10 + ID)). K is claimed by creating the host-side link `cairnfK`.
#[derive(Debug)]
pub struct Hosts {
    k: u32,
    hosts: Vec<Host>,
    /// Extra environment of each host's processes (e.g. libfaketime).
    env: Mutex<BTreeMap<Host, Vec<(String, String)>>>,
}

/// Run a command to completion; `Err` with its output unless it exits 0.
fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{args:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) {
    if let Err(e) = run(args) {
        panic!("network namespace setup: {e}");
    }
}

impl Hosts {
    /// Namespaces for a gateway and nodes `1..=nodes`, wired and up.
    pub fn create(nodes: u64) -> Hosts {
        assert!(
            std::env::var("USER").as_deref() == Ok("root")
                || run(&["id", "-u"]).is_ok_and(|u| u.trim() == "0"),
            "the fault suite needs root (network namespaces, iptables, mounts)"
        );
        for tool in ["ip", "iptables"] {
            assert!(
                run(&["sh", "-c", &format!("command -v {tool}")]).is_ok(),
                "the fault suite needs `{tool}` (Debian: iproute2, iptables)"
            );
        }
        let start = std::process::id() % 200;
        let k = (0..250)
            .map(|i| 1 + (start + i) % 250)
            .find(|k| {
                let link = format!("cairnf{k}");
                let peer = format!("cairnf{k}p");
                run(&[
                    "ip", "link", "add", &link, "type", "veth", "peer", "name", &peer,
                ])
                .is_ok()
            })
            .expect("no free cairnfK link name (K in 1..=250) for a test network");
        let mut hosts = vec![Host::Gateway];
        hosts.extend((1..=nodes).map(Host::Node));
        let h = Hosts {
            k,
            hosts,
            env: Mutex::default(),
        };
        h.wire();
        h
    }

    fn hub(&self) -> String {
        format!("cairnf{}-hub", self.k)
    }

    /// The namespace of `host`.
    pub fn ns(&self, host: Host) -> String {
        match host {
            Host::Gateway => format!("cairnf{}-gw", self.k),
            Host::Node(id) => format!("cairnf{}-n{id}", self.k),
        }
    }

    /// The address of `host`.
    pub fn ip(&self, host: Host) -> Ipv4Addr {
        let last = match host {
            Host::Gateway => 2,
            Host::Node(id) => 10 + u8::try_from(id).expect("node id below 240"),
        };
        Ipv4Addr::new(10, 213, self.k as u8, last)
    }

    /// The test process's own address on the test network.
    pub fn observer_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.k as u8, 1)
    }

    fn wire(&self) {
        let (k, hub) = (self.k, self.hub());
        let _ = run(&["ip", "netns", "del", &hub]);
        must(&["ip", "netns", "add", &hub]);
        must(&["ip", "link", "set", &format!("cairnf{k}p"), "netns", &hub]);
        must(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
        must(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
        must(&["ip", "-n", &hub, "link", "set", "lo", "up"]);
        must(&[
            "ip",
            "-n",
            &hub,
            "link",
            "set",
            &format!("cairnf{k}p"),
            "master",
            "br0",
            "up",
        ]);
        let cidr = format!("{}/24", self.observer_ip());
        must(&["ip", "addr", "add", &cidr, "dev", &format!("cairnf{k}")]);
        must(&["ip", "link", "set", &format!("cairnf{k}"), "up"]);
        for &host in &self.hosts {
            let ns = self.ns(host);
            let port = match host {
                Host::Gateway => "gw".to_string(),
                Host::Node(id) => format!("n{id}"),
            };
            let _ = run(&["ip", "netns", "del", &ns]);
            must(&["ip", "netns", "add", &ns]);
            must(&[
                "ip", "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            must(&[
                "ip", "-n", &hub, "link", "set", &port, "master", "br0", "up",
            ]);
            let cidr = format!("{}/24", self.ip(host));
            must(&["ip", "-n", &ns, "addr", "add", &cidr, "dev", "eth0"]);
            must(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
    }

    /// Set extra environment variables for `host`'s processes started from now on.
    pub fn set_env(&self, host: Host, vars: &[(&str, &str)]) {
        let mut env = self.env.lock().unwrap_or_else(|e| e.into_inner());
        env.insert(
            host,
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// `cmd` run inside `host`'s namespace (`ip netns exec`, which execs the
    /// program: the child's pid is the program's), with `host`'s extra environment.
    pub fn wrap(&self, host: Host, cmd: Command) -> Command {
        let mut out = Command::new("ip");
        out.arg("netns")
            .arg("exec")
            .arg(self.ns(host))
            .arg(cmd.get_program());
        out.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => out.env(k, v),
                None => out.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            out.current_dir(dir);
        }
        let env = self.env.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in env.get(&host).into_iter().flatten() {
            out.env(k, v);
        }
        out
    }

    fn iptables(&self, host: Host, rule: &[&str]) {
        let ns = self.ns(host);
        let mut args = vec!["ip", "netns", "exec", &ns, "iptables", "-w"];
        args.extend_from_slice(rule);
        must(&args);
    }

    /// Drop every packet between `host` and each of `others` (both directions,
    /// by rules in `host`'s namespace).
    pub fn partition(&self, host: Host, others: &[Host]) {
        for &o in others {
            let ip = self.ip(o).to_string();
            self.iptables(host, &["-A", "INPUT", "-s", &ip, "-j", "DROP"]);
            self.iptables(host, &["-A", "OUTPUT", "-d", &ip, "-j", "DROP"]);
        }
    }

    /// Cut `host` off from every other host of the cluster (the test process still
    /// reaches it, to observe).
    pub fn isolate(&self, host: Host) {
        let others: Vec<Host> = self.hosts.iter().copied().filter(|&h| h != host).collect();
        self.partition(host, &others);
    }

    /// Remove every partition rule of `host`.
    pub fn heal(&self, host: Host) {
        self.iptables(host, &["-F", "INPUT"]);
        self.iptables(host, &["-F", "OUTPUT"]);
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for &host in &self.hosts {
            let _ = run(&["ip", "netns", "del", &self.ns(host)]);
        }
        let _ = run(&["ip", "netns", "del", &self.hub()]);
        let _ = run(&["ip", "link", "del", &format!("cairnf{}", self.k)]);
    }
}
