//! The controller's decisions as pure functions of what it sampled: when the
//! staircase grows or shrinks, and which shards move to even out the cores.
//! Nothing here acts; `control` carries the decisions out.
//!
//! Hysteresis, so decisions do not undo each other: a merge is due only below
//! `shard-min-keys` (under half the split bound, so a merge never makes a split
//! due); a rebalance starts only when a core passes the mean by the threshold,
//! moves a shard only if that narrows the gap between the busiest and the least
//! busy core without reversing it, and is followed by a cooldown (in `control`).

use crate::storage::ops::ShardStat;
use crate::storage::staircase::ShardId;

/// Below this many ops/s in all, load is too thin to steer by: balance keys instead.
pub const MIN_OPS_PER_SEC: f64 = 1000.0;
/// Migrations one rebalance round may plan.
pub const MAX_MOVES: usize = 256;
/// Once a round has started, it goes on until the busiest core is this close to the mean (percent).
pub const SETTLE_PCT: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    Keep,
    Split,
    Merge,
}

/// Grow while the average shard holds more than `max` keys; shrink (never below
/// `floor` shards) while it holds fewer than `min`.
pub fn resize(total_keys: u64, shards: usize, max: u64, min: u64, floor: usize) -> Resize {
    let shards_u = shards as u64;
    if total_keys > shards_u.saturating_mul(max) {
        Resize::Split
    } else if shards > floor && total_keys < shards_u.saturating_mul(min) {
        Resize::Merge
    } else {
        Resize::Keep
    }
}

/// One planned migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub shard: ShardId,
    pub from: usize,
    pub to: usize,
    /// The shard's load in `metric` units.
    pub load: f64,
    /// "ops" (ops/s) or "keys".
    pub metric: &'static str,
}

/// Shards to move once some core's load passes the mean by more than
/// `threshold_pct` percent: from the busiest core to the least busy one at a
/// time, until the busiest is within [`SETTLE_PCT`] of the mean. Load is ops/s when there is enough of it, keys otherwise. Shards
/// that are splitting, merging or migrating stay where they are.
pub fn rebalance(ncores: usize, rows: &[ShardStat], threshold_pct: u64) -> Vec<Move> {
    if ncores < 2 {
        return Vec::new();
    }
    let ops: f64 = rows.iter().map(|r| r.ops_per_sec).sum();
    let (metric, load): (&'static str, fn(&ShardStat) -> f64) = if ops >= MIN_OPS_PER_SEC {
        ("ops", |r| r.ops_per_sec)
    } else {
        ("keys", |r| r.keys as f64)
    };
    let mut core_load = vec![0.0f64; ncores];
    for r in rows {
        if let Some(c) = core_load.get_mut(r.core) {
            *c += load(r);
        }
    }
    let total: f64 = core_load.iter().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mean = total / ncores as f64;
    if core_load[extremes(&core_load).0] <= mean * (1.0 + threshold_pct as f64 / 100.0) {
        return Vec::new();
    }
    let settle = mean * (1.0 + SETTLE_PCT.min(threshold_pct as f64) / 100.0);
    // Movable shards, heaviest first.
    let mut movable: Vec<&ShardStat> = rows
        .iter()
        .filter(|r| r.state == "stable" && r.core < ncores && load(r) > 0.0)
        .collect();
    movable.sort_by(|a, b| load(b).total_cmp(&load(a)));
    let mut moved = vec![false; movable.len()];
    let mut moves = Vec::new();
    while moves.len() < MAX_MOVES {
        let (busy, idle) = extremes(&core_load);
        if core_load[busy] <= settle {
            break;
        }
        let gap = core_load[busy] - core_load[idle];
        // The heaviest shard that narrows the gap without reversing it.
        let pick = movable
            .iter()
            .enumerate()
            .find(|(i, r)| !moved[*i] && r.core == busy && load(r) <= gap / 2.0);
        let Some((i, r)) = pick else { break };
        moved[i] = true;
        core_load[busy] -= load(r);
        core_load[idle] += load(r);
        moves.push(Move {
            shard: r.shard,
            from: busy,
            to: idle,
            load: load(r),
            metric,
        });
    }
    moves
}

