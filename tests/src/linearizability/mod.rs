//! Linearizability checker for histories of per-key registers: the Wing & Gong
//! search with Lowe's memoization as Porcupine does it, run per key
//! (P-compositionality: a history is linearizable iff each key's sub-history is).
//!
//! Model: one register per key holding a value id or nothing. A GET reads it (a
//! `NoSuchKey` reads "absent"), a PUT writes a value, a DELETE writes "absent", and a
//! conditional PUT (`If-None-Match: *` / `If-Match: ETAG`) is a compare-and-set that
//! was applied, refused (412), or whose outcome is unknown. An operation that failed
//! or timed out has an open-ended completion: it may take effect at any instant
//! after its invocation, or never ([`Op::ret`] is `None`).
//!
//! Times are one clock's nanoseconds (the client's): operation A precedes B when A
//! returned strictly before B was invoked; touching intervals count as concurrent.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

#[cfg(test)]
mod tests;

/// A written value (unique per write in the verifying client). [`UNOBSERVED`] is
/// reserved.
pub type ValueId = u64;

/// What the checker writes in place of the values of unknown writes that nothing
/// observed (see [`rewrite_unobserved`]).
pub const UNOBSERVED: ValueId = u64::MAX;

/// What a conditional PUT requires of the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expect {
    /// `If-None-Match: *`: no current value.
    Absent,
    /// `If-Match: ETAG` of this value.
    Value(ValueId),
}

impl Expect {
    fn holds(self, state: Option<ValueId>) -> bool {
        match self {
            Expect::Absent => state.is_none(),
            Expect::Value(v) => state == Some(v),
        }
    }
}

/// An operation's input and, when known, its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A GET that answered this value (`None`: `NoSuchKey`). Failed GETs have no
    /// effect and are left out of the history.
    Read(Option<ValueId>),
    /// A PUT (`Some`) or DELETE (`None`).
    Write(Option<ValueId>),
    /// A conditional PUT of `new`. `applied`: `Some(true)` acknowledged,
    /// `Some(false)` refused with 412 PreconditionFailed, `None` unknown.
    Cas {
        expect: Expect,
        new: ValueId,
        applied: Option<bool>,
    },
}

/// One operation of a history.
#[derive(Clone, Debug)]
pub struct Op {
    pub key: String,
    /// Which worker ran it (only for reports).
    pub client: usize,
    /// Invocation time (ns).
    pub call: u64,
    /// Completion time (ns); `None`: the outcome is unknown (it may happen at any
    /// time after `call`, or never). Reads and decided CASes must have one.
    pub ret: Option<u64>,
    pub action: Action,
}

/// The verdict on one key that is not linearizable (or too costly to decide).
#[derive(Clone, Debug)]
pub struct KeyFailure {
    pub key: String,
    /// False: the search gave up (its budget was spent), which fails the run too.
    pub violation: bool,
    /// What went wrong, with the operations around the point where the search
    /// got stuck.
    pub report: String,
}

/// The result of [`check`].
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    pub keys: usize,
    pub ops: usize,
    /// Unknown writes left out because nothing could observe them (see [`prune`]).
    pub pruned: usize,
    /// Search steps taken over all keys.
    pub steps: u64,
    pub failures: Vec<KeyFailure>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Search steps allowed per key before the checker gives up.
pub const DEFAULT_BUDGET: u64 = 2_000_000;

/// Check a whole history, key by key, allowing `budget` search steps per key.
pub fn check(history: &[Op], budget: u64) -> CheckReport {
    let mut by_key: BTreeMap<&str, Vec<Op>> = BTreeMap::new();
    for op in history {
        by_key.entry(op.key.as_str()).or_default().push(op.clone());
    }
    let mut report = CheckReport {
        keys: by_key.len(),
        ops: history.len(),
        ..CheckReport::default()
    };
    for (key, ops) in by_key {
        if let Some(bad) = malformed(&ops) {
            report.failures.push(KeyFailure {
                key: key.to_string(),
                violation: true,
                report: bad,
            });
            continue;
        }
        let (mut kept, pruned) = prune(ops);
        report.pruned += pruned;
        rewrite_unobserved(&mut kept);
        let (outcome, steps) = check_key(&kept, budget);
        report.steps += steps;
        if let Err((violation, report_text)) = outcome {
            report.failures.push(KeyFailure {
                key: key.to_string(),
                violation,
                report: report_text,
            });
        }
    }
    report
}

