// bee-queue 2.0.0 (node_redis 3 underneath), unchanged, against a server on
// 127.0.0.1:<port>: `node bee_queue.mjs <port> [jobs] [concurrency]` (500
// jobs, 3 at a time per worker by default).
//
// Six worker Queues (each its own command, blocking and no event connection;
// on stairkv three on each core, by CLIENT INFO's core=) process jobs
// `concurrency` at a time, each waiting with BRPOPLPUSH waiting -> active
// (that many pipelined on the one blocking connection). Three producer Queues (subscribed to the
// queue's events channel) save jobs one by one (Job#save, EVALSHA addJob)
// and in batches (Queue#saveAll). Every job carries a payload the handler
// checks; job i with i % 7 == 3 fails its first attempt and i % 23 == 5 fails
// every attempt (bee-queue retries them, retries(2), immediate backoff:
// LPUSH back to waiting inside the finishing MULTI, no sorted set).
//
// In two phases: after the first phase's jobs are all settled and every
// worker waits again, one worker Queue is closed while it waits (its blocking
// connection dropped mid-BRPOPLPUSH); the second phase's jobs must all be done
// by the others. Then checks: every job ran exactly its planned attempts, never
// twice at once, by no closed worker; every producer heard every event once;
// what bee-queue left in the server (waiting/active empty, succeeded/failed
// sets, the jobs hash with each job's status, retries left and stack traces);
// Queue#getJobs over SSCAN; Queue#destroy. Prints one line of JSON (top-level
// numbers first, lists and objects last, `problems` and `ok` at the end);
// exits 1 on any mismatch or error.
//
// Features that need sorted sets (Queue#checkHealth: ZCARD; Queue#removeJob:
// ZREM; delayed jobs: ZADD) are only probed at the end and reported under
// `zset_probes`, never counted as failures.
import Queue from 'bee-queue';
import { createClient } from 'redis';

const port = Number(process.argv[2]);
const total = Number(process.argv[3] ?? 500);
const CONCURRENCY = Number(process.argv[4] ?? 3);
if (![port, total, CONCURRENCY].every(Number.isInteger) || total < 20 || CONCURRENCY < 1) {
  console.error('usage: node bee_queue.mjs <port> [jobs >= 20] [concurrency >= 1]');
  process.exit(2);
}
const PRODUCERS = 3;
const WORKERS = 6;
const RETRIES = 2;
const BATCH = 25;
const name = `stairkv-bq-${process.pid}`;
const redisOpts = { host: '127.0.0.1', port };
const keyOf = (k) => `bq:${name}:${k}`;