/// Indexes of the most and the least loaded cores.
fn extremes(load: &[f64]) -> (usize, usize) {
    let (mut hi, mut lo) = (0, 0);
    for (i, &l) in load.iter().enumerate() {
        if l > load[hi] {
            hi = i;
        }
        if l < load[lo] {
            lo = i;
        }
    }
    (hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(shard: u32, core: usize, keys: usize, ops: f64) -> ShardStat {
        ShardStat {
            shard,
            core,
            keys,
            bytes: keys * 64,
            ttl_keys: 0,
            ops: 0,
            ops_per_sec: ops,
            state: "stable",
        }
    }

    #[test]
    fn resize_has_hysteresis() {
        assert_eq!(resize(10_001, 10, 1000, 250, 2), Resize::Split);
        assert_eq!(resize(10_000, 10, 1000, 250, 2), Resize::Keep);
        assert_eq!(resize(2_600, 10, 1000, 250, 2), Resize::Keep);
        assert_eq!(resize(2_499, 10, 1000, 250, 2), Resize::Merge);
        // Never below the floor.
        assert_eq!(resize(0, 2, 1000, 250, 2), Resize::Keep);
        // After a merge at the low-water mark, no split is due.
        let shards = 10;
        let total = 249 * shards as u64;
        assert_eq!(resize(total, shards, 1000, 250, 2), Resize::Merge);
        assert_ne!(resize(total, shards - 1, 1000, 250, 2), Resize::Split);
        assert_ne!(resize(499 * 10, 9, 1000, 499, 2), Resize::Split);
    }

    #[test]
    fn hot_core_moves_about_half_the_load() {
        let rows: Vec<ShardStat> = (0..64)
            .map(|i| {
                row(
                    i,
                    (i % 2) as usize,
                    1000,
                    if i % 2 == 0 { 1000.0 } else { 0.0 },
                )
            })
            .collect();
        let moves = rebalance(2, &rows, 25);
        assert!(moves
            .iter()
            .all(|m| m.from == 0 && m.to == 1 && m.metric == "ops"));
        assert_eq!(
            moves.len(),
            16,
            "16 of core 0's 32 equal shards even it out"
        );
        // Applying the plan leaves nothing more to do.
        let after: Vec<ShardStat> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if moves.iter().any(|m| m.shard == r.shard) {
                    r.core = 1;
                }
                r
            })
            .collect();
        assert!(rebalance(2, &after, 25).is_empty());
    }

    #[test]
    fn within_threshold_nothing_moves() {
        let rows = vec![row(0, 0, 10, 1200.0), row(1, 1, 10, 1000.0)];
        assert!(rebalance(2, &rows, 25).is_empty());
        assert!(rebalance(1, &rows, 0).is_empty());
    }

    /// One shard carrying all the load cannot be split by moving it: moving it would
    /// only swap the cores' roles, so it stays (no oscillation).
    #[test]
    fn a_single_hot_shard_stays() {
        let rows = vec![
            row(0, 0, 10, 50_000.0),
            row(1, 1, 10, 10.0),
            row(2, 0, 10, 0.0),
        ];
        assert!(rebalance(2, &rows, 25).is_empty());
    }

    #[test]
    fn idle_servers_balance_keys_and_busy_shards_stay_put() {
        let mut rows = vec![
            row(0, 0, 5000, 0.0),
            row(1, 0, 5000, 0.0),
            row(2, 0, 100, 0.0),
            row(3, 1, 100, 0.0),
        ];
        let moves = rebalance(2, &rows, 25);
        assert_eq!(moves.len(), 1);
        assert_eq!(
            (moves[0].from, moves[0].to, moves[0].metric),
            (0, 1, "keys")
        );
        rows[0].state = "migrating-out";
        rows[1].state = "splitting";
        let moves = rebalance(2, &rows, 25);
        assert!(moves.iter().all(|m| m.shard == 2), "{moves:?}");
    }
}
