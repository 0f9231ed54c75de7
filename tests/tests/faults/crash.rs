//! Scenarios 1, 2 and 5: kill -9 of a node, of the catalog leader, and a rolling
//! restart of every node, under load.

use std::time::Duration;

use crate::{load_for, Fault, READBACK};
use cairn_tests::ServerOpts;

const RESUME: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s1_kill9_node_and_restart() {
    let mut f = Fault::launch(ServerOpts::new()).await;
    let v = f.verifier("s1").await;
    load_for(6).await;
    let leader = f.leader().await;
    let victim = leader % 3 + 1;
    f.cluster.kill9_node(victim);
    println!("killed node {victim} (catalog leader: {leader})");
    v.wait_writes(20, RESUME, "writes with a node down").await;
    load_for(8).await;
    f.cluster.start_node(victim).await;
    v.wait_writes(20, RESUME, "writes after the restart").await;
    load_for(6).await;
    let s = v.finish("1 kill -9 of a node, restart", READBACK).await;
    s.assert_clean(100);
    f.cluster
        .wait_caught_up(victim, Duration::from_secs(60))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s2_kill9_catalog_leader() {
    let mut f = Fault::launch(ServerOpts::new()).await;
    let v = f.verifier("s2").await;
    load_for(6).await;
    let leader = f.leader().await;
    f.cluster.kill9_node(leader);
    let (new, took) = f.wait_new_leader(leader, Duration::from_secs(20)).await;
    println!("killed catalog leader {leader}; node {new} leads after {took:?}");
    v.wait_writes(20, RESUME, "writes after the leader's death")
        .await;
    load_for(8).await;
    f.cluster.start_node(leader).await;
    load_for(6).await;
    let s = v.finish("2 kill -9 of the catalog leader", READBACK).await;
    s.assert_clean(100);
    f.cluster
        .wait_caught_up(leader, Duration::from_secs(60))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s5_rolling_restart_under_load() {
    let mut f = Fault::launch(ServerOpts::new()).await;
    let v = f.verifier("s5").await;
    load_for(4).await;
    for id in f.cluster.node_ids() {
        f.cluster.stop_node(id);
        load_for(2).await;
        f.cluster.start_node(id).await;
        v.wait_writes(10, RESUME, &format!("writes after restarting node {id}"))
            .await;
        load_for(3).await;
    }
    let s = v.finish("5 rolling restart of every node", READBACK).await;
    s.assert_clean(100);
}
