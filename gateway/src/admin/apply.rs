//! `cairn cluster apply`: commits the map a cluster file describes as the next
//! epoch (refused if another apply committed since the plan was made), then with
//! `--wait` follows the moves until every placement group has its new members and
//! old copies are gone — a progress bar on a terminal, plain lines otherwise.

use super::plan::{plan, render, Plan};
use super::status::progress_line;
use super::view::{collect, pg_sizes, ClusterView};
use cairn_node::cluster::config::ClusterConfig;
use cairn_node::{Error, NodeClient};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct ApplyOptions {
    pub wait: bool,
    pub json: bool,
    /// Give up waiting after this long (None: wait for as long as it takes).
    pub timeout: Option<Duration>,
}

/// `cairn cluster plan`.
pub async fn run_plan(cfg: &ClusterConfig, json: bool) -> Result<(), String> {
    let view = collect(cfg).await?;
    let plan = plan(&view.map, cfg, &pg_sizes(&view))?;
    print_plan(&plan, &view, json)
}

fn print_plan(plan: &Plan, view: &ClusterView, json: bool) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string(plan).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", render(plan, &view.map));
    }
    Ok(())
}

/// `cairn cluster apply`.
pub async fn run_apply(cfg: &ClusterConfig, opts: ApplyOptions) -> Result<(), String> {
    let view = collect(cfg).await?;
    let plan = plan(&view.map, cfg, &pg_sizes(&view))?;
    print_plan(&plan, &view, opts.json)?;
    if plan.changes_anything() {
        let mut map = plan.map.clone();
        map.applied_at_ms = cairn_node::now_ms();
        let client = NodeClient::remote(cfg).map_err(|e| e.to_string())?;
        match client.set_cluster_map(map).await {
            Ok(()) => {}
            Err(Error::StaleMap { committed }) => {
                return Err(format!(
                    "refused: the cluster map changed meanwhile (epoch {committed} was committed by another apply); run plan again"
                ))
            }
            Err(e) => return Err(format!("could not commit the map: {e}")),
        }
        eprintln!("cluster map epoch {} committed", plan.next_epoch);
    }
    if !opts.wait {
        return Ok(());
    }
    let view = wait_for_moves(cfg, plan.next_epoch, opts.timeout).await?;
    if opts.json {
        println!(
            "{}",
            serde_json::to_string(&view).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

/// Polls the cluster until the moves of `epoch` are done; fails when a move has
/// failed repeatedly or the timeout passes.
pub async fn wait_for_moves(
    cfg: &ClusterConfig,
    epoch: u64,
    timeout: Option<Duration>,
) -> Result<ClusterView, String> {
    let start = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let mut last_line = Instant::now();
    let mut first = true;
    loop {
        let pause = if first { 300 } else { 1000 };
        first = false;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let view = match collect(cfg).await {
            Ok(v) if v.epoch >= epoch => v,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "status poll failed");
                continue;
            }
        };
        let p = &view.moves;
        match &bar {
            Some(bar) => {
                bar.set_length(p.bytes_total);
                bar.set_position(p.bytes_done);
                bar.set_message(format!("{}/{} PGs", p.pgs_done, p.pgs_total));
            }
            None if last_line.elapsed() >= Duration::from_secs(5) => {
                eprintln!("{}", progress_line(p));
                last_line = Instant::now();
            }
            None => {}
        }
        if !p.failed.is_empty() {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            let why: Vec<String> = p
                .failed
                .iter()
                .map(|f| format!("group {}: {}", f.group, f.error))
                .collect();
            return Err(format!("moves failed: {}", why.join("; ")));
        }
        if p.done {
            if let Some(bar) = &bar {
                bar.finish();
            }
            eprintln!(
                "{} in {:.1} s",
                progress_line(p),
                start.elapsed().as_secs_f64()
            );
            return Ok(view);
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Err(format!(
                "timed out after {} s: {}",
                start.elapsed().as_secs(),
                progress_line(p)
            ));
        }
    }
}