const problems = [];
const problem = (msg) => {
  if (problems.length < 50) problems.push(msg);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What job i is: its kind, planned attempts and payload.
const kindOf = (i) => (i % 23 === 5 ? 'fatal' : i % 7 === 3 ? 'flaky' : 'ok');
const plannedAttempts = { ok: 1, flaky: 2, fatal: RETRIES + 1 };
function payloadOf(i) {
  let x = (i * 2654435761) >>> 0 || 1;
  const len = 16 + ((i * 7919) % 3000);
  let s = '';
  for (let n = 0; n < len; n++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    s += String.fromCharCode(33 + (x % 94));
  }
  return s;
}
function checksum(s) {
  let h = 0;
  for (let n = 0; n < s.length; n++) h = (h * 31 + s.charCodeAt(n)) >>> 0;
  return h;
}

const summary = {
  server: 'unknown',
  jobs: total,
  producers: PRODUCERS,
  workers: WORKERS,
  concurrency: CONCURRENCY,
  retries: RETRIES,
};

// Job bookkeeping, by index i and by bee-queue's id.
const idToIndex = new Map();
const saved = new Map(); // i -> id
const attempts = new Map(); // id -> [{ worker, attempt, phase }]
const workerOutcome = new Map(); // id -> { succeeded, retrying, fatal }
const inFlight = new Set();
let phase = 1;

const admin = createClient({ url: `redis://127.0.0.1:${port}` });
admin.on('error', (e) => problem(`admin client: ${e.message}`));

function blockedClients() {
  return admin
    .info('clients')
    .then((t) => Number(/blocked_clients:(\d+)/.exec(t)?.[1] ?? -1));
}

// What the queue's lists hold and how many clients wait, for a report.
async function queueState() {
  const [waiting, active, blocked] = await Promise.all([
    admin.lRange(keyOf('waiting'), 0, 20),
    admin.lRange(keyOf('active'), 0, 20),
    blockedClients(),
  ]);
  return `waiting [${waiting}], active [${active}], blocked_clients ${blocked}`;
}

async function waitFor(what, test, ms = 20000) {
  const start = Date.now();
  for (;;) {
    if (await test()) return true;
    if (Date.now() - start > ms) {
      problem(`timed out waiting for ${what}: ${await queueState()}`);
      return false;
    }
    await sleep(10);
  }
}

// A raw command on one of a Queue's node_redis 3 clients.
const raw = (client, cmd, args) =>
  new Promise((resolve, reject) =>
    client.send_command(cmd, args, (err, v) => (err ? reject(err) : resolve(v)))
  );

// Worker Queues, balanced over the server's cores by their blocking
// connection's core (a Queue landing on a full core is closed and made again).
const workers = [];
const perCore = new Map();
async function makeWorker(k) {
  for (let tries = 0; tries < 200; tries++) {
    const q = new Queue(name, {
      redis: redisOpts,
      isWorker: true,
      getEvents: false,
      sendEvents: true,
      storeJobs: false,
    });
    q.on('error', (e) => problem(`worker ${k}: error event: ${e.message}`));
    await q.ready();
    const info = String(await raw(q.bclient, 'client', ['info']));
    const core = / core=(\d+)/.exec(info)?.[1] ?? 'n/a';
    const want = Math.ceil(WORKERS / 2);
    if (core === 'n/a' || (perCore.get(core) ?? 0) < want) {
      perCore.set(core, (perCore.get(core) ?? 0) + 1);
      return { q, k, core, closed: false };
    }
    await q.close();
  }
  throw new Error('could not place a worker on every core');
}

function startWorker(w) {
  const { q, k } = w;
  const outcome = (job) => {
    let o = workerOutcome.get(job.id);
    if (!o) workerOutcome.set(job.id, (o = { succeeded: 0, retrying: 0, fatal: 0 }));
    return o;
  };
  q.on('succeeded', (job, result) => {
    outcome(job).succeeded++;
    // (The id's index is checked at the end: a batch's ids are known to
    // this script only once the whole batch is saved.)
    const i = job.data.i;
    if (!result || result.i !== i || result.sum !== checksum(payloadOf(i))) {
      problem(`job ${job.id}: result ${JSON.stringify(result)}`);
    }
  });
  q.on('retrying', (job) => void outcome(job).retrying++);
  q.on('failed:fatal', (job) => void outcome(job).fatal++);
  q.on('stalled', (id) => problem(`job ${id} reported stalled`));
  q.process(CONCURRENCY, async (job) => {
    const id = job.id;
    if (w.closed) problem(`job ${id} ran on closed worker ${k}`);
    if (inFlight.has(id)) problem(`job ${id} running twice at once`);
    inFlight.add(id);
    try {
      const i = job.data.i;
      const p = payloadOf(i);
      if (job.data.payload !== p || job.data.sum !== checksum(p)) {
        problem(`job ${id}: payload changed on the way`);
      }
      let list = attempts.get(id);
      if (!list) attempts.set(id, (list = []));
      // Attempt number from the retries bee-queue stored back in the jobs hash.
      const attempt = RETRIES - job.options.retries + 1;
      list.push({ worker: k, attempt, phase, i });
      if (list.length !== attempt) {
        problem(`job ${id}: run ${list.length} but stored retries say attempt ${attempt}`);
      }
      await sleep(Math.floor(Math.random() * 4));
      const kind = kindOf(i);
      if (kind === 'fatal' || (kind === 'flaky' && attempt === 1)) {
        throw new Error(`planned failure of job ${i} attempt ${attempt}`);
      }
      return { i, sum: job.data.sum };
    } finally {
      inFlight.delete(id);
    }
  });
}

// Producer Queues and what each hears on the events channel.
const producers = [];
function makeProducer(k) {
  const q = new Queue(name, {
    redis: redisOpts,
    isWorker: false,
    getEvents: true,
    storeJobs: false,
  });
  const heard = new Map(); // id -> { succeeded, retrying, failed }
  const ev = (id) => {
    let h = heard.get(id);
    if (!h) heard.set(id, (h = { succeeded: 0, retrying: 0, failed: 0 }));
    return h;
  };
  q.on('error', (e) => problem(`producer ${k}: error event: ${e.message}`));
  q.on('job succeeded', (id, result) => {
    const h = ev(id);
    h.succeeded++;
    h.result = result;
  });
  q.on('job retrying', (id) => void ev(id).retrying++);
  q.on('job failed', (id) => void ev(id).failed++);
  return { q, k, heard };
}

const jobData = (i) => {
  const payload = payloadOf(i);
  return { i, payload, sum: checksum(payload) };
};
function remember(i, job) {
  if (!job.id) {
    problem(`job ${i} saved without an id`);
    return;
  }
  if (idToIndex.has(job.id)) problem(`id ${job.id} given twice`);
  idToIndex.set(job.id, i);
  saved.set(i, job.id);
}

// Jobs [from, to): producer i % PRODUCERS saves them, its first half one by
// one (concurrently), the rest with saveAll in batches.
async function produce(from, to) {
  await Promise.all(
    producers.map(async ({ q, k }) => {
      const mine = [];
      for (let i = from; i < to; i++) if (i % PRODUCERS === k) mine.push(i);
      const half = Math.floor(mine.length / 2);
      const single = mine.slice(0, half).map(async (i) => {
        const job = await q.createJob(jobData(i)).retries(RETRIES).save();
        remember(i, job);
      });
      const batched = (async () => {
        const rest = mine.slice(half);
        for (let b = 0; b < rest.length; b += BATCH) {
          const jobs = rest.slice(b, b + BATCH).map((i) => [i, q.createJob(jobData(i)).retries(RETRIES)]);
          const errors = await q.saveAll(jobs.map(([, j]) => j));
          for (const [job, err] of errors) problem(`saveAll: job ${job.data.i}: ${err.message}`);
          for (const [i, j] of jobs) remember(i, j);
        }
      })();
      await Promise.all([...single, batched]);
    })
  );
}

// Every job of [from, to) settled for the workers and heard of by every producer.
function settled(from, to) {
  for (let i = from; i < to; i++) {
    const id = saved.get(i);
    if (!id) return false;
    const o = workerOutcome.get(id);
    if (!o || o.succeeded + o.fatal === 0) return false;
    for (const p of producers) {
      // `failed` is published for a job's last failure only (`retrying` before).
      const h = p.heard.get(id);
      if (!h || h.succeeded + h.failed === 0) return false;
    }
  }
  return true;
}

async function main() {
  await admin.connect();
  const serverInfo = await admin.info('server');
  summary.server = /stairkv/i.test(serverInfo) ? 'stairkv' : 'redis';
  await admin.del(
    ['id', 'jobs', 'stallBlock', 'stalling', 'waiting', 'active', 'succeeded', 'failed', 'delayed'].map(keyOf)
  );

  for (let k = 0; k < WORKERS; k++) workers.push(await makeWorker(k));
  summary.worker_cores = workers.map((w) => w.core);
  for (let k = 0; k < PRODUCERS; k++) producers.push(makeProducer(k));
  await Promise.all(producers.map((p) => p.q.ready()));
  const baseBlocked = await blockedClients();
  workers.forEach(startWorker);
  await waitFor(`${WORKERS} workers waiting`, async () => (await blockedClients()) === baseBlocked + WORKERS);

  // Phase 1.
  const split = Math.floor((total * 3) / 5);
  await produce(0, split);
  await waitFor('phase 1 settled', async () => settled(0, split), 30000);
  summary.blocked_before_close =
    (await waitFor('workers waiting again', async () => (await blockedClients()) === baseBlocked + WORKERS))
      ? WORKERS
      : (await blockedClients()) - baseBlocked;

  // Close a worker while it waits: on stairkv one on core 1 (the other core
  // than core 0's first worker), else the last.
  const quitter = workers.find((w) => w.core === '1') ?? workers[workers.length - 1];
  summary.closed_worker = quitter.k;
  summary.closed_worker_attempts_before = [...attempts.values()].flat().filter((a) => a.worker === quitter.k).length;
  await quitter.q.close();
  quitter.closed = true;
  await waitFor('the closed worker no longer waiting', async () => (await blockedClients()) === baseBlocked + WORKERS - 1);
  summary.blocked_after_close = (await blockedClients()) - baseBlocked;

  // Phase 2: only the others may take these.
  phase = 2;
  await produce(split, total);
  await waitFor('phase 2 settled', async () => settled(split, total), 30000);
  await sleep(100); // any duplicate event or run would show up by now

  // Exactly-once accounting.
  let succeeded = 0;
  let failed = 0;
  let retried = 0;
  let runs = 0;
  let planned = 0;
  let exact = 0;
  const perWorker = workers.map(() => 0);
  const perCoreRuns = {};
  let phase2OnClosed = 0;
  for (let i = 0; i < total; i++) {
    const id = saved.get(i);
    const kind = kindOf(i);
    const want = plannedAttempts[kind];
    planned += want;
    const list = attempts.get(id) ?? [];
    runs += list.length;
    const o = workerOutcome.get(id) ?? { succeeded: 0, retrying: 0, fatal: 0 };
    succeeded += o.succeeded;
    failed += o.fatal;
    retried += o.retrying;
    const wantOutcome = kind === 'fatal' ? { succeeded: 0, retrying: RETRIES, fatal: 1 } : { succeeded: 1, retrying: kind === 'flaky' ? 1 : 0, fatal: 0 };
    const okRuns = list.length === want && list.every((a, n) => a.attempt === n + 1 && a.i === i);
    const okOutcome = JSON.stringify(o) === JSON.stringify(wantOutcome);
    if (okRuns && okOutcome) exact++;
    else problem(`job ${i} (id ${id}, ${kind}): runs ${JSON.stringify(list)}, outcome ${JSON.stringify(o)}`);
    for (const a of list) {
      perWorker[a.worker]++;
      const core = workers[a.worker].core;
      perCoreRuns[core] = (perCoreRuns[core] ?? 0) + 1;
      if (a.worker === quitter.k && a.phase === 2) phase2OnClosed++;
    }
    for (const p of producers) {
      const h = p.heard.get(id) ?? { succeeded: 0, retrying: 0, failed: 0 };
      // bee-queue publishes `retrying` for a failed attempt with retries
      // left and `failed` for the last one.
      // A success's event carries the handler's result.
      const wantHeard = { succeeded: wantOutcome.succeeded, retrying: wantOutcome.retrying, failed: wantOutcome.fatal };
      const gotHeard = { succeeded: h.succeeded, retrying: h.retrying, failed: h.failed };
      const resultOk = kind === 'fatal' || (h.result?.i === i && h.result?.sum === checksum(payloadOf(i)));
      if (JSON.stringify(gotHeard) !== JSON.stringify(wantHeard) || !resultOk) {
        problem(`producer ${p.k} heard job ${id} (${kind}): ${JSON.stringify(h)}`);
      }
    }
  }
  if (idToIndex.size !== total) problem(`${idToIndex.size} ids for ${total} jobs`);
  const ids = [...idToIndex.keys()].map(Number).sort((a, b) => a - b);
  if (ids[0] !== 1 || ids[ids.length - 1] !== total) problem(`ids not 1..${total}`);
  const heardTotals = producers.map((p) => {
    const t = { succeeded: 0, retrying: 0, failed: 0 };
    for (const h of p.heard.values()) for (const f in t) t[f] += h[f];
    return t;
  });
  if (phase2OnClosed) problem(`the closed worker ran ${phase2OnClosed} phase-2 attempts`);
  Object.assign(summary, {
    succeeded,
    failed,
    retried,
    runs,
    planned_runs: planned,
    exactly_once: exact,
    phase1_jobs: split,
    phase2_jobs: total - split,
    phase2_runs_on_closed_worker: phase2OnClosed,
    cores_with_runs: Object.keys(perCoreRuns).length,
  });

  // What bee-queue left in the server.
  const [waiting, active, succSet, failSet, jobsLen, lastId, stalling] = await Promise.all([
    admin.lLen(keyOf('waiting')),
    admin.lLen(keyOf('active')),
    admin.sCard(keyOf('succeeded')),
    admin.sCard(keyOf('failed')),
    admin.hLen(keyOf('jobs')),
    admin.get(keyOf('id')),
    admin.sCard(keyOf('stalling')),
  ]);
  Object.assign(summary, {
    left_waiting: waiting,
    left_active: active,
    succeeded_set: succSet,
    failed_set: failSet,
    jobs_hash: jobsLen,
    last_id: Number(lastId),
    stalling_set: stalling,
  });
  if (waiting !== 0 || active !== 0) problem(`left: waiting ${waiting}, active ${active}`);
  if (succSet !== succeeded || failSet !== failed) problem(`sets: succeeded ${succSet}, failed ${failSet}`);
  if (jobsLen !== total || Number(lastId) !== total) problem(`jobs hash ${jobsLen}, id ${lastId}`);
  const stored = await admin.hGetAll(keyOf('jobs'));
  let storedOk = 0;
  for (const [id, text] of Object.entries(stored)) {
    const i = idToIndex.get(id);
    const kind = kindOf(i);
    const d = JSON.parse(text);
    const want = {
      status: kind === 'fatal' ? 'failed' : 'succeeded',
      retries: kind === 'fatal' ? 0 : kind === 'flaky' ? RETRIES - 1 : RETRIES,
      traces: plannedAttempts[kind] - (kind === 'fatal' ? 0 : 1),
    };
    const got = { status: d.status, retries: d.options.retries, traces: d.options.stacktraces.length };
    if (d.data.i === i && d.data.sum === checksum(payloadOf(i)) && JSON.stringify(got) === JSON.stringify(want)) storedOk++;
    else problem(`stored job ${id}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  summary.stored_jobs_ok = storedOk;

  // Queue#getJobs: SSCAN over the succeeded and failed sets, HMGET.
  const p0 = producers[0].q;
  const listed = await p0.getJobs('succeeded', { size: total });
  const listedFailed = await p0.getJobs('failed', { size: total });
  summary.get_jobs_succeeded = new Set(listed.map((j) => j.id)).size;
  summary.get_jobs_failed = new Set(listedFailed.map((j) => j.id)).size;
  if (summary.get_jobs_succeeded !== succeeded || summary.get_jobs_failed !== failed) {
    problem(`getJobs: ${summary.get_jobs_succeeded} succeeded, ${summary.get_jobs_failed} failed`);
  }
  if (listedFailed.some((j) => kindOf(j.data.i) !== 'fatal')) problem('getJobs(failed) lists a job that succeeded');
  // A stall check now finds nothing to put back.
  summary.stalled_on_check = await workers.find((w) => !w.closed).q.checkStalledJobs();
  if (summary.stalled_on_check !== 0) problem(`checkStalledJobs put back ${summary.stalled_on_check} jobs`);

  // Sorted-set features, probed only.
  const probe = async (f) => {
    try {
      return `ok ${JSON.stringify(await f())}`;
    } catch (e) {
      return `error: ${e.message}`;
    }
  };
  summary.zset_probes = {
    checkHealth: await probe(() => p0.checkHealth()),
    removeJob: await probe(() => p0.removeJob(saved.get(0)).then(() => 'removed')),
    delayedJob: await probe(() =>
      p0.createJob({ i: -1 }).delayUntil(Date.now() + 3600_000).save().then((j) => j.id)
    ),
  };

  // Queue#destroy deletes every key of the queue.
  await p0.destroy();
  summary.keys_after_destroy = await admin.exists(
    ['id', 'jobs', 'stallBlock', 'stalling', 'waiting', 'active', 'succeeded', 'failed', 'delayed'].map(keyOf)
  );
  if (summary.keys_after_destroy !== 0) problem(`${summary.keys_after_destroy} keys left after destroy`);

  summary.runs_per_worker = perWorker;
  summary.runs_per_core = perCoreRuns;
  summary.events_heard = heardTotals;
  await Promise.all(workers.filter((w) => !w.closed).map((w) => w.q.close()));
  await Promise.all(producers.map((p) => p.q.close()));
  await admin.quit();
}

const watchdog = setTimeout(() => {
  problem('timed out (120 s)');
  finish(1);
}, 120000);

function finish(code) {
  summary.problems = problems;
  summary.ok = problems.length === 0 && code === 0;
  console.log(JSON.stringify(summary));
  process.exit(summary.ok ? 0 : 1);
}

main().then(
  () => {
    clearTimeout(watchdog);
    finish(0);
  },
  (e) => {
    problem(`error: ${e.stack || e.message}`);
    finish(1);
  }
);
