//! A job-queue library from the ecosystem, unchanged, against the real
//! binary on two cores: bee-queue 2.0.0 (node_redis 3 underneath;
//! `tests/node/bee_queue.mjs`). Its workers wait for jobs with BRPOPLPUSH
//! (several pipelined on one connection), its producers save jobs with
//! EVALSHA scripts, jobs finish in MULTI/EXEC with PUBLISH to the producers,
//! failed jobs are retried (LPUSH back, no sorted set), and a worker closed
//! while it waits takes nothing more. Needs node and the package `.ci/run`
//! installs under tests/node; skipped without them unless
//! STAIRKV_REQUIRE_NODE is set (CI sets it).

mod common;

use common::Server;

const JOBS: usize = 500;
const RETRIES: usize = 2;

/// The raw JSON value of top-level field `name` of the script's one-line,
/// flat summary: a number, `true`/`false`, a string with its quotes, or a
/// list with its brackets.
fn value<'a>(summary: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = summary
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {summary}"))
        + key.len();
    let rest = &summary[start..];
    let end = if rest.starts_with('[') {
        rest.find(']').expect("a closed list") + 1
    } else {
        rest.find([',', '}']).expect("a value's end")
    };
    &rest[..end]
}

fn number(summary: &str, name: &str) -> usize {
    let v = value(summary, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name} is not a number ({v}): {summary}"))
}

/// Jobs `i % 23 == 5` fail every attempt, `i % 7 == 3` their first
/// (the script's plan): (succeeded, failed for good, retries, attempts).
fn planned() -> (usize, usize, usize, usize) {
    let (mut ok, mut flaky, mut fatal) = (0, 0, 0);
    for i in 0..JOBS {
        if i % 23 == 5 {
            fatal += 1;
        } else if i % 7 == 3 {
            flaky += 1;
        } else {
            ok += 1;
        }
    }
    (
        ok + flaky,
        fatal,
        flaky + RETRIES * fatal,
        ok + 2 * flaky + (RETRIES + 1) * fatal,
    )
}

/// 500 jobs from three producers through six worker Queues (three on each
/// core, three jobs at a time each): every job runs exactly its planned
/// attempts and ends succeeded or failed once, every producer hears every
/// event once, a worker closed mid-wait runs none of the jobs saved after,
/// and bee-queue's own records in the server add up.
#[test]
fn bee_queue_processes_every_job_exactly_once_on_two_cores() {
    if !common::have_node_package("bee-queue") {
        return;
    }
    let s = Server::start(2, &[]);
    let summary = common::run_node("bee_queue.mjs", &[s.port.to_string(), JOBS.to_string()]);
    let summary = summary.trim();
    assert_eq!(value(summary, "ok"), "true", "{summary}");
    assert_eq!(value(summary, "problems"), "[]", "{summary}");
    assert_eq!(value(summary, "server"), "\"stairkv\"", "{summary}");

    let (succeeded, failed, retried, runs) = planned();
    assert_eq!(number(summary, "jobs"), JOBS, "{summary}");
    assert_eq!(number(summary, "exactly_once"), JOBS, "{summary}");
    assert_eq!(number(summary, "succeeded"), succeeded, "{summary}");
    assert_eq!(number(summary, "failed"), failed, "{summary}");
    assert_eq!(number(summary, "retried"), retried, "{summary}");
    assert_eq!(number(summary, "runs"), runs, "{summary}");

    // Six workers, three on each core, and both cores ran jobs.
    let cores = value(summary, "worker_cores");
    assert_eq!(cores.matches("\"0\"").count(), 3, "{summary}");
    assert_eq!(cores.matches("\"1\"").count(), 3, "{summary}");
    assert_eq!(number(summary, "cores_with_runs"), 2, "{summary}");

    // The closed worker stopped waiting, and the others did phase 2.
    assert_eq!(number(summary, "blocked_before_close"), 6, "{summary}");
    assert_eq!(number(summary, "blocked_after_close"), 5, "{summary}");
    assert!(
        number(summary, "closed_worker_attempts_before") > 0,
        "{summary}"
    );
    assert_eq!(
        number(summary, "phase2_runs_on_closed_worker"),
        0,
        "{summary}"
    );

    // What bee-queue left in the server.
    assert_eq!(number(summary, "left_waiting"), 0, "{summary}");
    assert_eq!(number(summary, "left_active"), 0, "{summary}");
    assert_eq!(number(summary, "succeeded_set"), succeeded, "{summary}");
    assert_eq!(number(summary, "failed_set"), failed, "{summary}");
    assert_eq!(number(summary, "jobs_hash"), JOBS, "{summary}");
    assert_eq!(number(summary, "last_id"), JOBS, "{summary}");
    assert_eq!(number(summary, "stored_jobs_ok"), JOBS, "{summary}");
    assert_eq!(
        number(summary, "get_jobs_succeeded"),
        succeeded,
        "{summary}"
    );
    assert_eq!(number(summary, "get_jobs_failed"), failed, "{summary}");
    assert_eq!(number(summary, "stalled_on_check"), 0, "{summary}");
    assert_eq!(number(summary, "keys_after_destroy"), 0, "{summary}");
}
