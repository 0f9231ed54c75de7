//! Scenarios 3 and 4: a node cut off from every other host, and the catalog
//! leader cut off from the other nodes while the gateway still reaches it (it
//! must stop acknowledging: a stale read or a write it acknowledged alone fails
//! the linearizability check).

use std::time::Duration;

use crate::{load_for, Fault, READBACK};
use cairn_tests::netns::Host;
use cairn_tests::ServerOpts;

const RESUME: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_partition_one_node_then_heal() {
    let f = Fault::launch(ServerOpts::new()).await;
    let v = f.verifier("s3").await;
    load_for(6).await;
    let leader = f.leader().await;
    let victim = leader % 3 + 1;
    f.hosts.isolate(Host::Node(victim));
    println!("node {victim} cut off (catalog leader: {leader})");
    v.wait_writes(20, RESUME, "writes with a node cut off")
        .await;
    load_for(8).await;
    f.hosts.heal(Host::Node(victim));
    v.wait_writes(20, RESUME, "writes after healing").await;
    load_for(6).await;
    let s = v
        .finish("3 partition isolating one node, heal", READBACK)
        .await;
    s.assert_clean(100);
    f.cluster
        .wait_caught_up(victim, Duration::from_secs(60))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s4_partition_catalog_leader_from_majority() {
    let f = Fault::launch(ServerOpts::new()).await;
    let v = f.verifier("s4").await;
    load_for(6).await;
    let leader = f.leader().await;
    f.hosts.partition(Host::Node(leader), &f.peers(leader));
    let (new, took) = f.wait_new_leader(leader, Duration::from_secs(20)).await;
    println!("catalog leader {leader} cut off from its peers; node {new} leads after {took:?}");
    // The old leader, still reached by the gateway, stops answering as one once
    // it has heard from no majority for an election timeout (`check_quorum`), so
    // the gateway finds the new leader and writes go on during the partition.
    v.wait_writes(20, RESUME, "writes with the old leader cut off")
        .await;
    load_for(10).await;
    f.hosts.heal(Host::Node(leader));
    v.wait_writes(20, RESUME, "writes after healing").await;
    load_for(6).await;
    let s = v
        .finish("4 partition isolating the catalog leader", READBACK)
        .await;
    s.assert_clean(100);
    f.cluster
        .wait_caught_up(leader, Duration::from_secs(60))
        .await;
}
