//! stairkv-bench's command line and the checked [`Plan`] it becomes, with
//! the flags of every subcommand (`plot`, `expiry`, `fanout`). Every rule
//! about which flags go together lives here, so the client, the run and the
//! pub/sub measurements never meet a combination they cannot honour. It sits
//! at the bottom of loadgen: it imports only the value types of [`super::keys`]
//! and [`super::workload`], never the code that acts on the flags. Never
//! starts a thread or opens a socket.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

use super::keys::{Distribution, Scan, DEFAULT_SCAN};
use super::workload::{HashMod, KeyNames, Ratio, ValueSize};

const ABOUT: &str = "stairkv's load generator: RESP or the text protocol, thread-per-core, \
closed or open loop, hdrhistogram percentiles and reports";

const LONG_ABOUT: &str = "stairkv's load generator: RESP or the text protocol, thread-per-core, \
closed or open loop, hdrhistogram percentiles and reports.

Closed loop (the default) sends --pipeline requests per connection, waits for \
their replies, and sends the next ones: a slow server slows the load down, \
which hides how long requests would have queued (coordinated omission). Open \
loop (--rate OPS) sends requests at fixed intended times whatever the server \
does, and measures each latency from its intended send time, so a stall shows \
in the percentiles as the queueing it would cause.

Examples:
  stairkv-bench --connections 50 --pipeline 1 --ratio 1:1 --keys 1000000 --duration 10
  stairkv-bench --rate 50000 --distribution zipf:0.99 --ratio 1:10 --report-dir out/
  stairkv-bench --protocol text --port 7171 --verify --prefill --duration 5
  stairkv-bench plot out-a/ out-b/=redis --out compare.svg";

#[derive(Debug, Parser)]
#[command(
    name = "stairkv-bench",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Draw several results on one latency-by-percentile chart (SVG).
    Plot(PlotArgs),
    /// Time `expired` keyspace events: keys with deadlines spread over a window,
    /// one subscriber; the delay from each deadline to its event, and every key
    /// heard exactly once.
    Expiry(ExpiryArgs),
    /// Pub/sub fan-out: many subscribers on one channel, one publisher;
    /// deliveries per second, every message to every subscriber in order.
    Fanout(FanoutArgs),
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Result files: an `.hgrm` file, or a --report-dir directory (its total.hgrm).
    /// Append `=LABEL` to name a series; the default is the run's label or the file name.
    #[arg(required = true, value_name = "RESULT[=LABEL]")]
    pub inputs: Vec<String>,
    /// Where to write the SVG.
    #[arg(long, short, default_value = "latency.svg")]
    pub out: PathBuf,
    /// The chart's title.
    #[arg(long, default_value = "Latency by percentile")]
    pub title: String,
}

/// Where both measurements connect and report.
#[derive(Debug, Args)]
pub struct Target {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// Write summary.json (and, for expiry, expiry.hgrm) here.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// The server's name in the output.
    #[arg(long, default_value = "server")]
    pub label: String,
    /// CPU to pin to [default: the first of the affinity mask].
    #[arg(long)]
    pub cpu: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ExpiryArgs {
    #[command(flatten)]
    pub target: Target,
    /// Keys written, each with its own deadline.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Deadlines are spread evenly over this many seconds...
    #[arg(long, default_value_t = 10.0)]
    pub spread: f64,
    /// ...starting this many seconds after the writing starts (long enough to
    /// write every key first; the run warns if it was not).
    #[arg(long, default_value_t = 5.0)]
    pub lead: f64,
    /// Seconds to wait after the last deadline for stragglers.
    #[arg(long, default_value_t = 5.0)]
    pub grace: f64,
}

#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub target: Target,
    /// Subscriber connections, all on one channel.
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// Messages published.
    #[arg(long, default_value_t = 100_000)]
    pub messages: u64,
    /// Message size in bytes (at least 12: a sequence number leads each).
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// PUBLISH commands per round trip.
    #[arg(long, default_value_t = 16)]
    pub pipeline: usize,
}