/// A history the model cannot express, or a read of a value nobody wrote.
fn malformed(ops: &[Op]) -> Option<String> {
    let written: BTreeSet<ValueId> = ops.iter().filter_map(|o| written_value(o.action)).collect();
    for o in ops {
        match (o.action, o.ret) {
            (Action::Read(Some(v)), _) if !written.contains(&v) => {
                return Some(format!(
                    "a read returned value {v:#x}, which no operation on this key wrote: {}",
                    describe(o)
                ))
            }
            (Action::Read(_), None) => {
                return Some(format!("a read without a result: {}", describe(o)))
            }
            (
                Action::Cas {
                    applied: Some(_), ..
                },
                None,
            ) => {
                return Some(format!(
                    "a decided CAS without a completion time: {}",
                    describe(o)
                ))
            }
            (Action::Cas { applied: None, .. }, Some(_)) => {
                return Some(format!(
                    "an undecided CAS with a completion time: {}",
                    describe(o)
                ))
            }
            (_, Some(r)) if r < o.call => {
                return Some(format!("completion before invocation: {}", describe(o)))
            }
            _ => {}
        }
    }
    None
}

fn written_value(a: Action) -> Option<ValueId> {
    match a {
        Action::Write(v) => v,
        Action::Cas { new, .. } => Some(new),
        Action::Read(_) => None,
    }
}