/// What each key holds (`--data-type`), and so which commands the ratio's
/// two sides are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataType {
    /// SET and GET.
    String,
    /// HSET key fN value and HGET key fN, N below `--fields`.
    Hash,
    /// SADD key mN and SISMEMBER key mN, N below `--fields`.
    Set,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// Redis's protocol (RESP2): SET and GET.
    Resp,
    /// stairkv's plain text protocol: PUT and GET, one line each.
    Text,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Server host name or address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Server port [default: 6379, or 7171 with --protocol text].
    #[arg(long)]
    pub port: Option<u16>,
    /// Client threads, each one pinned executor with its own socket ring.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Connections in all, spread evenly over the threads.
    #[arg(long, short = 'c', default_value_t = 50)]
    pub connections: usize,
    /// Requests per connection sent before waiting for replies (closed loop), or
    /// the most a connection may have outstanding (open loop).
    #[arg(long, short = 'P', default_value_t = 1)]
    pub pipeline: usize,
    /// SET:GET mix, as an exact repeating cycle (1:10 = one SET then ten GETs).
    #[arg(long, default_value = "1:1")]
    pub ratio: Ratio,
    /// Size of the key space: keys are PREFIX followed by a 12-digit index.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Only keys whose route hash (stairkv's shard hash) is R modulo N: index i
    /// is named PREFIX and 12 digits, followed by `:S` with the smallest S that
    /// matches when the plain name does not. On a fresh `stairkv --cores 2`,
    /// 2:0 sends every request to core 0.
    #[arg(long, value_name = "N:R")]
    pub hash_mod: Option<HashMod>,
    /// Key choice: uniform, zipf:S (rank 1 hottest), or sequential (each key in
    /// turn; with a ratio S:G a key gets its S SETs and then its G GETs).
    #[arg(long, default_value = "uniform")]
    pub distribution: Distribution,
    /// Periodic scans: after every EVERY requests a connection sends LEN
    /// requests on keys nobody used before and nobody will use again
    /// (one-hit wonders, numbered past --keys, a block per connection); the
    /// other requests follow --distribution exactly as without --scan. Bare
    /// --scan is 10000:2000.
    #[arg(long, value_name = "EVERY:LEN", num_args = 0..=1, default_missing_value = DEFAULT_SCAN)]
    pub scan: Option<Scan>,
    /// Value size in bytes: N, or MIN-MAX for sizes spread evenly between.
    #[arg(long, default_value = "32")]
    pub value_size: ValueSize,
    /// Write every SET with this expiry (SET ... EX SECONDS). RESP only.
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// How long to measure, in seconds [default: 10 unless --requests].
    #[arg(long, value_name = "SECONDS", conflicts_with = "requests")]
    pub duration: Option<f64>,
    /// Measure this many requests in all, then stop.
    #[arg(long, short = 'n')]
    pub requests: Option<u64>,
    /// Seconds of load before measuring starts (not counted in the results).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub warmup: f64,
    /// Write every key once before the warmup and the measurement.
    #[arg(long)]
    pub prefill: bool,
    #[arg(long, value_enum, default_value = "resp")]
    pub protocol: Protocol,
    /// What each key holds: `hash` sends HSET/HGET, `set` SADD/SISMEMBER
    /// (RESP only; the write side of the ratio writes, the other reads).
    #[arg(long, value_enum, default_value = "string")]
    pub data_type: DataType,
    /// Fields of each hash, members of each set (`--data-type`): each request
    /// picks one at random.
    #[arg(long, default_value_t = 10)]
    pub fields: u64,
    /// Open loop: send this many requests per second in all, on a fixed schedule.
    #[arg(long, value_name = "OPS")]
    pub rate: Option<f64>,
    /// Check every GET against what this run last wrote to that key (each key is
    /// then written by one connection only); wrong values, unexpected misses and
    /// error replies fail the run.
    #[arg(long)]
    pub verify: bool,
    /// Use the server as a cache: every GET that misses is followed by a SET of
    /// that key (an extra request, outside the ratio), and the GET miss ratio is
    /// reported.
    #[arg(long)]
    pub cache_aside: bool,
    /// Make every SET a transaction of N SETs on N keys picked as usual:
    /// `multi:N` sends MULTI, the N SETs and EXEC in one write; `eval:N` one
    /// EVAL that SETs its N KEYS; `pipe:N` the same N SETs in one write
    /// without a transaction (a baseline). Latency and ops count whole
    /// transactions (reported as SET). With `--hash-mod 2:0` every key of one transaction
    /// lives on stairkv's core 0; without it, keys spread over the cores.
    #[arg(long, value_name = "multi:N|eval:N|pipe:N", value_parser = parse_tx)]
    pub tx: Option<Tx>,
    /// Seed for key choice: the same seed gives the same key sequence.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write summary.json, one .hgrm per command and latency.svg into this directory.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// A name for this run in reports and plots [default: HOST:PORT].
    #[arg(long)]
    pub label: Option<String>,
    /// Write every measured request slower than MS milliseconds to slow.csv in --report-dir:
    /// its intended send time (Unix ms), latency (µs), command and key, so stalls can be laid
    /// against what the server was doing (at most 1,000,000 lines; 0 logs every request).
    #[arg(long, value_name = "MS")]
    pub slow_log: Option<f64>,
    /// Seconds without a reply (while requests are outstanding) after which a
    /// connection is given up as timed out.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// CPUs to pin the client threads to, comma-separated [default: the
    /// process's affinity mask, in order].
    #[arg(long, value_delimiter = ',')]
    pub cpus: Option<Vec<usize>>,
    /// No progress line, only the final table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--tx`: how every SET becomes a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tx {
    /// MULTI, N SETs, EXEC.
    Multi(usize),
    /// One EVAL setting N keys.
    Eval(usize),
    /// The same N SETs as a plain pipeline, no transaction (a baseline).
    Pipe(usize),
}

fn parse_tx(s: &str) -> Result<Tx, String> {
    let (kind, n) = s
        .split_once(':')
        .ok_or_else(|| format!("--tx must be multi:N, eval:N or pipe:N, got {s:?}"))?;
    let n: usize = n
        .parse()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| format!("--tx: N must be between 1 and 1000, got {n:?}"))?;
    match kind {
        "multi" => Ok(Tx::Multi(n)),
        "eval" => Ok(Tx::Eval(n)),
        "pipe" => Ok(Tx::Pipe(n)),
        _ => Err(format!("--tx must be multi:N, eval:N or pipe:N, got {s:?}")),
    }
}

/// Most keys a verifying run tracks (8 bytes each, per client thread).
pub const MAX_VERIFY_KEYS: u64 = 100_000_000;

/// When measuring stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    After(Duration),
    Requests(u64),
}

/// A run, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub host: String,
    pub port: u16,
    pub threads: usize,
    pub connections: usize,
    pub pipeline: usize,
    pub ratio: Ratio,
    pub keys: u64,
    /// Key index → name (the prefix and the `--hash-mod` filter).
    pub key_names: KeyNames,
    pub distribution: Distribution,
    pub scan: Option<Scan>,
    pub value_size: ValueSize,
    pub ttl: Option<u64>,
    pub stop: Stop,
    pub warmup: Duration,
    pub prefill: bool,
    pub protocol: Protocol,
    pub data_type: DataType,
    pub fields: u64,
    pub rate: Option<f64>,
    pub verify: bool,
    pub cache_aside: bool,
    pub tx: Option<Tx>,
    pub seed: u64,
    pub report_dir: Option<PathBuf>,
    pub label: String,
    /// `--slow-log`, in µs.
    pub slow_us: Option<u64>,
    pub timeout: Duration,
    pub cpus: Vec<usize>,
    pub quiet: bool,
}

fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    if !v.is_finite() || !(0.0..=1e7).contains(&v) {
        return Err(format!(
            "--{name} must be a number of seconds >= 0, got {v}"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

impl Plan {
    /// Check the flags. `available` is the CPUs this process may run on.
    pub fn new(a: RunArgs, available: &[usize]) -> Result<Plan, String> {
        if a.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        if a.connections < a.threads {
            return Err(format!(
                "--connections ({}) must be at least --threads ({}): every thread needs a connection",
                a.connections, a.threads
            ));
        }
        if a.pipeline == 0 || a.pipeline > 100_000 {
            return Err(format!(
                "--pipeline must be between 1 and 100000, got {}",
                a.pipeline
            ));
        }
        if a.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if a.verify && a.keys < a.connections as u64 {
            return Err(format!(
                "--verify gives each key to one connection: --keys ({}) must be at least --connections ({})",
                a.keys, a.connections
            ));
        }
        if a.verify && a.keys > MAX_VERIFY_KEYS {
            return Err(format!(
                "--verify remembers 8 bytes per key per thread: --keys may be at most {MAX_VERIFY_KEYS} with it"
            ));
        }
        if a.protocol == Protocol::Text {
            if a.ttl.is_some() {
                return Err("--ttl needs --protocol resp: the text protocol has no expiry".into());
            }
            if a.key_prefix.contains([' ', '\n', '\r']) {
                return Err(
                    "--key-prefix may not contain spaces or newlines with --protocol text".into(),
                );
            }
        }
        if a.scan.is_some() && a.distribution == Distribution::Sequential {
            return Err(
                "--scan needs --distribution uniform or zipf:S: a sequential run already visits every key once per pass"
                    .into(),
            );
        }
        if a.tx.is_some() && (a.verify || a.cache_aside || a.protocol == Protocol::Text) {
            return Err(
                "--tx works with --protocol resp, without --verify or --cache-aside".into(),
            );
        }
        if a.data_type != DataType::String
            && (a.verify
                || a.cache_aside
                || a.tx.is_some()
                || a.ttl.is_some()
                || a.protocol == Protocol::Text
                || a.fields == 0)
        {
            return Err(
                "--data-type hash|set works with --protocol resp and --fields >= 1, without --verify, --cache-aside, --tx or --ttl"
                    .into(),
            );
        }
        if a.ttl == Some(0) {
            return Err("--ttl must be at least 1 second (Redis refuses SET ... EX 0)".into());
        }
        if let Some(rate) = a.rate {
            if !rate.is_finite() || rate <= 0.0 {
                return Err(format!(
                    "--rate must be a number of requests per second > 0, got {rate}"
                ));
            }
        }
        let stop = match (a.duration, a.requests) {
            (_, Some(0)) => return Err("--requests must be at least 1".into()),
            (_, Some(n)) => Stop::Requests(n),
            (Some(d), None) => {
                let d = seconds("duration", d)?;
                if d.is_zero() {
                    return Err("--duration must be more than 0 seconds".into());
                }
                Stop::After(d)
            }
            (None, None) => Stop::After(Duration::from_secs(10)),
        };
        let timeout = seconds("timeout", a.timeout)?;
        let slow_us = match a.slow_log {
            None => None,
            Some(ms) if !ms.is_finite() || !(0.0..=1e7).contains(&ms) => {
                return Err(format!("--slow-log must be between 0 and 1e7 ms, not {ms}"))
            }
            Some(_) if a.report_dir.is_none() => {
                return Err("--slow-log writes slow.csv into --report-dir: give one".into())
            }
            Some(ms) => Some((ms * 1000.0) as u64),
        };
        if timeout < Duration::from_millis(10) {
            return Err("--timeout must be at least 0.01 seconds".into());
        }
        let cpus = match a.cpus {
            Some(list) => {
                if let Some(bad) = list.iter().find(|c| !available.contains(c)) {
                    return Err(format!(
                        "--cpus: CPU {bad} is not one this process may run on ({available:?})"
                    ));
                }
                list
            }
            None => available.to_vec(),
        };
        if cpus.is_empty() {
            return Err("no CPU to run on".into());
        }
        let port = a.port.unwrap_or(match a.protocol {
            Protocol::Resp => 6379,
            Protocol::Text => 7171,
        });
        Ok(Plan {
            label: a.label.unwrap_or_else(|| format!("{}:{port}", a.host)),
            host: a.host,
            port,
            threads: a.threads,
            connections: a.connections,
            pipeline: a.pipeline,
            ratio: a.ratio,
            keys: a.keys,
            key_names: KeyNames::new(a.key_prefix.into_bytes(), a.hash_mod)?,
            distribution: a.distribution,
            scan: a.scan,
            value_size: a.value_size,
            ttl: a.ttl,
            stop,
            warmup: seconds("warmup", a.warmup)?,
            prefill: a.prefill,
            protocol: a.protocol,
            data_type: a.data_type,
            fields: a.fields,
            rate: a.rate,
            verify: a.verify,
            cache_aside: a.cache_aside,
            tx: a.tx,
            seed: a.seed,
            report_dir: a.report_dir,
            slow_us,
            timeout,
            cpus,
            quiet: a.quiet,
        })
    }

    /// Connections of thread `t`, as global connection numbers.
    pub fn thread_connections(&self, t: usize) -> std::ops::Range<usize> {
        let base = self.connections / self.threads;
        let extra = self.connections % self.threads;
        let start = t * base + t.min(extra);
        start..start + base + usize::from(t < extra)
    }

    /// Measured requests for connection `c` under `--requests`.
    pub fn requests_of(&self, c: usize) -> Option<u64> {
        match self.stop {
            Stop::Requests(n) => {
                let conns = self.connections as u64;
                Some(n / conns + u64::from((c as u64) < n % conns))
            }
            Stop::After(_) => None,
        }
    }

    /// The CPU thread `t` is pinned to.
    pub fn cpu_of(&self, t: usize) -> usize {
        self.cpus[t % self.cpus.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan, String> {
        let mut argv = vec!["stairkv-bench"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Plan::new(cli.run, &[0, 1])
    }

    #[test]
    fn defaults_are_redis_benchmark_like() {
        let p = plan(&[]).expect("defaults");
        assert_eq!(p.port, 6379);
        assert_eq!(p.connections, 50);
        assert_eq!(p.pipeline, 1);
        assert_eq!(p.ratio, Ratio { sets: 1, gets: 1 });
        assert_eq!(p.keys, 1_000_000);
        assert_eq!(p.distribution, Distribution::Uniform);
        assert_eq!(p.value_size, ValueSize { min: 32, max: 32 });
        assert_eq!(p.stop, Stop::After(Duration::from_secs(10)));
        assert_eq!(p.cpus, [0, 1]);
        assert_eq!(p.label, "127.0.0.1:6379");
        assert_eq!(p.key_names.filter(), None);
        let p = plan(&["--hash-mod", "2:1"]).expect("hash-mod");
        assert_eq!(p.key_names.filter(), Some(HashMod { n: 2, r: 1 }));
        assert_eq!(plan(&["--protocol", "text"]).expect("text").port, 7171);
    }

    #[test]
    fn flags_parse() {
        let p = plan(&[
            "--threads",
            "2",
            "-c",
            "7",
            "-P",
            "16",
            "--ratio",
            "1:10",
            "--keys",
            "100",
            "--distribution",
            "zipf:0.8",
            "--value-size",
            "10-20",
            "--ttl",
            "5",
            "-n",
            "1000",
            "--warmup",
            "0.5",
            "--prefill",
            "--rate",
            "5000",
            "--verify",
            "--seed",
            "9",
            "--cpus",
            "1",
            "--label",
            "x",
            "--timeout",
            "2",
        ])
        .expect("flags");
        assert_eq!(p.stop, Stop::Requests(1000));
        assert_eq!(p.distribution, Distribution::Zipf(0.8));
        assert_eq!(p.scan, None);
        assert_eq!(p.cpus, [1]);
        assert_eq!(p.cpu_of(1), 1);
        assert_eq!(p.rate, Some(5000.0));
        assert_eq!(p.warmup, Duration::from_millis(500));
        // 7 connections over 2 threads: 4 + 3, numbered without gaps.
        assert_eq!(p.thread_connections(0), 0..4);
        assert_eq!(p.thread_connections(1), 4..7);
        let shares: u64 = (0..7).filter_map(|c| p.requests_of(c)).sum();
        assert_eq!(shares, 1000);
    }

    #[test]
    fn scan_flag_takes_a_value_or_the_default() {
        let scan = |args: &[&str]| plan(args).expect("scan").scan;
        assert_eq!(scan(&[]), None);
        let default = Some(Scan {
            every: 10_000,
            len: 2000,
        });
        assert_eq!(scan(&["--scan"]), default);
        // A bare --scan does not swallow the next flag.
        assert_eq!(scan(&["--scan", "--keys", "10"]), default);
        assert_eq!(scan(&["--keys", "10", "--scan"]), default);
        let some = Some(Scan { every: 50, len: 7 });
        assert_eq!(scan(&["--scan", "50:7"]), some);
        assert_eq!(scan(&["--scan=50:7", "--distribution", "zipf:0.99"]), some);
        assert_eq!(scan(&["--scan", "50:7", "--cache-aside", "--verify"]), some);
    }

    #[test]
    fn bad_flags_are_explained() {
        let cases: &[(&[&str], &str)] = &[
            (&["--threads", "0"], "--threads"),
            (
                &["--threads", "2", "-c", "1"],
                "every thread needs a connection",
            ),
            (&["-P", "0"], "--pipeline"),
            (&["--keys", "0"], "--keys"),
            (&["--verify", "--keys", "10"], "one connection"),
            (&["--verify", "--keys", "100000000000"], "at most"),
            (&["--protocol", "text", "--ttl", "5"], "no expiry"),
            (&["--ttl", "0"], "--ttl"),
            (&["--rate=-5"], "--rate"),
            (&["--duration", "0"], "--duration"),
            (&["--duration=-1"], "--duration"),
            (&["-n", "0"], "--requests"),
            (&["--cpus", "7"], "CPU 7"),
            (&["--ratio", "0:0"], "sends nothing"),
            (&["--distribution", "gauss"], "unknown distribution"),
            (&["--scan", "0:5"], "between 1 and"),
            (&["--scan", "5"], "EVERY:LEN"),
            (
                &["--scan", "--distribution", "sequential"],
                "--scan needs --distribution uniform or zipf",
            ),
            (&["--value-size", "0"], "value size"),
            (&["--duration", "5", "-n", "5"], "cannot be used with"),
            (&["--timeout", "0"], "--timeout"),
            (&["--hash-mod", "0:0"], "between 1 and"),
            (&["--hash-mod", "2:2"], "less than N"),
            (&["--hash-mod", "2"], "N:R"),
            (&["--hash-mod", "2:0", "--key-prefix", "{a}"], "hash tag"),
            (&["--slow-log", "5"], "--report-dir"),
            (&["--slow-log=-1", "--report-dir", "x"], "--slow-log"),
        ];
        for (args, want) in cases {
            let err = plan(args).expect_err(&format!("{args:?} should fail"));
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn plot_subcommand_parses() {
        let cli =
            Cli::try_parse_from(["stairkv-bench", "plot", "a/", "b.hgrm=redis", "-o", "x.svg"])
                .expect("plot");
        let Some(Command::Plot(p)) = cli.command else {
            panic!("expected plot");
        };
        assert_eq!(p.inputs, ["a/", "b.hgrm=redis"]);
        assert_eq!(p.out, PathBuf::from("x.svg"));
    }
}