/// Leave out unknown writes of a value `x` that nothing can observe, which keeps
/// the search small when many requests fail. Such an op is an unknown PUT or
/// conditional PUT of `x` where no read returned `x`, no CAS expects `x`, and no
/// refused (412) CAS completes after its invocation. Sound: take a linearization
/// that contains it and drop it; the register then holds the previous value
/// instead of `x` until the next effective write. Nothing linearized in between
/// observes the difference: no read returned `x`, no CAS that succeeded could
/// (it would need `x`'s ETag, or nothing where `x` is), no refused CAS is there,
/// and unknown ops there were no-ops and can move to the end, where they are
/// unobservable. Returns the kept ops and how many were dropped.
pub fn prune(ops: Vec<Op>) -> (Vec<Op>, usize) {
    let mut observed: HashSet<ValueId> = HashSet::new();
    let mut last_refusal: Option<u64> = None;
    for o in &ops {
        match o.action {
            Action::Read(Some(v)) => {
                observed.insert(v);
            }
            Action::Cas {
                expect, applied, ..
            } => {
                if let Expect::Value(v) = expect {
                    observed.insert(v);
                }
                if applied == Some(false) {
                    last_refusal = last_refusal.max(o.ret);
                }
            }
            _ => {}
        }
    }
    let before = ops.len();
    let kept: Vec<Op> = ops
        .into_iter()
        .filter(|o| {
            let droppable = o.ret.is_none()
                && written_value(o.action).is_some_and(|x| !observed.contains(&x))
                && last_refusal.is_none_or(|r| r < o.call);
            !droppable
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// The values some read returned or some CAS expected.
fn observed(ops: &[Op]) -> HashSet<ValueId> {
    ops.iter()
        .filter_map(|o| match o.action {
            Action::Read(v) => v,
            Action::Cas {
                expect: Expect::Value(v),
                ..
            } => Some(v),
            _ => None,
        })
        .collect()
}

/// Give every unknown write of a value nothing observed the one value
/// [`UNOBSERVED`]. Sound: such a value is only ever compared for presence (a
/// refused `If-None-Match`) or for being different from an observed value (a
/// refused `If-Match`), and [`UNOBSERVED`] answers both alike. It makes those ops
/// identical, so [`candidates`] tries one of each kind instead of every subset.
pub fn rewrite_unobserved(ops: &mut [Op]) {
    let seen = observed(ops);
    for o in ops.iter_mut().filter(|o| o.ret.is_none()) {
        match &mut o.action {
            Action::Write(Some(x)) | Action::Cas { new: x, .. } if !seen.contains(x) => {
                *x = UNOBSERVED;
            }
            _ => {}
        }
    }
}

/// The model's step: the register's next state if `action` is allowed on `state`.
fn step(state: Option<ValueId>, action: Action) -> Option<Option<ValueId>> {
    match action {
        Action::Read(v) => (v == state).then_some(state),
        Action::Write(v) => Some(v),
        Action::Cas {
            expect,
            new,
            applied,
        } => {
            let holds = expect.holds(state);
            match applied {
                Some(true) => holds.then_some(Some(new)),
                Some(false) => (!holds).then_some(state),
                None => Some(if holds { Some(new) } else { state }),
            }
        }
    }
}

const NONE: usize = usize::MAX;

/// The doubly linked list of call and return events of Porcupine's algorithm.
struct Events {
    /// Node 0 is the head sentinel; node `1 + 2i` is op i's call, `2 + 2i` its return.
    prev: Vec<usize>,
    next: Vec<usize>,
}

impl Events {
    fn new(ops: &[Op]) -> Events {
        // (time, return?, node): calls sort before returns at the same instant.
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, o) in ops.iter().enumerate() {
            order.push((o.call, false, 1 + 2 * i));
            order.push((o.ret.unwrap_or(u64::MAX), true, 2 + 2 * i));
        }
        order.sort_unstable();
        let n = 1 + 2 * ops.len();
        let mut ev = Events {
            prev: vec![NONE; n],
            next: vec![NONE; n],
        };
        let mut last = 0;
        for &(_, _, node) in &order {
            ev.next[last] = node;
            ev.prev[node] = last;
            last = node;
        }
        ev
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NONE {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NONE {
            self.prev[n] = node;
        }
    }

    /// Take op `i` (its call and return) out of the list.
    fn lift(&mut self, i: usize) {
        self.unlink(1 + 2 * i);
        self.unlink(2 + 2 * i);
    }

    /// Put op `i` back (the reverse of the last [`Events::lift`]).
    fn unlift(&mut self, i: usize) {
        self.relink(2 + 2 * i);
        self.relink(1 + 2 * i);
    }
}

fn op_of(node: usize) -> (usize, bool) {
    ((node - 1) / 2, node % 2 == 1)
}

/// The ops that may be linearized next: the calls before the first return in the
/// list, those with a completion time first (an unknown op is tried last: leaving
/// it out is always possible, so success is usually found without it). Of unknown
/// ops with the same action only the first is a candidate: both were invoked
/// already and never return, so either can stand for the other (symmetry).
/// Also the op of that first return (the one that blocks when none fits).
fn candidates(ev: &Events, ops: &[Op]) -> (Vec<usize>, usize) {
    let (mut finite, mut unknown) = (Vec::new(), Vec::<usize>::new());
    let mut e = ev.next[0];
    let mut blocking = NONE;
    while e != NONE {
        let (i, is_call) = op_of(e);
        if !is_call {
            blocking = i;
            break;
        }
        if ops[i].ret.is_some() {
            finite.push(i);
        } else if !unknown.iter().any(|&u| ops[u].action == ops[i].action) {
            unknown.push(i);
        }
        e = ev.next[e];
    }
    finite.extend(unknown);
    (finite, blocking)
}

/// Search for a linearization of one key's ops. `Err((true, report))`: none
/// exists; `Err((false, report))`: the budget ran out. Also returns the steps taken.
fn check_key(ops: &[Op], budget: u64) -> (Result<(), (bool, String)>, u64) {
    let n = ops.len();
    let mut ev = Events::new(ops);
    let words = n.div_ceil(64).max(1);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, Option<ValueId>)> = HashSet::new();
    // (op linearized, the state before it, its index among the candidates).
    let mut stack: Vec<(usize, Option<ValueId>, usize)> = Vec::new();
    let mut state: Option<ValueId> = None;
    // Ops with a completion time not yet linearized: once none is left, the
    // unknown ones can all go at the end (or never).
    let mut finite_left = ops.iter().filter(|o| o.ret.is_some()).count();
    let mut steps = 0u64;
    // The deepest point reached: (ops linearized, the op whose return blocked).
    let mut deepest: (usize, usize) = (0, NONE);
    let mut from = 0;
    while finite_left > 0 {
        steps += 1;
        if steps > budget {
            let why = format!("gave up after {budget} search steps ({n} ops)");
            return (Err((false, why)), steps);
        }
        let (cands, blocking) = candidates(&ev, ops);
        let mut advanced = false;
        for (at, &i) in cands.iter().enumerate().skip(from) {
            let Some(next_state) = step(state, ops[i].action) else {
                continue;
            };
            let mut bits = linearized.clone();
            bits[i / 64] |= 1 << (i % 64);
            if cache.insert((bits.clone(), next_state)) {
                stack.push((i, state, at));
                state = next_state;
                linearized = bits;
                if ops[i].ret.is_some() {
                    finite_left -= 1;
                }
                ev.lift(i);
                advanced = true;
                break;
            }
        }
        if advanced {
            from = 0;
            continue;
        }
        // Nothing pending fits before `blocking` returns: backtrack.
        if stack.len() >= deepest.0 {
            deepest = (stack.len(), blocking);
        }
        let Some((j, prev_state, at)) = stack.pop() else {
            return (Err((true, explain(ops, deepest))), steps);
        };
        state = prev_state;
        linearized[j / 64] &= !(1 << (j % 64));
        if ops[j].ret.is_some() {
            finite_left += 1;
        }
        ev.unlift(j);
        from = at + 1;
    }
    (Ok(()), steps)
}

/// One op as a line of a report.
pub fn describe(o: &Op) -> String {
    let ms = |t: u64| format!("{:.3}", t as f64 / 1e9);
    let span = match o.ret {
        Some(r) => format!("[{} .. {}]", ms(o.call), ms(r)),
        None => format!("[{} .. ?]", ms(o.call)),
    };
    let v = |v: Option<ValueId>| v.map_or("absent".to_string(), |v| format!("{v:#x}"));
    let what = match o.action {
        Action::Read(r) => format!("GET -> {}", v(r)),
        Action::Write(Some(x)) => format!(
            "PUT {x:#x}{}",
            if o.ret.is_some() {
                ""
            } else {
                " (outcome unknown)"
            }
        ),
        Action::Write(None) => format!(
            "DELETE{}",
            if o.ret.is_some() {
                ""
            } else {
                " (outcome unknown)"
            }
        ),
        Action::Cas {
            expect,
            new,
            applied,
        } => {
            let cond = match expect {
                Expect::Absent => "If-None-Match: *".to_string(),
                Expect::Value(e) => format!("If-Match: {e:#x}"),
            };
            let res = match applied {
                Some(true) => "applied",
                Some(false) => "412",
                None => "outcome unknown",
            };
            format!("PUT {new:#x} {cond} -> {res}")
        }
    };
    format!("{span} worker {} {what}", o.client)
}

/// The report of a key with no linearization: the op whose completion could not
/// be reached, and the ops around it in invocation order.
fn explain(ops: &[Op], (depth, blocked): (usize, usize)) -> String {
    let mut out = String::new();
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].call, i));
    let _ = writeln!(
        out,
        "no linearization of {} ops: at most {depth} could be ordered before",
        ops.len()
    );
    let Some(b) = (blocked != NONE).then_some(blocked) else {
        return out;
    };
    let _ = writeln!(out, "  >> {}", describe(&ops[b]));
    let _ = writeln!(out, "  ops around it (invocation order):");
    let at = order.iter().position(|&i| i == b).unwrap_or(0);
    for &i in &order[at.saturating_sub(15)..(at + 10).min(order.len())] {
        let mark = if i == b { ">>" } else { "  " };
        let _ = writeln!(out, "  {mark} {}", describe(&ops[i]));
    }
    out
}
